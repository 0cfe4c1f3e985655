package exchange

import (
	"errors"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// headersRoutes binds queue "q" to headers exchange "h" with args and
// reports whether a message with headers reaches it.
func headersRoutes(t *testing.T, args, headers protocol.Table) bool {
	t.Helper()
	r := NewRouter("/")
	r.AddExchange("h", Headers, "")
	if _, err := r.Bind(Binding{Source: "h", Destination: Destination{Name: "q"}, Args: args}); err != nil {
		t.Fatal(err)
	}
	return len(r.Route("h", []string{"ignored"}, headers, nil)) == 1
}

func TestHeadersXMatch(t *testing.T) {
	tests := []struct {
		name    string
		args    protocol.Table
		headers protocol.Table
		want    bool
	}{
		{"all is the default, every arg present", protocol.Table{"a": "1", "b": "2"}, protocol.Table{"a": "1", "b": "2", "c": "3"}, true},
		{"all, one arg missing", protocol.Table{"a": "1", "b": "2"}, protocol.Table{"a": "1"}, false},
		{"all, one value differs", protocol.Table{"x-match": "all", "a": "1", "b": "2"}, protocol.Table{"a": "1", "b": "3"}, false},
		{"all without args matches anything", protocol.Table{"x-match": "all"}, protocol.Table{"a": "1"}, true},
		{"all without args matches no headers", nil, nil, true},
		{"any, one arg matches", protocol.Table{"x-match": "any", "a": "1", "b": "2"}, protocol.Table{"b": "2"}, true},
		{"any, none matches", protocol.Table{"x-match": "any", "a": "1", "b": "2"}, protocol.Table{"b": "3"}, false},
		{"any, no headers", protocol.Table{"x-match": "any", "a": "1"}, nil, false},
		{"any without args matches nothing", protocol.Table{"x-match": "any"}, protocol.Table{"a": "1"}, false},
		{"all ignores x- args", protocol.Table{"x-match": "all", "x-foo": "bar"}, protocol.Table{}, true},
		{"all ignores x- args, real arg still counts", protocol.Table{"x-foo": "bar", "a": "1"}, protocol.Table{"a": "1"}, true},
		{"any ignores x- args", protocol.Table{"x-match": "any", "x-foo": "bar", "a": "1"}, protocol.Table{"x-foo": "bar"}, false},
		{"all-with-x uses x- args", protocol.Table{"x-match": "all-with-x", "x-foo": "bar"}, protocol.Table{"x-foo": "bar"}, true},
		{"all-with-x needs x- headers", protocol.Table{"x-match": "all-with-x", "x-foo": "bar"}, protocol.Table{}, false},
		{"all-with-x leaves out x-match itself", protocol.Table{"x-match": "all-with-x", "a": "1"}, protocol.Table{"a": "1"}, true},
		{"any-with-x matches an x- header", protocol.Table{"x-match": "any-with-x", "x-foo": "bar", "a": "z"}, protocol.Table{"x-foo": "bar"}, true},
		{"any-with-x, nothing matches", protocol.Table{"x-match": "any-with-x", "x-foo": "bar"}, protocol.Table{"x-foo": "baz", "x-match": "any-with-x"}, false},
		{"void arg matches presence", protocol.Table{"a": nil}, protocol.Table{"a": "anything"}, true},
		{"void arg matches a void header", protocol.Table{"a": nil}, protocol.Table{"a": nil}, true},
		{"void arg needs the header", protocol.Table{"a": nil}, protocol.Table{"b": "1"}, false},
		{"any with void arg", protocol.Table{"x-match": "any", "a": nil, "b": "2"}, protocol.Table{"a": int32(0)}, true},
		{"value never equals a void header", protocol.Table{"a": "x"}, protocol.Table{"a": nil}, false},
		{"header keys are case-sensitive", protocol.Table{"A": "1"}, protocol.Table{"a": "1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := headersRoutes(t, tt.args, tt.headers); got != tt.want {
				t.Fatalf("args %v headers %v: routed=%v, want %v", tt.args, tt.headers, got, tt.want)
			}
		})
	}
}

