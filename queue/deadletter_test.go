package queue

import (
	"reflect"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
)

func TestDeadLetteredFirstDeath(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	orig := &Message{
		Exchange:   "orders",
		RoutingKey: "new",
		Props: protocol.Properties{
			Expiration: "60000",
			Priority:   3,
			Headers:    protocol.Table{"CC": []any{"audit"}, "app": "x"},
			Flags:      protocol.FlagExpiration | protocol.FlagHeaders | protocol.FlagPriority,
		},
		RawProps: []byte{1, 2, 3},
		Body:     []byte("body"),
	}
	tests := []struct {
		name    string
		args    Args
		reason  Reason
		wantKey string
		wantCC  bool
	}{
		{"original keys", Args{DeadLetterExchange: "dlx", HasDeadLetterExchange: true}, Rejected, "new", true},
		{"dead-letter routing key", Args{DeadLetterExchange: "dlx", HasDeadLetterExchange: true,
			DeadLetterRoutingKey: "dead", HasDeadLetterRoutingKey: true}, Expired, "dead", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl := DeadLettered(orig, tt.reason, "work", &tt.args, now)
			if dl.Exchange != "dlx" || dl.RoutingKey != tt.wantKey {
				t.Fatalf("published to %q/%q, want dlx/%q", dl.Exchange, dl.RoutingKey, tt.wantKey)
			}
			h := dl.Props.Headers
			wantDeath := protocol.Table{
				"count":               int64(1),
				"reason":              tt.reason.String(),
				"queue":               "work",
				"time":                time.Unix(now.Unix(), 0),
				"exchange":            "orders",
				"routing-keys":        []any{"new", "audit"},
				"original-expiration": "60000",
			}
			if got := h["x-death"]; !reflect.DeepEqual(got, []any{wantDeath}) {
				t.Fatalf("x-death = %#v\nwant %#v", got, []any{wantDeath})
			}
			for k, want := range map[string]string{
				"x-first-death-reason": tt.reason.String(), "x-first-death-queue": "work", "x-first-death-exchange": "orders",
				"x-last-death-reason": tt.reason.String(), "x-last-death-queue": "work", "x-last-death-exchange": "orders",
				"app": "x",
			} {
				if h[k] != want {
					t.Errorf("header %s = %v, want %q", k, h[k], want)
				}
			}
			if _, ok := h["CC"]; ok != tt.wantCC {
				t.Errorf("CC header present = %v, want %v", ok, tt.wantCC)
			}
			if dl.Props.Expiration != "" || dl.Props.Flags&protocol.FlagExpiration != 0 {
				t.Errorf("expiration kept: %q flags %b", dl.Props.Expiration, dl.Props.Flags)
			}
			if dl.Props.Flags&protocol.FlagHeaders == 0 || dl.Props.Priority != 3 || dl.RawProps != nil {
				t.Errorf("props = %+v raw %v; want headers flag, priority kept, raw props dropped", dl.Props, dl.RawProps)
			}
			if !dl.Timestamp.Equal(now) || string(dl.Body) != "body" {
				t.Errorf("timestamp %v body %q", dl.Timestamp, dl.Body)
			}
			// The original, shared with other queues, is untouched.
			if _, ok := orig.Props.Headers["x-death"]; ok || orig.Props.Expiration != "60000" || len(orig.Props.Headers) != 2 {
				t.Fatalf("original modified: %+v", orig.Props)
			}
		})
	}
}

func TestDeadLetteredAgain(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := time.Unix(2000, 0)
	a := Args{DeadLetterExchange: "dlx", HasDeadLetterExchange: true}
	m := &Message{Exchange: "x", RoutingKey: "k", Body: []byte("b")}

	first := DeadLettered(m, Expired, "q1", &a, t0)
	// Routed by the DLX to q2, which rejects it; then back to q1, where it
	// expires again.
	first.Exchange = "dlx"
	second := DeadLettered(first, Rejected, "q2", &a, t1)
	third := DeadLettered(second, Expired, "q1", &a, t1)

	deaths := third.Props.Headers["x-death"].([]any)
	if len(deaths) != 2 {
		t.Fatalf("x-death has %d entries, want 2: %v", len(deaths), deaths)
	}
	q1 := deaths[0].(protocol.Table)
	if q1["queue"] != "q1" || q1["reason"] != "expired" || q1["count"] != int64(2) ||
		q1["time"] != time.Unix(1000, 0) || q1["exchange"] != "x" {
		t.Errorf("newest death = %v; want q1 expired count 2 first time 1000 exchange x", q1)
	}
	q2 := deaths[1].(protocol.Table)
	if q2["queue"] != "q2" || q2["reason"] != "rejected" || q2["count"] != int64(1) || q2["exchange"] != "dlx" {
		t.Errorf("older death = %v; want q2 rejected count 1 exchange dlx", q2)
	}
	h := third.Props.Headers
	if h["x-first-death-queue"] != "q1" || h["x-first-death-reason"] != "expired" ||
		h["x-last-death-queue"] != "q1" || h["x-last-death-reason"] != "expired" || h["x-last-death-exchange"] != "dlx" {
		t.Errorf("first/last headers = %v", h)
	}
	if second.Props.Headers["x-last-death-queue"] != "q2" || second.Props.Headers["x-first-death-queue"] != "q1" {
		t.Errorf("second death headers = %v", second.Props.Headers)
	}
	// The earlier copies keep their own history.
	if n := len(first.Props.Headers["x-death"].([]any)); n != 1 {
		t.Errorf("first copy changed: %d deaths", n)
	}
	if c := second.Props.Headers["x-death"].([]any)[1].(protocol.Table)["count"]; c != int64(1) {
		t.Errorf("second copy's q1 count changed to %v", c)
	}
}

func TestIsDeathCycle(t *testing.T) {
	death := func(q string, r Reason) any { return protocol.Table{"queue": q, "reason": r.String()} }
	tests := []struct {
		name   string
		deaths []any // newest first
		target string
		want   bool
	}{
		{"no deaths", nil, "q", false},
		{"expired back to itself", []any{death("q", Expired)}, "q", true},
		{"maxlen through another queue", []any{death("b", Expired), death("a", MaxLen)}, "a", true},
		{"rejected back to itself", []any{death("q", Rejected)}, "q", false},
		{"rejection since the death breaks the cycle", []any{death("b", Rejected), death("a", Expired)}, "a", false},
		{"rejection before the death does not", []any{death("a", Expired), death("b", Rejected)}, "a", true},
		{"never died there", []any{death("a", Expired)}, "b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Props: protocol.Properties{Headers: protocol.Table{"x-death": tt.deaths}}}
			if got := IsDeathCycle(m, tt.target); got != tt.want {
				t.Fatalf("IsDeathCycle(%v, %q) = %v, want %v", tt.deaths, tt.target, got, tt.want)
			}
		})
	}
}
