package fifo

import (
	"reflect"
	"slices"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// apply applies c at idx and returns the result and a copy of the
// effects, which outlive the next Apply.
func apply(s *State, idx uint64, c Command) (Result, []Effect) {
	res, effs := s.Apply(idx, c)
	out := make([]Effect, len(effs))
	for i, e := range effs {
		e.Deliveries = slices.Clone(e.Deliveries)
		e.Dead = slices.Clone(e.Dead)
		out[i] = e
	}
	return res, out
}

// queueT drives a State with increasing indexes.
type queueT struct {
	t   *testing.T
	s   *State
	idx uint64
}

func newQ(t *testing.T, cfg Config) *queueT {
	t.Helper()
	return &queueT{t: t, s: NewState(cfg)}
}

// defaultCfg is a plain quorum queue's configuration.
func defaultCfg() Config { return ConfigFromArgs(queue.Args{}, "", 0) }

func (q *queueT) do(c Command) (Result, []Effect) {
	q.idx++
	return apply(q.s, q.idx, c)
}

var (
	pubA = queue.Publisher{Node: "n1", Conn: 1, Channel: 1}
	chA  = queue.Publisher{Node: "n1", Conn: 2, Channel: 1}
	chB  = queue.Publisher{Node: "n2", Conn: 3, Channel: 1}
)

func cid(ch queue.Publisher, tag string) ConsumerID { return ConsumerID{Chan: ch, Tag: tag} }

// put enqueues an untracked message of size bytes at time now and returns
// its index.
func (q *queueT) put(size uint32, now int64) uint64 {
	q.t.Helper()
	if res, _ := q.do(Enqueue{Size: size, TTL: -1, Now: now}); res.Outcome != OK {
		q.t.Fatalf("enqueue: %v", res.Outcome)
	}
	return q.idx
}

// deliveries returns the deliveries in effs to id, in order.
func deliveries(effs []Effect, id ConsumerID) []Delivery {
	var out []Delivery
	for _, e := range effs {
		if e.Kind == EffectDeliver && e.Consumer == id {
			out = append(out, e.Deliveries...)
		}
	}
	return out
}

// indexes returns the message indexes of ds.
func indexes(ds []Delivery) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.Index
	}
	return out
}

// deadOf returns the dead-lettered messages in effs.
func deadOf(effs []Effect) []DeadMessage {
	var out []DeadMessage
	for _, e := range effs {
		if e.Kind == EffectDeadLetter {
			out = append(out, e.Dead...)
		}
	}
	return out
}

// kinds returns the effects of kind k.
func kinds(effs []Effect, k EffectKind) []Effect {
	var out []Effect
	for _, e := range effs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func ids(ds []Delivery) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// equalEffects compares effects by what they say, not their buffers.
func equalEffects(a, b []Effect) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.from, x.to, y.from, y.to = 0, 0, 0, 0
		if len(x.Deliveries) == 0 {
			x.Deliveries = nil
		}
		if len(y.Deliveries) == 0 {
			y.Deliveries = nil
		}
		if len(x.Dead) == 0 {
			x.Dead = nil
		}
		if len(y.Dead) == 0 {
			y.Dead = nil
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
