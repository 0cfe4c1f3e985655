package e2e

import (
	"testing"
)

// TestConsumeOkBeforeDeliveries: a consumer subscribing to a queue with
// ready messages hears basic.consume-ok before the first basic.deliver,
// and then every message in order; with no-wait there is no consume-ok
// and the deliveries come straight away. Raw frames show the order, which
// client libraries hide.
func TestConsumeOkBeforeDeliveries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		noWait bool
	}{
		{"consume-ok first", false},
		{"no-wait", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, ch := open(t)
			q := name(t, "")
			declareQueue(t, ch, q, nil)
			for _, b := range []string{"a", "b", "c"} {
				publish(t, ch, "", q, text(b))
			}
			waitMessages(t, ch, q, 3)
			r := dialRaw(t)
			r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
			r.openChannel(1)
			bits := uint8(2) // no-ack
			if tc.noWait {
				bits |= 8
			}
			var a args
			a.u16(0).shortstr(q).shortstr("c").u8(bits).table(nil)
			r.method(1, 60, 20, a.b.Bytes()) // basic.consume
			if !tc.noWait {
				r.expectMethod(1, 60, 21) // basic.consume-ok
			}
			for _, want := range []string{"a", "b", "c"} {
				r.expectMethod(1, 60, 60) // basic.deliver
				if got := r.readContent(); got != want {
					t.Fatalf("delivered %q, want %q", got, want)
				}
			}
		})
	}
}
