package broker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// queueStatus returns the status of queue name as node tn reports it.
func queueStatus(t *testing.T, tn *testNode, name string) ClusterQueue {
	t.Helper()
	st, err := tn.admin(testSecret).Status(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatalf("status of %s: %v", tn.name, err)
	}
	for _, q := range st.Queues {
		if q.Name == name {
			return q
		}
	}
	t.Fatalf("%s does not list queue %s", tn.name, name)
	return ClusterQueue{}
}

// readyOn returns how many ready messages node tn's part of queue name
// holds (its replica's count, or nothing where it holds none).
func readyOn(tn *testNode, name string) uint32 {
	v := tn.s.vhost("/")
	v.mu.RLock()
	e := v.queues[name]
	v.mu.RUnlock()
	if e == nil {
		return 0
	}
	return e.q.Stats(context.Background()).Ready
}

// publishConfirmed publishes n persistent messages to q on ch, a channel
// in confirm mode, and waits for their acks.
func publishConfirmed(t *testing.T, ch *amqp.Channel, confirms <-chan amqp.Confirmation, q string, n int) {
	t.Helper()
	for i := range n {
		publish(t, ch, "", q, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(fmt.Sprint(i))})
	}
	for range n {
		select {
		case c := <-confirms:
			if !c.Ack {
				t.Fatalf("publish %d nacked", c.DeliveryTag)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("confirms did not arrive")
		}
	}
}