func TestHeadersValueComparison(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	tests := []struct {
		name           string
		binding, value any
		want           bool
	}{
		{"same string", "abc", "abc", true},
		{"different string", "abc", "abd", false},
		{"string equals bytes", "abc", []byte("abc"), true},
		{"bytes equal string", []byte("abc"), "abc", true},
		{"bytes", []byte{0, 1}, []byte{0, 1}, true},
		{"empty string is a value", "", "", true},
		{"int8 equals int64", int8(5), int64(5), true},
		{"uint32 equals int16", uint32(7), int16(7), true},
		{"uint8 equals int32", uint8(200), int32(200), true},
		{"negative widths", int16(-3), int64(-3), true},
		{"different integers", int32(5), int32(6), false},
		{"integer never equals float", int32(5), float64(5), false},
		{"float never equals integer", float64(5), int64(5), false},
		{"float32 equals float64 of the same value", float32(1.5), float64(1.5), true},
		{"float32 0.1 is not float64 0.1", float32(0.1), float64(0.1), false},
		{"floats", float64(2.25), float64(2.25), true},
		{"bools", true, true, true},
		{"bool is not an integer", true, int8(1), false},
		{"bool mismatch", false, true, false},
		{"string is not a number", "5", int32(5), false},
		{"timestamps of the same second", ts, ts.Add(500 * time.Millisecond), true},
		{"timestamps of different seconds", ts, ts.Add(time.Second), false},
		{"timestamp is not an integer", ts, int64(ts.Unix()), false},
		{"decimals", protocol.Decimal{Scale: 2, Value: 314}, protocol.Decimal{Scale: 2, Value: 314}, true},
		{"decimals differ in scale", protocol.Decimal{Scale: 1, Value: 10}, protocol.Decimal{Scale: 0, Value: 1}, false},
		{"tables", protocol.Table{"k": int32(1), "s": "x"}, protocol.Table{"s": "x", "k": int32(1)}, true},
		{"nested types must agree", protocol.Table{"k": int32(1)}, protocol.Table{"k": int64(1)}, false},
		{"nested string is not nested bytes", protocol.Table{"k": "a"}, protocol.Table{"k": []byte("a")}, false},
		{"tables differ in keys", protocol.Table{"k": int32(1)}, protocol.Table{"k": int32(1), "j": int32(1)}, false},
		{"arrays", []any{int32(1), "a", nil}, []any{int32(1), "a", nil}, true},
		{"array element types must agree", []any{int32(1)}, []any{int64(1)}, false},
		{"array order matters", []any{"a", "b"}, []any{"b", "a"}, false},
		{"array is not a table", []any{}, protocol.Table{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := headersRoutes(t, protocol.Table{"h": tt.binding}, protocol.Table{"h": tt.value})
			if got != tt.want {
				t.Fatalf("binding %#v header %#v: routed=%v, want %v", tt.binding, tt.value, got, tt.want)
			}
		})
	}
}

func TestHeadersInvalidXMatch(t *testing.T) {
	tests := []struct {
		name   string
		xmatch any
		text   string
	}{
		{"unknown value", "foo", `PRECONDITION_FAILED - Invalid x-match field value <<"foo">>; expected all, any, all-with-x, or any-with-x`},
		{"wrong case", "ALL", `PRECONDITION_FAILED - Invalid x-match field value <<"ALL">>; expected all, any, all-with-x, or any-with-x`},
		{"empty", "", `PRECONDITION_FAILED - Invalid x-match field value <<>>; expected all, any, all-with-x, or any-with-x`},
		{"quote escaped", `a"b`, `PRECONDITION_FAILED - Invalid x-match field value <<"a\"b">>; expected all, any, all-with-x, or any-with-x`},
		{"integer", int32(1), "PRECONDITION_FAILED - Invalid x-match field type signedint (value 1); expected longstr"},
		{"bytes", []byte("all"), `PRECONDITION_FAILED - Invalid x-match field type binary (value <<"all">>); expected longstr`},
		{"bool", true, "PRECONDITION_FAILED - Invalid x-match field type bool (value true); expected longstr"},
		{"void", nil, "PRECONDITION_FAILED - Invalid x-match field type void (value undefined); expected longstr"},
		{"double", 1.5, "PRECONDITION_FAILED - Invalid x-match field type double (value 1.5); expected longstr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRouter("/")
			r.AddExchange("h", Headers, "")
			added, err := r.Bind(Binding{Source: "h", Destination: Destination{Name: "q"}, Args: protocol.Table{"x-match": tt.xmatch}})
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a protocol error", err)
			}
			if added || pe.Code != protocol.PreconditionFailed || pe.Text != tt.text {
				t.Fatalf("got added=%v %d %q, want %d %q", added, pe.Code, pe.Text, protocol.PreconditionFailed, tt.text)
			}
			if r.HasBindingsFrom("h") {
				t.Fatal("a rejected binding was kept")
			}
		})
	}
}

func TestXMatchIsCheckedOnlyOnHeadersExchanges(t *testing.T) {
	r := NewRouter("/")
	r.AddExchange("d", Direct, "")
	if _, err := r.Bind(Binding{Source: "d", Destination: Destination{Name: "q"}, Key: "k", Args: protocol.Table{"x-match": "foo"}}); err != nil {
		t.Fatalf("direct exchange rejected an x-match argument: %v", err)
	}
}
