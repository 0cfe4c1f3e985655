package broker

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
)

// trackerConn returns a channel on a connection that is never served, so a
// test can drive its confirm tracker and read what it sends from the
// output buffer.
func trackerConn(t *testing.T) *channel {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	s := &Server{log: zap.NewNop()}
	c := newConn(s, a)
	ch := newChannel(c, 1)
	ch.confirm = true
	return ch
}

// sentConfirms decodes the basic.ack and basic.nack frames in the output
// buffer, as "ack 3 multiple" style strings, and empties it.
func sentConfirms(t *testing.T, c *conn) []string {
	t.Helper()
	c.outMu.Lock()
	buf := c.out.buf
	c.out.buf = nil
	c.outMu.Unlock()
	fr := protocol.NewFrameReader(bytes.NewReader(buf))
	var out []string
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		m, err := protocol.DecodeMethod(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *protocol.BasicAck:
			s := "ack " + itoa(m.DeliveryTag)
			if m.Multiple {
				s += " multiple"
			}
			out = append(out, s)
		case *protocol.BasicNack:
			out = append(out, "nack "+itoa(m.DeliveryTag))
		default:
			t.Fatalf("unexpected %T", m)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestConfirmsFromAnotherGoroutine: confirms a durable queue sends later,
// from the store's goroutine, are acked only once every destination of the
// publish confirmed, nacked if any refused, in publish order, coalesced,
// and handed to the writer rather than sent one by one; a closed channel
// sends none.
func TestConfirmsFromAnotherGoroutine(t *testing.T) {
	ch := trackerConn(t)
	c := ch.c
	tr := &ch.confirms
	// The read loop's batch: three publishes, to 2, 1 and 2 queues.
	ch.beginConfirmBatch()
	c1 := tr.expect(2, nil)
	c2 := tr.expect(1, nil)
	c3 := tr.expect(2, nil)
	ch.flushConfirms()
	if got := sentConfirms(t, c); len(got) != 0 {
		t.Fatalf("sent %v before any queue confirmed", got)
	}
	c1.To.Confirmed(c1.Seq, true) // the transient destination, at once
	c2.To.Confirmed(c2.Seq, true)
	if got := sentConfirms(t, c); len(got) != 0 {
		t.Fatalf("sent %v while publish 1 waits for its durable queue", got)
	}
	// Later, from the store's goroutine.
	done := make(chan struct{})
	go func() {
		c1.To.Confirmed(c1.Seq, true)
		c3.To.Confirmed(c3.Seq, true)
		close(done)
	}()
	<-done
	if got := sentConfirms(t, c); len(got) != 0 {
		t.Fatalf("sent %v from the store's goroutine instead of the writer", got)
	}
	c.drainInbox() // the writer
	if got := sentConfirms(t, c); len(got) != 1 || got[0] != "ack 2 multiple" {
		t.Fatalf("writer sent %v, want one multiple ack up to 2", got)
	}
	c3.To.Confirmed(c3.Seq, false) // its second queue refused it
	c.drainInbox()
	if got := sentConfirms(t, c); len(got) != 1 || got[0] != "nack 3" {
		t.Fatalf("sent %v, want nack 3", got)
	}

	// Many publishes confirmed concurrently from several goroutines.
	const n = 300
	ch.beginConfirmBatch()
	var cs [n]struct {
		seq uint64
		to  interface{ Confirmed(uint64, bool) }
	}
	for i := range cs {
		cf := tr.expect(1, nil)
		cs[i].seq, cs[i].to = cf.Seq, cf.To
	}
	ch.flushConfirms()
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 3 {
				cs[i].to.Confirmed(cs[i].seq, true)
			}
		}()
	}
	stop := make(chan struct{})
	writer := make(chan struct{})
	go func() { // the writer, draining meanwhile
		defer close(writer)
		for {
			select {
			case <-stop:
				c.drainInbox()
				return
			default:
				c.drainInbox()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-writer
	got := sentConfirms(t, c)
	if len(got) == 0 || got[len(got)-1] != "ack "+itoa(3+n)+" multiple" && got[len(got)-1] != "ack "+itoa(3+n) {
		t.Fatalf("last confirm %v, want an ack of %d", got, 3+n)
	}
	if len(got) > n/2 {
		t.Errorf("%d acks for %d publishes: not coalesced", len(got), n)
	}

	// After the channel closed, late confirms are dropped: its number may
	// belong to a new channel by then.
	ch.beginConfirmBatch()
	cf := tr.expect(1, nil)
	ch.flushConfirms()
	tr.close()
	cf.To.Confirmed(cf.Seq, true)
	c.drainInbox()
	if got := sentConfirms(t, c); len(got) != 0 {
		t.Fatalf("closed channel sent %v", got)
	}
}
