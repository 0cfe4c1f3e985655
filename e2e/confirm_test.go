package e2e

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestConfirmEveryPublish: in confirm mode every publish is acked, in
// sequence-number order (acks may coalesce with multiple; amqp091-go
// expands them), whether routed to a queue, to several, or to none.
func TestConfirmEveryPublish(t *testing.T) {
	t.Parallel()
	c, _ := open(t)
	ch, confirms := confirmChannel(t, c)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	durable := name(t, "durable")
	_, err := ch.QueueDeclare(durable, true, false, false, false, nil)
	mustOK(t, err, "declare durable")
	t.Cleanup(func() { deleteQueue(durable) })
	const n = 200
	for i := 1; i <= n; i++ {
		key := q
		switch i % 4 {
		case 1:
			key = durable
		case 2:
			key = name(t, "unroutable")
		}
		mode := amqp.Transient
		if i%3 == 0 {
			mode = amqp.Persistent
		}
		if seq := ch.GetNextPublishSeqNo(); seq != uint64(i) {
			t.Fatalf("next publish seq %d, want %d", seq, i)
		}
		publish(t, ch, "", key, amqp.Publishing{DeliveryMode: mode, Body: []byte(fmt.Sprint(i))})
	}
	deadline := time.After(waitFor)
	for i := 1; i <= n; i++ {
		select {
		case cf := <-confirms:
			if cf.DeliveryTag != uint64(i) || !cf.Ack {
				t.Fatalf("confirm #%d: tag %d ack=%v", i, cf.DeliveryTag, cf.Ack)
			}
		case <-deadline:
			t.Fatalf("got %d of %d confirms", i-1, n)
		}
	}
}

// TestConfirmReturnBeforeAck: an unroutable mandatory publish in confirm
// mode gets basic.return and then basic.ack, in that order on the wire
// (read as raw frames: a client library hands the two to different
// listeners, whose order it does not keep).
func TestConfirmReturnBeforeAck(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	var sel args
	sel.u8(0) // no-wait off
	r.write(methodBytes(1, 85, 10, &sel))
	r.expectMethod(1, 85, 11) // confirm.select-ok
	var pub args
	pub.u16(0).shortstr("").shortstr(name(t, "nobody")).u8(1) // mandatory
	r.write(methodBytes(1, 60, 40, &pub))
	r.write(headerBytes(1, 1))
	r.write(frameBytes(frameBody, 1, []byte("m")))
	f := r.expectMethod(1, 60, 50) // basic.return
	if code := binary.BigEndian.Uint16(f.payload[4:]); code != codeNoRoute {
		t.Fatalf("return code %d, want %d", code, codeNoRoute)
	}
	if body := r.readContent(); body != "m" {
		t.Fatalf("returned body %q", body)
	}
	f = r.expectMethod(1, 60, 80) // basic.ack, not a nack
	if tag := binary.BigEndian.Uint64(f.payload[4:]); tag != 1 {
		t.Fatalf("ack tag %d, want 1", tag)
	}
}

// TestConfirmModeConflicts: confirm.select is idempotent, and the tx/confirm
// modes exclude each other with 406.
func TestConfirmModeConflicts(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	mustOK(t, ch.Confirm(false), "confirm.select")
	mustOK(t, ch.Confirm(false), "confirm.select again")
	err := ch.Tx()
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - cannot switch from confirm to tx mode")

	ch = c.channel(t)
	mustOK(t, ch.Tx(), "tx.select")
	err = ch.Confirm(false)
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
}
