package broker

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestMessageCounters: publishing, routing, returns, confirms, gets,
// deliveries, a redelivery and acks through amqp091-go move the channel's,
// queue's and exchanges' counters and the node's totals by exactly what
// happened, for a classic and a quorum queue; the totals keep what closed
// channels counted.
func TestMessageCounters(t *testing.T) {
	for _, typ := range []string{"classic", "quorum"} {
		t.Run(typ, func(t *testing.T) {
			s := startServer(t)
			before := s.Totals()
			c := dial(t, s)
			pub := openChannel(t, c)
			if _, err := pub.QueueDeclare("cq", true, false, false, false, amqp.Table{"x-queue-type": typ}); err != nil {
				t.Fatal(err)
			}
			if _, err := pub.QueueDeclare("cq", true, false, false, false, amqp.Table{"x-queue-type": typ}); err != nil {
				t.Fatal(err)
			}
			if err := pub.ExchangeDeclare("cx", "direct", false, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			if err := pub.QueueBind("cq", "k", "cx", false, nil); err != nil {
				t.Fatal(err)
			}
			publishCounted(t, pub)

			con := openChannel(t, c)
			getAndConsume(t, con)

			chans := s.Channels()
			if len(chans) != 2 {
				t.Fatalf("%d channels listed, want 2", len(chans))
			}
			wantPub := MessageStats{Publish: 9, Confirm: 9, ReturnUnroutable: 1, DropUnroutable: 1}
			wantCon := MessageStats{Deliver: 6, Get: 1, GetNoAck: 1, GetEmpty: 1, Redeliver: 1, Ack: 6}
			if chans[0].Stats != wantPub {
				t.Errorf("publishing channel: %+v, want %+v", chans[0].Stats, wantPub)
			}
			if chans[1].Stats != wantCon {
				t.Errorf("consuming channel: %+v, want %+v", chans[1].Stats, wantCon)
			}
			qs := s.Queues(context.Background(), "/")
			if len(qs) != 1 {
				t.Fatalf("queues %+v", qs)
			}
			wantQ := wantCon
			wantQ.Publish = 7
			if qs[0].MessageStats != wantQ {
				t.Errorf("queue: %+v, want %+v", qs[0].MessageStats, wantQ)
			}
			samples := s.QueueSamples(context.Background(), nil)
			if len(samples) != 1 || samples[0].Vhost != "/" || samples[0].Name != "cq" || !samples[0].Running ||
				samples[0].MessageStats != wantQ || samples[0].Ready != uint64(qs[0].Stats.Ready) ||
				samples[0].Unacked != uint64(qs[0].Stats.Unacked) {
				t.Errorf("QueueSamples = %+v, want the queue's %+v and depths %+v", samples, wantQ, qs[0].Stats)
			}
			xs := map[string]MessageStats{}
			for _, x := range s.Exchanges("/") {
				xs[x.Name] = x.MessageStats
			}
			if want := (MessageStats{PublishIn: 7, PublishOut: 5, Confirm: 7, ReturnUnroutable: 1, DropUnroutable: 1}); xs["cx"] != want {
				t.Errorf("exchange cx: %+v, want %+v", xs["cx"], want)
			}
			if want := (MessageStats{PublishIn: 2, PublishOut: 2, Confirm: 2}); xs[""] != want {
				t.Errorf("default exchange: %+v, want %+v", xs[""], want)
			}

			if err := pub.Close(); err != nil {
				t.Fatal(err)
			}
			if err := con.Close(); err != nil {
				t.Fatal(err)
			}
			ch := openChannel(t, c)
			if _, err := ch.QueueDelete("cq", false, false, false); err != nil {
				t.Fatal(err)
			}
			c.Close()
			eventually(t, "the connection's close counted", func() bool {
				return s.Totals().ConnectionsClosed == before.ConnectionsClosed+1
			})
			checkTotals(t, typ, before, s.Totals())
		})
	}
}

// publishCounted publishes, in confirm mode, 5 routed messages and 2
// unroutable ones (one mandatory, returned) through cx and 2 through the
// default exchange, and waits for the 9 confirms and the return.
func publishCounted(t *testing.T, ch *amqp.Channel) {
	t.Helper()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 16))
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	send := func(x, key string, mandatory bool) {
		if err := ch.Publish(x, key, mandatory, false, amqp.Publishing{Body: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		send("cx", "k", false)
	}
	send("cx", "nowhere", true)
	send("cx", "nowhere", false)
	send("", "cq", false)
	send("", "cq", false)
	for i := range 9 {
		select {
		case c := <-confirms:
			if !c.Ack {
				t.Fatalf("publish %d nacked", c.DeliveryTag)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("confirm %d of 9 missing", i+1)
		}
	}
	select {
	case <-returns:
	case <-time.After(5 * time.Second):
		t.Fatal("no basic.return")
	}
}

// getAndConsume takes the 7 messages of cq: a get acked, a get no-ack,
// then 5 deliveries to a consumer, the last nacked back and acked when
// redelivered; then a get finds the queue empty.
func getAndConsume(t *testing.T, ch *amqp.Channel) {
	t.Helper()
	d, ok, err := ch.Get("cq", false)
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ch.Get("cq", true); err != nil || !ok {
		t.Fatalf("get no-ack: %v %v", ok, err)
	}
	if err := ch.Qos(10, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume("cq", "k1", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var last amqp.Delivery
	for i := range 5 {
		last = recvOne(t, ds)
		if i == 2 {
			if err := last.Ack(true); err != nil { // the first three at once
				t.Fatal(err)
			}
		}
		if i == 3 {
			if err := last.Ack(false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := last.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	again := recvOne(t, ds)
	if !again.Redelivered {
		t.Fatal("the nacked message came back not redelivered")
	}
	if err := again.Ack(false); err != nil {
		t.Fatal(err)
	}
	if err := ch.Cancel("k1", false); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ch.Get("cq", false); err != nil || ok {
		t.Fatalf("get of the empty queue: %v %v", ok, err)
	}
}

// checkTotals checks the node's totals moved by what TestMessageCounters
// did, its channels and connection closed.
func checkTotals(t *testing.T, typ string, before, after Totals) {
	t.Helper()
	delta := func(a, b uint64) uint64 { return b - a }
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"connections opened", delta(before.ConnectionsOpened, after.ConnectionsOpened), 1},
		{"connections closed", delta(before.ConnectionsClosed, after.ConnectionsClosed), 1},
		{"channels opened", delta(before.ChannelsOpened, after.ChannelsOpened), 3},
		{"channels closed", delta(before.ChannelsClosed, after.ChannelsClosed), 3},
		{"queues declared", delta(before.QueuesDeclared, after.QueuesDeclared), 2},
		{"queues created", delta(before.QueuesCreated, after.QueuesCreated), 1},
		{"queues deleted", delta(before.QueuesDeleted, after.QueuesDeleted), 1},
		{"received", delta(before.Received, after.Received), 9},
		{"received confirm", delta(before.ReceivedConfirm, after.ReceivedConfirm), 9},
		{"routed", delta(before.Routed, after.Routed), 7},
		{"unroutable dropped", delta(before.UnroutableDropped, after.UnroutableDropped), 1},
		{"unroutable returned", delta(before.UnroutableReturned, after.UnroutableReturned), 1},
		{"confirmed", delta(before.Confirmed, after.Confirmed), 9},
	} {
		if c.got != c.want {
			t.Errorf("%s moved by %d, want %d", c.name, c.got, c.want)
		}
	}
	b, a := before.ByQueueType[typ], after.ByQueueType[typ]
	got := DeliveryTotals{
		ConsumeManualAck: a.ConsumeManualAck - b.ConsumeManualAck, ConsumeAutoAck: a.ConsumeAutoAck - b.ConsumeAutoAck,
		GetManualAck: a.GetManualAck - b.GetManualAck, GetAutoAck: a.GetAutoAck - b.GetAutoAck,
		GetEmpty: a.GetEmpty - b.GetEmpty, Redelivered: a.Redelivered - b.Redelivered,
		Acknowledged: a.Acknowledged - b.Acknowledged,
	}
	want := DeliveryTotals{ConsumeManualAck: 6, GetManualAck: 1, GetAutoAck: 1, GetEmpty: 1, Redelivered: 1, Acknowledged: 6}
	if got != want {
		t.Errorf("%s deliveries moved by %+v, want %+v", typ, got, want)
	}
	if after.Publishers != 0 || after.Consumers != 0 {
		t.Errorf("publishers %d, consumers %d with no channel open", after.Publishers, after.Consumers)
	}
}
