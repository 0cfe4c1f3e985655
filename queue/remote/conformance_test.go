package remote

import (
	"context"
	"testing"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/queuetest"
)

// remoteType declares each queue as a classic queue on the home node and
// hands back the link's proxy for it, so that every behaviour of the
// conformance suite goes through the wire.
type remoteType struct {
	h    *home
	link *Link
}

func (r *remoteType) Name() string                     { return r.h.typ.Name() }
func (r *remoteType) Capabilities() queue.Capabilities { return r.h.typ.Capabilities() }
func (r *remoteType) Close() error                     { return nil }

func (r *remoteType) Recover(context.Context, []queue.Ref) error { return nil }

func (r *remoteType) Declare(_ context.Context, d queue.Declaration, _ queue.Hooks) (queue.Queue, error) {
	r.h.declare(d.VHost, d.Name)
	return r.link.Queue(d.VHost, d.Name), nil
}

// TestConformance runs the queue-type conformance suite against classic
// queues on another node reached through a link over loopback TCP.
func TestConformance(t *testing.T) {
	checkGoroutines(t)
	h := newHome(t)
	queuetest.Run(t, &remoteType{h: h, link: h.link(t)})
}
