package quorum

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue"
)

// TestLostLeaderNodesDeliveriesReturnSoon: a message checked out to a
// consumer on the leader's node, unacked when that node's process dies
// (its cluster port closed: every stream and link to it breaks), goes to
// a consumer on a survivor as soon as a new leader is elected, not once
// membership declares the node failed (seconds later; this test never
// does), as RabbitMQ returns a disconnected node's checked-out messages
// when its monitors report noconnection. A one-in-flight publisher
// waiting for that message to be consumed would otherwise stall until
// then.
func TestLostLeaderNodesDeliveriesReturnSoon(t *testing.T) {
	c := startMemberCluster(t, 3, "n1", "n2", "n3")
	lead := c.leader("n1", "n2", "n3")
	var live *memberNode
	for _, nd := range c.nodes {
		if nd != lead {
			live = nd
			break
		}
	}
	consume := func(nd *memberNode, tag string) {
		t.Helper()
		if _, err := nd.s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: tag, Prefetch: 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	consume(lead, "on-lost-node")
	c.publish(live, 1)
	body := live.name + "-1"
	lead.o.waitDelivered(t, body)
	consume(live, "on-survivor")

	lost := time.Now()
	lead.port.Close() // the leader's process is gone
	deadline := lost.Add(3 * time.Second)
	for !slices.Contains(live.o.delivered(), body) {
		if time.Now().After(deadline) {
			t.Fatalf("%s, unacked on the lost node, not delivered on %s within 3 s of the loss (delivered %q)",
				body, live.name, live.o.delivered())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("redelivered on the survivor %v after the loss", time.Since(lost).Round(time.Millisecond))
}

// TestUnreachableNodeServedOnceReachable: a node whose link closed while
// its process lives (a network fault) has its consumer's messages given
// back, and its consumer is served again once the leader's probe finds a
// link to it up: a consumer is never left without deliveries because
// its node was unreachable for a moment.
func TestUnreachableNodeServedOnceReachable(t *testing.T) {
	c := startMemberCluster(t, 3, "n1", "n2", "n3")
	lead := c.leader("n1", "n2", "n3")
	var other *memberNode
	for _, nd := range c.nodes {
		if nd != lead {
			other = nd
			break
		}
	}
	if _, err := other.s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "c", Prefetch: 10}, nil); err != nil {
		t.Fatal(err)
	}
	c.publish(lead, 1)
	body := lead.name + "-1"
	other.o.waitDelivered(t, body)

	lead.typ.nodeUnreachable(other.port.Addr())
	// Given back, then delivered again once the probe finds the link up.
	other.o.waitDelivered(t, body, body)
	waitUntil(t, "no unreachable consumers in the leader's state", func() bool {
		lead.q.fsm.mu.Lock()
		defer lead.q.fsm.mu.Unlock()
		return len(lead.q.fsm.state.UnreachableNodes()) == 0
	})
	c.publish(lead, 1)
	other.o.waitDelivered(t, body, body, lead.name+"-2")
}

// TestNewLeaderWithoutALinkFindsConsumersNodeGone: a replica elected
// after a consumer's node died, that never had a link to that node to
// lose, finds the node unreachable by dialling it, so that the
// consumer's messages keep going to others, rather than serving the
// dead node's consumer again until membership declares it failed.
func TestNewLeaderWithoutALinkFindsConsumersNodeGone(t *testing.T) {
	c := startMemberCluster(t, 3, "n1", "n2", "n3")
	lead := c.leader("n1", "n2", "n3")
	var gone, next *memberNode
	for _, nd := range c.nodes {
		switch {
		case nd == lead:
		case gone == nil:
			gone = nd
		default:
			next = nd
		}
	}
	if _, err := gone.s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "gone", Prefetch: 1}, nil); err != nil {
		t.Fatal(err)
	}
	c.publish(lead, 1)
	body := lead.name + "-1"
	gone.o.waitDelivered(t, body)
	if _, err := next.s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "next", Prefetch: 10}, nil); err != nil {
		t.Fatal(err)
	}
	next.typ.links.mu.Lock()
	linked := next.typ.links.byAddr[gone.port.Addr()] != nil
	next.typ.links.mu.Unlock()
	if linked {
		t.Fatalf("%s has a link to %s: the test needs a replica without one", next.name, gone.name)
	}

	gone.port.Close()
	next.o.waitDelivered(t, body) // the leader lost its link: given back
	if err := lead.q.raft().LeadershipTransferToServer(raft.ServerID(next.name),
		raft.ServerAddress(next.port.Addr())).Error(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, next.name+" finds "+gone.name+" unreachable", func() bool {
		return next.typ.isUnreachable(gone.name)
	})
	c.publish(next, 2)
	next.o.waitDelivered(t, body, next.name+"-1", next.name+"-2")
	next.q.fsm.mu.Lock()
	nodes := next.q.fsm.state.UnreachableNodes()
	next.q.fsm.mu.Unlock()
	if !slices.Equal(nodes, []string{gone.name}) {
		t.Errorf("unreachable nodes in the state %v, want [%s]", nodes, gone.name)
	}
}
