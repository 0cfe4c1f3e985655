package classic

import (
	"slices"
	"strconv"
	"testing"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

func TestFIFOAndGet(t *testing.T) {
	h := newHarness(t, nil, Options{})
	h.publish("a", "b", "c")
	h.stats(3, 0, 0)

	d, remaining, ok := h.q.Get(false)
	if !ok || string(d.Message.Body) != "a" || remaining != 2 || d.Redelivered {
		t.Fatalf("Get = %q remaining %d ok %v redelivered %v; want a, 2", d.Message.Body, remaining, ok, d.Redelivered)
	}
	h.stats(2, 1, 0)
	if _, _, ok := h.q.Get(true); !ok {
		t.Fatal("second Get failed")
	}
	h.stats(1, 1, 0) // no-ack Get leaves nothing unacked

	c := newConsumer(-1)
	if err := h.q.Consume(c, queue.ConsumeOptions{Tag: "c"}); err != nil {
		t.Fatal(err)
	}
	h.publish("d", "e")
	if got, want := c.bodies(), []string{"c", "d", "e"}; !slices.Equal(got, want) {
		t.Fatalf("consumer got %v, want %v", got, want)
	}
	h.stats(0, 4, 1)
	if _, _, ok := h.q.Get(false); ok {
		t.Fatal("Get on an empty queue succeeded")
	}
}

func TestNoAckConsumerLeavesNothingUnacked(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := newConsumer(-1)
	if err := h.q.Consume(c, queue.ConsumeOptions{NoAck: true}); err != nil {
		t.Fatal(err)
	}
	h.publish("a", "b")
	h.stats(0, 0, 1)
	if len(c.got) != 2 {
		t.Fatalf("got %d deliveries, want 2", len(c.got))
	}
}

func TestRequeueReturnsToOriginalPosition(t *testing.T) {
	tests := []struct {
		name    string
		requeue []int // which of the three delivered messages (1-based) go back
		want    []string
	}{
		{"one", []int{2}, []string{"2*", "4", "5"}},
		{"all in order", []int{1, 2, 3}, []string{"1*", "2*", "3*", "4", "5"}},
		{"all reversed", []int{3, 2, 1}, []string{"1*", "2*", "3*", "4", "5"}},
		{"gaps", []int{3, 1}, []string{"1*", "3*", "4", "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, Options{})
			h.publish("1", "2", "3", "4", "5")
			var delivered []queue.Delivery
			for range 3 {
				d, _, _ := h.q.Get(false)
				delivered = append(delivered, d)
			}
			var ids []uint64
			for _, i := range tt.requeue {
				ids = append(ids, delivered[i-1].ID)
			}
			h.q.Settle(queue.Requeue, ids)
			h.stats(uint32(2+len(ids)), uint32(3-len(ids)), 0)
			if got := h.drain(); !slices.Equal(got, tt.want) {
				t.Fatalf("after requeue the queue holds %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRequeueDeliversToWaitingConsumer(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := newConsumer(1)
	if err := h.q.Consume(c, queue.ConsumeOptions{Prefetch: 1}); err != nil {
		t.Fatal(err)
	}
	h.publish("a", "b")
	first := c.got[0]
	// The channel nacks with requeue, which gives the credit back.
	c.settled(1)
	h.q.Settle(queue.Requeue, []uint64{first.ID})
	// The requeued message is back at the head, so it goes before b.
	if got := c.bodies(); !slices.Equal(got, []string{"a", "a"}) || !c.got[1].Redelivered {
		t.Fatalf("consumer got %v, want a then a redelivered", got)
	}
	if first.DeliveryCount != 0 || c.got[1].DeliveryCount != 1 {
		t.Fatalf("delivery counts %d then %d, want 0 then 1", first.DeliveryCount, c.got[1].DeliveryCount)
	}
}

func TestPrefetchCreditInQueue(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := newConsumer(2)
	if err := h.q.Consume(c, queue.ConsumeOptions{Prefetch: 2}); err != nil {
		t.Fatal(err)
	}
	h.publish("a", "b", "c", "d")
	if got := c.bodies(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("with prefetch 2 the consumer got %v", got)
	}
	h.stats(2, 2, 1)
	h.ack(c, 0) // the ack gives one credit back: one more delivery
	if got := c.bodies(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after one ack the consumer got %v", got)
	}
	h.stats(1, 2, 1)
	d, _, _ := h.q.Get(false) // basic.get takes no consumer credit
	h.q.Settle(queue.Ack, []uint64{d.ID})
	h.ack(c, 1)
	h.ack(c, 2)
	h.publish("e")
	if got := c.bodies(); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
		t.Fatalf("after acking all the consumer got %v", got)
	}
	h.stats(0, 1, 1)
}

func TestLimiterHoldsBackAndResumes(t *testing.T) {
	h := newHarness(t, nil, Options{})
	lim := &queue.Limiter{}
	lim.SetLimit(1)
	acking, noAck := newConsumer(-1), newConsumer(-1)
	h.q.Consume(acking, queue.ConsumeOptions{Limiter: lim})
	h.publish("a", "b")
	if got := acking.bodies(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("with a channel-wide prefetch of 1 the consumer got %v", got)
	}
	// A no-ack consumer of the same channel is held back by the full
	// channel-wide limit too, as RabbitMQ's limiter does.
	h.q.Consume(noAck, queue.ConsumeOptions{NoAck: true, Limiter: lim})
	if n := len(noAck.bodies()); n != 0 {
		t.Fatalf("no-ack consumer got %d messages past the full limit", n)
	}
	// The channel returns the credit of the ack: the limiter resumes the
	// queue, which delivers b.
	h.q.Settle(queue.Ack, []uint64{acking.got[0].ID})
	lim.Return(1)
	if n := len(acking.bodies()) + len(noAck.bodies()); n != 2 {
		t.Fatalf("after the ack %d messages were delivered, want 2", n)
	}
	h.stats(0, uint32(len(acking.bodies())-1), 2)
}

func TestRoundRobin(t *testing.T) {
	h := newHarness(t, nil, Options{})
	cs := []*fakeConsumer{newConsumer(-1), newConsumer(-1), newConsumer(-1)}
	for _, c := range cs {
		if err := h.q.Consume(c, queue.ConsumeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		h.publish(strconv.Itoa(i))
	}
	want := [][]string{{"0", "3", "6"}, {"1", "4"}, {"2", "5"}}
	for i, c := range cs {
		if got := c.bodies(); !slices.Equal(got, want[i]) {
			t.Errorf("consumer %d got %v, want %v", i, got, want[i])
		}
	}
}

func TestConsumerPriorities(t *testing.T) {
	h := newHarness(t, nil, Options{})
	low := newConsumer(-1)
	high1, high2 := newConsumer(1), newConsumer(1)
	for _, s := range []struct {
		c *fakeConsumer
		p int32
	}{{low, 0}, {high1, 10}, {high2, 10}} {
		prefetch := uint16(max(s.c.credit, 0))
		if err := h.q.Consume(s.c, queue.ConsumeOptions{Priority: s.p, Prefetch: prefetch}); err != nil {
			t.Fatal(err)
		}
	}
	h.publish("1", "2", "3", "4")
	// The two high-priority consumers take one each, then they are blocked
	// and the low-priority one gets the rest.
	if !slices.Equal(high1.bodies(), []string{"1"}) || !slices.Equal(high2.bodies(), []string{"2"}) ||
		!slices.Equal(low.bodies(), []string{"3", "4"}) {
		t.Fatalf("high1 %v high2 %v low %v", high1.bodies(), high2.bodies(), low.bodies())
	}
	h.ack(high2, 0)
	h.publish("5")
	if !slices.Equal(high2.bodies(), []string{"2", "5"}) {
		t.Fatalf("after its ack, high2 got %v; want it to be preferred again", high2.bodies())
	}
}

func TestPriorityQueue(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-max-priority": int32(5)}, Options{})
	for _, m := range []struct {
		body string
		prio uint8
	}{{"p0a", 0}, {"p3a", 3}, {"p9", 9}, {"p5", 5}, {"none", 0}, {"p3b", 3}, {"p0b", 0}} {
		msg := h.msg(m.body)
		if m.body != "none" {
			msg.Props.Priority = m.prio
			msg.Props.Flags = protocol.FlagPriority
		}
		h.q.Publish(msg, queue.Confirm{})
	}
	// 9 is capped at 5 and keeps its arrival order within that level.
	want := []string{"p9", "p5", "p3a", "p3b", "p0a", "none", "p0b"}
	if got := h.drain(); !slices.Equal(got, want) {
		t.Fatalf("priority queue order %v, want %v", got, want)
	}
}

func TestPriorityQueueRequeueKeepsLevel(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-max-priority": int32(2)}, Options{})
	hi := h.msg("hi")
	hi.Props.Priority = 2
	h.q.Publish(hi, queue.Confirm{})
	h.publish("lo")
	d, _, _ := h.q.Get(false)
	h.q.Settle(queue.Requeue, []uint64{d.ID})
	if got := h.drain(); !slices.Equal(got, []string{"hi*", "lo"}) {
		t.Fatalf("got %v, want hi redelivered first", got)
	}
}

func TestSingleActiveConsumer(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-single-active-consumer": true}, Options{})
	first, plain, urgent := newConsumer(-1), newConsumer(-1), newConsumer(-1)
	for _, s := range []struct {
		c *fakeConsumer
		p int32
	}{{first, 0}, {plain, 0}, {urgent, 5}} {
		if err := h.q.Consume(s.c, queue.ConsumeOptions{Priority: s.p}); err != nil {
			t.Fatal(err)
		}
	}
	h.publish("1", "2")
	if len(first.got) != 2 || len(plain.got)+len(urgent.got) != 0 {
		t.Fatalf("only the first consumer should be active: %v %v %v", first.bodies(), plain.bodies(), urgent.bodies())
	}
	h.q.Cancel(first)
	h.publish("3")
	if !slices.Equal(urgent.bodies(), []string{"3"}) {
		t.Fatalf("after the active consumer left, the highest-priority one should take over; got %v / %v", urgent.bodies(), plain.bodies())
	}
	h.q.Cancel(urgent)
	h.publish("4")
	if !slices.Equal(plain.bodies(), []string{"4"}) {
		t.Fatalf("plain consumer got %v, want [4]", plain.bodies())
	}
}

func TestSingleActiveConsumerBlockedHoldsMessages(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-single-active-consumer": true}, Options{})
	active, waiting := newConsumer(1), newConsumer(-1)
	h.q.Consume(active, queue.ConsumeOptions{Prefetch: 1})
	h.q.Consume(waiting, queue.ConsumeOptions{})
	h.publish("1", "2", "3")
	if len(waiting.got) != 0 || len(active.got) != 1 {
		t.Fatalf("a blocked active consumer must not hand its messages to others: %v %v", active.bodies(), waiting.bodies())
	}
	// Failover: the unacked message stays with the old consumer's channel;
	// the ready ones go to the new active consumer.
	h.q.Cancel(active)
	if !slices.Equal(waiting.bodies(), []string{"2", "3"}) {
		t.Fatalf("new active consumer got %v", waiting.bodies())
	}
	h.stats(0, 3, 1)
}

func TestExclusiveConsume(t *testing.T) {
	const inUse = "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use"
	tests := []struct {
		name     string
		args     protocol.Table
		existing []bool // exclusive flag of consumers already subscribed
		excl     bool
		want     string
	}{
		{"first exclusive", nil, nil, true, ""},
		{"exclusive with others", nil, []bool{false}, true, inUse},
		{"after an exclusive one", nil, []bool{true}, false, inUse},
		{"plain with plain", nil, []bool{false}, false, ""},
		{"exclusive on single active consumer queue", protocol.Table{"x-single-active-consumer": true}, nil, true, inUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.args, Options{})
			for _, e := range tt.existing {
				if err := h.q.Consume(newConsumer(-1), queue.ConsumeOptions{Exclusive: e}); err != nil {
					t.Fatal(err)
				}
			}
			err := h.q.Consume(newConsumer(-1), queue.ConsumeOptions{Exclusive: tt.excl})
			if got := errText(err); got != tt.want {
				t.Fatalf("Consume error %q, want %q", got, tt.want)
			}
			if err != nil && err.(*protocol.Error).Code != protocol.AccessRefused {
				t.Fatalf("code %d, want %d", err.(*protocol.Error).Code, protocol.AccessRefused)
			}
		})
	}
}

func TestExclusiveConsumerCancelFreesQueue(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c := newConsumer(-1)
	h.q.Consume(c, queue.ConsumeOptions{Exclusive: true})
	if !h.q.Cancel(c) {
		t.Fatal("Cancel reported the consumer unknown")
	}
	if h.q.Cancel(c) {
		t.Fatal("second Cancel reported success")
	}
	if err := h.q.Consume(newConsumer(-1), queue.ConsumeOptions{}); err != nil {
		t.Fatalf("consume after the exclusive consumer left: %v", err)
	}
}

func TestOverflow(t *testing.T) {
	tests := []struct {
		name     string
		args     protocol.Table
		wantLeft []string
		wantDead []string
		nacked   []uint64
	}{
		{"drop-head by count", protocol.Table{"x-max-length": int32(2), "x-dead-letter-exchange": "dlx"},
			[]string{"b", "c"}, []string{"a"}, nil},
		{"drop-head by bytes", protocol.Table{"x-max-length-bytes": int32(2), "x-dead-letter-exchange": "dlx"},
			[]string{"b", "c"}, []string{"a"}, nil},
		{"drop-head without dlx drops", protocol.Table{"x-max-length": int32(1)},
			[]string{"c"}, nil, nil},
		{"max length zero", protocol.Table{"x-max-length": int32(0), "x-dead-letter-exchange": "dlx"},
			nil, []string{"a", "b", "c"}, nil},
		{"reject-publish", protocol.Table{"x-max-length": int32(2), "x-overflow": "reject-publish", "x-dead-letter-exchange": "dlx"},
			[]string{"a", "b"}, nil, []uint64{3}},
		{"reject-publish-dlx", protocol.Table{"x-max-length": int32(2), "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": "dlx"},
			[]string{"a", "b"}, []string{"c"}, []uint64{3}},
		{"reject-publish by bytes", protocol.Table{"x-max-length-bytes": int32(2), "x-overflow": "reject-publish"},
			[]string{"a", "b"}, nil, []uint64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.args, Options{})
			var cf confirms
			for i, b := range []string{"a", "b", "c"} {
				h.q.Publish(h.msg(b), queue.Confirm{To: &cf, Seq: uint64(i + 1)})
			}
			for seq := uint64(1); seq <= 3; seq++ {
				want := !slices.Contains(tt.nacked, seq)
				if got, ok := cf.got[seq]; !ok || got != want {
					t.Errorf("confirm %d = %v (present %v), want %v", seq, got, ok, want)
				}
			}
			dead, reasons := h.deadLettered()
			if !slices.Equal(dead, tt.wantDead) {
				t.Errorf("dead-lettered %v, want %v", dead, tt.wantDead)
			}
			for _, r := range reasons {
				if r != "maxlen" {
					t.Errorf("dead-letter reason %q, want maxlen", r)
				}
			}
			if got := h.drain(); !slices.Equal(got, tt.wantLeft) {
				t.Errorf("queue holds %v, want %v", got, tt.wantLeft)
			}
		})
	}
}

func TestMaxLengthZeroStillDeliversToConsumer(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-max-length": int32(0)}, Options{})
	c := newConsumer(-1)
	h.q.Consume(c, queue.ConsumeOptions{})
	h.publish("a")
	if !slices.Equal(c.bodies(), []string{"a"}) {
		t.Fatalf("consumer got %v; drop-head delivers before it enqueues", c.bodies())
	}
}

func TestConfirmAck(t *testing.T) {
	h := newHarness(t, nil, Options{})
	var cf confirms
	h.q.Publish(h.msg("a"), queue.Confirm{To: &cf, Seq: 7})
	if ok, present := cf.got[7]; !present || !ok {
		t.Fatalf("confirm = %v present %v, want ack", ok, present)
	}
}
