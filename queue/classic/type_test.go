package classic

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// declareDurable declares the durable classic queue name of vhost / with t.
func declareDurable(tb testing.TB, t *Type, name string) queue.Queue {
	tb.Helper()
	q, err := t.Declare(bg, queue.Declaration{VHost: "/", Name: name, Durable: true,
		Args: queue.Args{Type: queue.TypeClassic}}, queue.Hooks{})
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// TestTypeRecoverKeepsSavedLogs: the classic type owns the store. Recover
// deletes the logs of queues no saved definition names and keeps the
// others, whose queues get their messages back when declared again.
func TestTypeRecoverKeepsSavedLogs(t *testing.T) {
	dir := t.TempDir()
	ct, err := OpenType(TypeConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kept", "gone"} {
		q := declareDurable(t, ct, name)
		m := &queue.Message{Body: []byte(name), Props: protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 2}}
		q.Publish(m, queue.Confirm{})
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ct.Close(); err != nil {
		t.Fatal(err)
	}

	ct, err = OpenType(TypeConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	if err := ct.Recover(bg, []queue.Ref{{VHost: "/", Name: "kept"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, store.LogID("/", "gone"))); !os.IsNotExist(err) {
		t.Errorf("log of the unsaved queue: %v, want it deleted", err)
	}
	q := declareDurable(t, ct, "kept")
	defer q.Close()
	if st := q.Stats(bg); st.Ready != 1 {
		t.Errorf("kept holds %d messages after recovery, want 1", st.Ready)
	}
}

// TestTypeCapabilities: classic queues allow every declare flag, global
// QoS and priorities, and RabbitMQ's classic-queue arguments.
func TestTypeCapabilities(t *testing.T) {
	ct, err := OpenType(TypeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := ct.Capabilities()
	if !c.GlobalQoS || !c.Priorities || !c.Exclusive || !c.AutoDelete || !c.NonDurable {
		t.Errorf("capabilities %+v, want every flag", c)
	}
	if len(c.Args) == 0 || ct.Name() != queue.TypeClassic {
		t.Errorf("name %q, args %v", ct.Name(), c.Args)
	}
}

// TestCloseStopsHooks: Close waits for a hook already running, and once it
// returns the queue calls none: its timer is stopped, no message expires
// or is dead-lettered, no x-expires fires, and a delete is refused so that
// the broker keeps the definition.
func TestCloseStopsHooks(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-message-ttl": int32(1000), "x-expires": int32(5000),
		"x-dead-letter-exchange": "dlx"}, Options{})
	release := make(chan struct{})
	inHook := make(chan struct{})
	h.onDead = func([]*queue.Message) {
		close(inHook)
		<-release
	}
	c := newConsumer(-1)
	if err := h.q.Consume(c, queue.ConsumeOptions{Tag: "c"}); err != nil {
		t.Fatal(err)
	}
	h.publish("rejected")
	go h.q.Settle(queue.Reject, c.ids())
	<-inHook
	if !h.q.Cancel(c) {
		t.Fatal("consumer not subscribed")
	}
	h.publish("a", "b")

	closed := make(chan error, 1)
	go func() { closed <- h.q.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a hook was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.onDead = nil
	h.mu.Unlock()

	h.clock.Advance(time.Minute)
	if bodies, _ := h.deadLettered(); len(bodies) != 1 || bodies[0] != "rejected" {
		t.Errorf("dead-lettered %q, want only the message rejected before Close", bodies)
	}
	h.mu.Lock()
	expired := h.expired
	h.mu.Unlock()
	if expired != 0 {
		t.Errorf("Expired called %d times after Close", expired)
	}
	if _, err := h.q.Delete(bg, false, false); err == nil {
		t.Error("Delete of a closed queue succeeded")
	}
}

// TestTypeRestartKeepsNoTransient: transient messages paged out to disk
// never come back. After the node is killed (the type opened again on the
// same folders without being closed) or stopped, a durable queue gets its
// persistent messages back and none of its transient ones, and the spill
// folder is empty.
func TestTypeRestartKeepsNoTransient(t *testing.T) {
	for _, kill := range []bool{true, false} {
		t.Run("kill="+strconv.FormatBool(kill), func(t *testing.T) {
			dir := t.TempDir()
			cfg := TypeConfig{Dir: filepath.Join(dir, "queues"), SpillDir: filepath.Join(dir, "transient")}
			ct, err := OpenType(cfg)
			if err != nil {
				t.Fatal(err)
			}
			dq := declareDurable(t, ct, "dq")
			nq, err := ct.Declare(bg, queue.Declaration{VHost: "/", Name: "nq", Args: queue.Args{Type: queue.TypeClassic}}, queue.Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			const n = defaultWindowMessages + 500
			body := make([]byte, 64)
			for range n {
				dq.Publish(&queue.Message{Body: body}, queue.Confirm{})
				nq.Publish(&queue.Message{Body: body}, queue.Confirm{})
			}
			persistent := &queue.Message{Body: []byte("kept"), Props: protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 2}}
			var c confirms
			dq.Publish(persistent, queue.Confirm{To: &c, Seq: 1})
			waitFor(t, "the persistent message's confirm", func() bool { _, found := c.has(1); return found })
			for _, q := range []queue.Queue{dq, nq} {
				if m := q.(*Queue).Memory(); m.Spilled < n-defaultWindowMessages {
					t.Fatalf("%s: memory %+v, want %d spilled", q.Name(), m, n-defaultWindowMessages)
				}
			}
			if names, _ := os.ReadDir(cfg.SpillDir); len(names) != 2 {
				t.Fatalf("spill folder holds %d logs, want 2", len(names))
			}
			old := ct
			if !kill {
				dq.Close()
				nq.Close()
				if err := ct.Close(); err != nil {
					t.Fatal(err)
				}
			}

			ct, err = OpenType(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ct.Close()
			if names, _ := os.ReadDir(cfg.SpillDir); len(names) != 0 {
				t.Fatalf("spill folder holds %d entries after the restart, want none", len(names))
			}
			q := declareDurable(t, ct, "dq")
			defer q.Close()
			d, remaining, ok := q.(*Queue).Get(true)
			if !ok || string(d.Message.Body) != "kept" || remaining != 0 {
				t.Fatalf("after the restart: get %q ok=%v, %d more; want only the persistent message", d.Message.Body, ok, remaining)
			}
			if kill {
				// The killed node's queues and type go now, as its
				// process would have.
				dq.Close()
				nq.Close()
				old.Close()
			}
		})
	}
}
