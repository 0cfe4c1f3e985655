package quorum

import (
	"testing"
	"time"
)

// TestInflightQueue: batches come out in order, the pusher waits while
// maxInflight are queued and goes on once one is taken or stops when
// told, pop after close returns what was left and then ends, and a
// drained queue holds no memory.
func TestInflightQueue(t *testing.T) {
	q := newInflightQueue()
	stop := make(chan struct{})
	for i := range maxInflight {
		if !q.push(inflight{reqs: make([]request, i)}, stop) {
			t.Fatal("push refused below the bound")
		}
	}
	pushed := make(chan bool)
	go func() { pushed <- q.push(inflight{reqs: make([]request, maxInflight)}, stop) }()
	select {
	case <-pushed:
		t.Fatal("push past maxInflight did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	if in, ok := q.pop(false); !ok || len(in.reqs) != 0 {
		t.Fatalf("first pop: %d requests, %v", len(in.reqs), ok)
	}
	if !<-pushed {
		t.Fatal("the waiting push failed once there was room")
	}
	go func() { pushed <- q.push(inflight{}, stop) }()
	close(stop)
	if <-pushed {
		t.Fatal("a push on a full queue succeeded after stop")
	}
	q.close()
	for i := 1; i <= maxInflight; i++ {
		in, ok := q.pop(true)
		if !ok || len(in.reqs) != i {
			t.Fatalf("pop %d: %d requests, %v", i, len(in.reqs), ok)
		}
	}
	if _, ok := q.pop(true); ok {
		t.Fatal("pop after the last of a closed queue")
	}
	if q.items != nil {
		t.Fatalf("a drained queue keeps %d slots", cap(q.items))
	}
}
