package cluster

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestDialService: a tool holding the secret reaches a node's service
// over its own connection; a wrong secret or an unknown service is
// refused; closing the stream leaves no goroutine behind.
func TestDialService(t *testing.T) {
	node := newTransport(t, TransportConfig{Secret: "s3cret"})
	serveEcho(t, node, "admin")
	for _, tc := range []struct {
		name, secret, service string
		want                  error
	}{
		{"right secret", "s3cret", "admin", nil},
		{"wrong secret", "other", "admin", ErrBadSecret},
		{"no secret", "", "admin", ErrBadSecret},
		{"unknown service", "s3cret", "nothing", ErrUnknownService},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := DialService(ctx, node.Addr(), tc.secret, tc.service)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("DialService: %v, want %v", err, tc.want)
				}
				goroutinesBack(t, base)
				return
			}
			if err != nil {
				t.Fatalf("DialService: %v", err)
			}
			if got := roundTrip(t, c, "status"); got != "admin:status" {
				t.Fatalf("answer %q", got)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			goroutinesBack(t, base)
		})
	}
}

// TestDialServiceNobodyListening: a port nobody listens on is an error,
// not a hang.
func TestDialServiceNobodyListening(t *testing.T) {
	tr := newTransport(t, TransportConfig{})
	addr := tr.Addr()
	tr.Close()
	if _, err := DialService(context.Background(), addr, "", "admin"); err == nil {
		t.Fatal("DialService to a closed port succeeded")
	}
}
