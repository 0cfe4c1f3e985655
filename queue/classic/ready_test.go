package classic

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestRingAgainstModel drives a ring with random pushes, pops and
// reinsertions of popped entries, checking it against a sorted slice: the
// ring must always hold its entries in id order, whatever the wrap-around.
func TestRingAgainstModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, seed))
		var r ring
		var model, out []uint64
		next := uint64(1)
		m := &queue.Message{}
		for range 5000 {
			switch op := rng.IntN(10); {
			case op < 4:
				r.push(entry{id: next, msg: m})
				model = append(model, next)
				next++
			case op < 7 && r.n > 0:
				e := r.pop()
				if e.id != model[0] {
					t.Fatalf("seed %d: pop %d, want %d", seed, e.id, model[0])
				}
				model = model[1:]
				out = append(out, e.id)
			case len(out) > 0:
				i := rng.IntN(len(out))
				id := out[i]
				out = slices.Delete(out, i, i+1)
				r.insert(entry{id: id, msg: m})
				j, _ := slices.BinarySearch(model, id)
				model = slices.Insert(model, j, id)
			}
			if r.n != len(model) {
				t.Fatalf("seed %d: ring holds %d, model %d", seed, r.n, len(model))
			}
		}
		for i, want := range model {
			if got := r.at(i).id; got != want {
				t.Fatalf("seed %d: position %d holds %d, want %d", seed, i, got, want)
			}
		}
	}
}

func TestRingReleasesMessages(t *testing.T) {
	var r ring
	m := &queue.Message{}
	for i := range 3 {
		r.push(entry{id: uint64(i + 1), msg: m})
	}
	r.pop() // from slot 0
	if r.buf[0].msg != nil {
		t.Fatal("popped slot still references its message, keeping it from the collector")
	}
}
