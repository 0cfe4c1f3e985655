package quorum

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/protocol/fields"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// errBadFrame is a frame that does not decode; the link carrying it is
// closed.
var errBadFrame = errors.New("bad quorum queue link frame")

func newFrameReader(b []byte) fields.Reader { return fields.Reader{B: b, Corrupt: errBadFrame} }

// appendBytes appends a length-prefixed byte string.
func appendBytes(w *fields.Writer, b []byte) {
	w.Uvarint(uint64(len(b)))
	w.B = append(w.B, b...)
}

// readBytes reads what appendBytes wrote, without copying.
func readBytes(r *fields.Reader) []byte {
	n := r.Count()
	if r.Err != nil {
		return nil
	}
	b := r.B[:n:n]
	r.B = r.B[n:]
	return b
}

func encodePropose(id uint64, group string, entry []byte) []byte {
	w := fields.Writer{B: make([]byte, 0, len(entry)+len(group)+16)}
	w.Uvarint(id)
	w.Str(group)
	w.B = append(w.B, entry...)
	return w.B
}

func decodePropose(b []byte) (id uint64, group string, entry []byte, err error) {
	r := newFrameReader(b)
	id = r.Uvarint()
	group = r.Str()
	return id, group, r.B, r.Err
}

func encodeResult(id uint64, res remoteResult) []byte {
	w := fields.Writer{}
	w.Uvarint(id)
	var nl notLeaderError
	switch {
	case errors.Is(res.err, raft.ErrNotLeader), errors.Is(res.err, raft.ErrLeadershipLost),
		errors.Is(res.err, raft.ErrLeadershipTransferInProgress):
		// Lost leadership before the entry committed: the proposer
		// retries with whoever leads next.
		w.Byte(statusNotLeader)
		w.Str("")
		return w.B
	case errors.As(res.err, &nl):
		w.Byte(statusNotLeader)
		w.Str(nl.hint)
		return w.B
	case res.err != nil:
		w.Byte(statusFailed)
		w.Str(res.err.Error())
		return w.B
	}
	w.Byte(statusOK)
	w.Uvarint(uint64(len(res.answers)))
	for _, a := range res.answers {
		w.Byte(byte(a.res.Outcome))
		writeDelivery(&w, a.res.Get)
		w.Uvarint(a.res.Ready)
		w.Uvarint(a.res.Purged)
		errText := ""
		if a.err != nil {
			errText = a.err.Error()
		}
		w.Str(errText)
		w.Flags(a.get != nil)
		if a.get != nil {
			appendBytes(&w, queue.AppendMessage(nil, a.get))
		}
	}
	return w.B
}

func decodeResult(b []byte) (uint64, remoteResult, error) {
	r := newFrameReader(b)
	id := r.Uvarint()
	var res remoteResult
	switch st := r.Byte(); st {
	case statusNotLeader:
		res.err = notLeaderError{hint: r.Str()}
		return id, res, r.End()
	case statusFailed:
		res.err = errors.New(r.Str())
		return id, res, r.End()
	case statusOK:
	default:
		return id, res, fmt.Errorf("%w: status %d", errBadFrame, st)
	}
	n := r.Count()
	for i := 0; i < n && r.Err == nil; i++ {
		var a applied
		a.res.Outcome = fifo.Outcome(r.Byte())
		a.res.Get = readDelivery(&r)
		a.res.Ready = r.Uvarint()
		a.res.Purged = r.Uvarint()
		if text := r.Str(); text != "" {
			a.err = errors.New(text)
		}
		var hasMsg bool
		r.Flags(&hasMsg)
		if hasMsg {
			data := readBytes(&r)
			if r.Err == nil {
				m, err := queue.DecodeMessage(data)
				if err != nil {
					return id, res, fmt.Errorf("%w: %v", errBadFrame, err)
				}
				a.get = m
			}
		}
		res.answers = append(res.answers, a)
	}
	return id, res, r.End()
}

func writeDelivery(w *fields.Writer, d fifo.Delivery) {
	w.Uvarint(d.ID)
	w.Uvarint(d.Index)
	w.Uvarint(uint64(d.Size))
	w.Uvarint(uint64(d.DeliveryCount))
	w.Flags(d.Redelivered, d.Settled)
}

func readDelivery(r *fields.Reader) fifo.Delivery {
	var d fifo.Delivery
	d.ID = r.Uvarint()
	d.Index = r.Uvarint()
	d.Size = uint32(r.Uvarint())
	d.DeliveryCount = uint32(r.Uvarint())
	r.Flags(&d.Redelivered, &d.Settled)
	return d
}

func writeConsumer(w *fields.Writer, id fifo.ConsumerID) {
	w.Str(id.Chan.Node)
	w.Uvarint(id.Chan.Conn)
	w.Uvarint(uint64(id.Chan.Channel))
	w.Str(id.Tag)
}

func readConsumer(r *fields.Reader) fifo.ConsumerID {
	var id fifo.ConsumerID
	id.Chan.Node = r.Str()
	id.Chan.Conn = r.Uvarint()
	id.Chan.Channel = uint16(r.Uvarint())
	id.Tag = r.Str()
	return id
}

// delivered is a frameDeliver's content.
type delivered struct {
	group      string
	consumer   fifo.ConsumerID
	deliveries []fifo.Delivery
	msgs       []*queue.Message
}

func encodeDeliver(group string, id fifo.ConsumerID, ds []fifo.Delivery, msgs []*queue.Message) []byte {
	w := fields.Writer{}
	w.Str(group)
	writeConsumer(&w, id)
	w.Uvarint(uint64(len(ds)))
	var m []byte
	for i, d := range ds {
		writeDelivery(&w, d)
		m = m[:0]
		if msgs[i] != nil {
			m = queue.AppendMessage(m, msgs[i])
		}
		appendBytes(&w, m)
	}
	return w.B
}

func decodeDeliver(b []byte) (delivered, error) {
	r := newFrameReader(b)
	var d delivered
	d.group = r.Str()
	d.consumer = readConsumer(&r)
	n := r.Count()
	for i := 0; i < n && r.Err == nil; i++ {
		d.deliveries = append(d.deliveries, readDelivery(&r))
		data := readBytes(&r)
		var m *queue.Message
		if r.Err == nil && len(data) > 0 {
			var err error
			if m, err = queue.DecodeMessage(data); err != nil {
				return d, fmt.Errorf("%w: %v", errBadFrame, err)
			}
		}
		d.msgs = append(d.msgs, m)
	}
	return d, r.End()
}

func encodeCancelled(group string, id fifo.ConsumerID) []byte {
	w := fields.Writer{}
	w.Str(group)
	writeConsumer(&w, id)
	return w.B
}

func decodeCancelled(b []byte) (string, fifo.ConsumerID, error) {
	r := newFrameReader(b)
	group := r.Str()
	id := readConsumer(&r)
	return group, id, r.End()
}