// TestClusterQuorumMembers: a quorum queue of two members, asked through
// a node that is not one of them, takes the third node, whose replica
// receives the queue; loses a member, whose node then serves it as a
// non-member; refuses to lose its last member; and grows back onto a
// node. Each answer says what changed, the status of every node shows the
// members and the group's voters follow them; bad requests are refused
// with a text that says why.
func TestClusterQuorumMembers(t *testing.T) {
	nodes := startTestCluster(t, 3)
	n1, n2, n3 := nodes[0].name, nodes[1].name, nodes[2].name
	ch := openChannel(t, dial(t, nodes[0].s))
	if _, err := ch.QueueDeclare("qq", true, false, false, false,
		amqp.Table{"x-queue-type": "quorum", "x-quorum-initial-group-size": int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("classic-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	pch := openChannel(t, dial(t, nodes[2].s))
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pch.NotifyPublish(make(chan amqp.Confirmation, 16))
	publishConfirmed(t, pch, confirms, "qq", 10)
	// Node 3 applies the definitions a moment after node 1 answered
	// the declarations: the queue's first leader, elected at once, may
	// confirm the publishes before that.
	eventually(t, "node 3 lists both queues", func() bool {
		st, err := nodes[2].admin(testSecret).Status(ctxFor(t, 5*time.Second))
		n := 0
		for _, q := range st.Queues {
			if q.Name == "qq" || q.Name == "classic-q" {
				n++
			}
		}
		return err == nil && n == 2
	})
	if q := queueStatus(t, nodes[2], "qq"); !slices.Equal(q.Members, []string{n1, n2}) || q.Voters != nil {
		t.Fatalf("before: %+v, want members n1 and n2, and no replica on n3", q)
	}

	ctx := ctxFor(t, 60*time.Second)
	admin := nodes[2].admin(testSecret)
	for _, tc := range []struct {
		name string
		call func() error
		says string
	}{
		{"a missing vhost", func() error { _, err := admin.QuorumAddMember(ctx, "nope", "qq", n3); return err },
			"virtual host 'nope' does not exist"},
		{"a missing queue", func() error { _, err := admin.QuorumAddMember(ctx, "/", "nope", n3); return err },
			"queue 'nope' was not found in virtual host '/'"},
		{"a classic queue", func() error { _, err := admin.QuorumDeleteMember(ctx, "/", "classic-q", n1); return err },
			"queue 'classic-q' in vhost '/' is a classic queue, not a quorum queue"},
		{"an unknown node", func() error { _, err := admin.QuorumAddMember(ctx, "/", "qq", "nobody@nowhere"); return err },
			"node nobody@nowhere is not a member of this cluster"},
		{"grow onto an unknown node", func() error { _, err := admin.QuorumGrow(ctx, "nobody@nowhere"); return err },
			"node nobody@nowhere is not a member of this cluster"},
		{"no node", func() error { _, err := admin.QuorumAddMember(ctx, "/", "qq", ""); return err }, "no node named"},
	} {
		if err := tc.call(); err == nil || err.Error() != tc.says {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.says)
		}
	}

	res, err := admin.QuorumAddMember(ctx, "/", "qq", n3)
	if err != nil || !res.Changed || !slices.Equal(res.Members, []string{n1, n2, n3}) {
		t.Fatalf("add n3: %+v, %v", res, err)
	}
	if res, err := admin.QuorumAddMember(ctx, "/", "qq", n3); err != nil || res.Changed {
		t.Fatalf("adding a member again: %+v, %v; want nothing to do", res, err)
	}
	all := []string{n1, n2, n3}
	for _, tn := range nodes {
		waitFor(t, 10*time.Second, tn.name+" shows three members, three voters", func() bool {
			q := queueStatus(t, tn, "qq")
			return slices.Equal(q.Members, all) && slices.Equal(q.Voters, all)
		})
	}
	waitFor(t, 10*time.Second, "n3's new replica holds the 10 messages", func() bool { return readyOn(nodes[2], "qq") == 10 })

	res, err = admin.QuorumDeleteMember(ctx, "/", "qq", n1)
	if err != nil || !res.Changed || !slices.Equal(res.Members, []string{n2, n3}) {
		t.Fatalf("delete n1: %+v, %v", res, err)
	}
	waitFor(t, 10*time.Second, "the group leaves n1 out, and n1 holds no replica", func() bool {
		return slices.Equal(queueStatus(t, nodes[1], "qq").Voters, []string{n2, n3}) &&
			queueStatus(t, nodes[0], "qq").Voters == nil
	})
	if res, err := admin.QuorumDeleteMember(ctx, "/", "qq", n1); err != nil || res.Changed {
		t.Fatalf("deleting a non-member: %+v, %v; want nothing to do", res, err)
	}
	// n1 serves the queue as a non-member: a publish there is confirmed
	// and all 11 messages are consumed there.
	c1 := openChannel(t, dial(t, nodes[0].s))
	if err := c1.Confirm(false); err != nil {
		t.Fatal(err)
	}
	publishConfirmed(t, c1, c1.NotifyPublish(make(chan amqp.Confirmation, 1)), "qq", 1)
	d, err := c1.Consume("qq", "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 11 {
		recvOne(t, d)
	}

	if _, err := admin.QuorumDeleteMember(ctx, "/", "qq", n2); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.QuorumDeleteMember(ctx, "/", "qq", n3); err == nil ||
		err.Error() != "cannot delete "+n3+", the last member of quorum queue 'qq' in vhost '/'" {
		t.Fatalf("deleting the last member: %v", err)
	}

	grown, err := nodes[1].admin(testSecret).QuorumGrow(ctx, n1)
	if err != nil || len(grown.Queues) != 1 || grown.Queues[0].Queue != "qq" || grown.Queues[0].Error != "" ||
		!slices.Equal(grown.Queues[0].Members, []string{n3, n1}) {
		t.Fatalf("grow onto n1: %+v, %v", grown, err)
	}
	waitFor(t, 10*time.Second, "the group grows onto n1", func() bool {
		return slices.Equal(queueStatus(t, nodes[0], "qq").Voters, []string{n1, n3})
	})
	if grown, err := nodes[1].admin(testSecret).QuorumGrow(ctx, n1); err != nil || len(grown.Queues) != 0 {
		t.Fatalf("growing again: %+v, %v; want no queue to grow", grown, err)
	}
	if m := queueStatus(t, nodes[0], "classic-q").Members; m != nil {
		t.Errorf("grow gave the classic queue members %v", m)
	}
}
