package exchange

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

func q(name string) Destination { return Destination{Name: name} }
func x(name string) Destination { return Destination{Name: name, Exchange: true} }

// setup declares exchanges and bindings for a test; exchanges are given as
// name → kind, bindings as (source, destination, key).
type setup struct {
	exchanges map[string]Kind
	alternate map[string]string
	bindings  []Binding
}

func (s setup) router(t testing.TB) *Router {
	t.Helper()
	r := NewRouter("/")
	for name, kind := range s.exchanges {
		r.AddExchange(name, kind, s.alternate[name])
	}
	for _, b := range s.bindings {
		if _, err := r.Bind(b); err != nil {
			t.Fatalf("bind %+v: %v", b, err)
		}
	}
	return r
}

func TestRoute(t *testing.T) {
	tests := []struct {
		name  string
		setup setup
		from  string
		keys  []string
		want  []string
	}{
		{
			name: "direct reaches every binding with the key",
			setup: setup{exchanges: map[string]Kind{"d": Direct}, bindings: []Binding{
				{Source: "d", Destination: q("q1"), Key: "k"},
				{Source: "d", Destination: q("q2"), Key: "k"},
				{Source: "d", Destination: q("q3"), Key: "k"},
				{Source: "d", Destination: q("q4"), Key: "other"},
			}},
			from: "d", keys: []string{"k"}, want: []string{"q1", "q2", "q3"},
		},
		{
			name: "direct with CC keys reaches the union, each queue once",
			setup: setup{exchanges: map[string]Kind{"d": Direct}, bindings: []Binding{
				{Source: "d", Destination: q("q1"), Key: "a"},
				{Source: "d", Destination: q("q2"), Key: "b"},
				{Source: "d", Destination: q("q1"), Key: "b"},
			}},
			from: "d", keys: []string{"a", "b", "a"}, want: []string{"q1", "q2"},
		},
		{
			name: "direct key is exact",
			setup: setup{exchanges: map[string]Kind{"d": Direct}, bindings: []Binding{
				{Source: "d", Destination: q("q1"), Key: "a.b"},
			}},
			from: "d", keys: []string{"a.*"}, want: nil,
		},
		{
			name: "direct empty key",
			setup: setup{exchanges: map[string]Kind{"d": Direct}, bindings: []Binding{
				{Source: "d", Destination: q("q1"), Key: ""},
			}},
			from: "d", keys: []string{""}, want: []string{"q1"},
		},
		{
			name: "fanout ignores the key",
			setup: setup{exchanges: map[string]Kind{"f": Fanout}, bindings: []Binding{
				{Source: "f", Destination: q("q1"), Key: "x"},
				{Source: "f", Destination: q("q2")},
			}},
			from: "f", keys: []string{"whatever"}, want: []string{"q1", "q2"},
		},
		{
			name: "fanout with the same queue bound twice",
			setup: setup{exchanges: map[string]Kind{"f": Fanout}, bindings: []Binding{
				{Source: "f", Destination: q("q1"), Key: "a"},
				{Source: "f", Destination: q("q1"), Key: "b"},
			}},
			from: "f", keys: []string{""}, want: []string{"q1"},
		},
		{
			name: "exchange to exchange",
			setup: setup{exchanges: map[string]Kind{"a": Direct, "b": Topic}, bindings: []Binding{
				{Source: "a", Destination: x("b"), Key: "stock.ibm"},
				{Source: "b", Destination: q("q1"), Key: "stock.*"},
				{Source: "b", Destination: q("q2"), Key: "bond.*"},
			}},
			from: "a", keys: []string{"stock.ibm"}, want: []string{"q1"},
		},
		{
			name: "a queue reached through several paths appears once",
			setup: setup{exchanges: map[string]Kind{"a": Fanout, "b": Fanout, "c": Fanout}, bindings: []Binding{
				{Source: "a", Destination: q("q")},
				{Source: "a", Destination: x("b")},
				{Source: "a", Destination: x("c")},
				{Source: "b", Destination: q("q")},
				{Source: "c", Destination: q("q")},
				{Source: "c", Destination: x("b")},
			}},
			from: "a", keys: []string{""}, want: []string{"q"},
		},
		{
			name: "cycle between exchanges ends",
			setup: setup{exchanges: map[string]Kind{"a": Fanout, "b": Fanout}, bindings: []Binding{
				{Source: "a", Destination: x("b")},
				{Source: "b", Destination: x("a")},
				{Source: "a", Destination: q("qa")},
				{Source: "b", Destination: q("qb")},
			}},
			from: "a", keys: []string{""}, want: []string{"qa", "qb"},
		},
		{
			name: "exchange bound to itself",
			setup: setup{exchanges: map[string]Kind{"a": Fanout}, bindings: []Binding{
				{Source: "a", Destination: x("a")},
				{Source: "a", Destination: q("q")},
			}},
			from: "a", keys: []string{""}, want: []string{"q"},
		},
		{
			name: "alternate exchange takes what matches nothing",
			setup: setup{
				exchanges: map[string]Kind{"d": Direct, "ae": Fanout},
				alternate: map[string]string{"d": "ae"},
				bindings: []Binding{
					{Source: "d", Destination: q("q1"), Key: "k"},
					{Source: "ae", Destination: q("unrouted")},
				}},
			from: "d", keys: []string{"nope"}, want: []string{"unrouted"},
		},
		{
			name: "alternate exchange is not used when a binding matches",
			setup: setup{
				exchanges: map[string]Kind{"d": Direct, "ae": Fanout},
				alternate: map[string]string{"d": "ae"},
				bindings: []Binding{
					{Source: "d", Destination: q("q1"), Key: "k"},
					{Source: "ae", Destination: q("unrouted")},
				}},
			from: "d", keys: []string{"k"}, want: []string{"q1"},
		},
		{
			name: "alternate exchange chain",
			setup: setup{
				exchanges: map[string]Kind{"d": Direct, "ae1": Direct, "ae2": Fanout},
				alternate: map[string]string{"d": "ae1", "ae1": "ae2"},
				bindings: []Binding{
					{Source: "ae1", Destination: q("never"), Key: "other"},
					{Source: "ae2", Destination: q("last")},
				}},
			from: "d", keys: []string{"k"}, want: []string{"last"},
		},
		{
			name: "alternate exchange cycle ends",
			setup: setup{
				exchanges: map[string]Kind{"a": Direct, "b": Direct},
				alternate: map[string]string{"a": "b", "b": "a"},
			},
			from: "a", keys: []string{"k"}, want: nil,
		},
		{
			name: "alternate exchange pointing at itself",
			setup: setup{
				exchanges: map[string]Kind{"a": Direct},
				alternate: map[string]string{"a": "a"},
			},
			from: "a", keys: []string{"k"}, want: nil,
		},
		{
			name: "missing alternate exchange routes nowhere",
			setup: setup{
				exchanges: map[string]Kind{"a": Direct},
				alternate: map[string]string{"a": "gone"},
			},
			from: "a", keys: []string{"k"}, want: nil,
		},
		{
			name: "alternate exchange of a downstream exchange",
			setup: setup{
				exchanges: map[string]Kind{"a": Fanout, "b": Direct, "ae": Fanout},
				alternate: map[string]string{"b": "ae"},
				bindings: []Binding{
					{Source: "a", Destination: x("b")},
					{Source: "ae", Destination: q("q")},
				}},
			from: "a", keys: []string{"k"}, want: []string{"q"},
		},
		{
			// RabbitMQ's rule: the alternate is for an exchange whose own
			// bindings match nothing; matching an exchange counts.
			name: "matching only an exchange that reaches nothing does not use the alternate",
			setup: setup{
				exchanges: map[string]Kind{"a": Fanout, "b": Direct, "ae": Fanout},
				alternate: map[string]string{"a": "ae"},
				bindings: []Binding{
					{Source: "a", Destination: x("b")},
					{Source: "ae", Destination: q("q")},
				}},
			from: "a", keys: []string{"k"}, want: nil,
		},
		{
			name: "alternate already visited through a binding is not routed twice",
			setup: setup{
				exchanges: map[string]Kind{"a": Fanout, "b": Direct, "ae": Fanout},
				alternate: map[string]string{"b": "ae"},
				bindings: []Binding{
					{Source: "a", Destination: x("b")},
					{Source: "a", Destination: x("ae")},
					{Source: "ae", Destination: q("q")},
				}},
			from: "a", keys: []string{"k"}, want: []string{"q"},
		},
		{
			name:  "unknown exchange routes nowhere",
			setup: setup{exchanges: map[string]Kind{"a": Fanout}},
			from:  "nope", keys: []string{"k"}, want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.setup.router(t)
			got := r.Route(tt.from, tt.keys, nil, nil)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRouteAppendsToOut(t *testing.T) {
	r := setup{exchanges: map[string]Kind{"f": Fanout}, bindings: []Binding{{Source: "f", Destination: q("q1")}}}.router(t)
	out := r.Route("f", []string{""}, nil, []string{"already"})
	if !slices.Equal(out, []string{"already", "q1"}) {
		t.Fatalf("got %v", out)
	}
}

func TestBindingIdentity(t *testing.T) {
	r := NewRouter("/")
	r.AddExchange("h", Headers, "")
	base := Binding{Source: "h", Destination: q("q"), Key: "k", Args: protocol.Table{"a": int32(1), "b": "x"}}
	tests := []struct {
		name string
		b    Binding
		want bool // added
	}{
		{"first bind adds", base, true},
		{"same binding again", base, false},
		{"same args, other map order", Binding{Source: "h", Destination: q("q"), Key: "k", Args: protocol.Table{"b": "x", "a": int32(1)}}, false},
		{"arg type differs", Binding{Source: "h", Destination: q("q"), Key: "k", Args: protocol.Table{"a": int64(1), "b": "x"}}, true},
		{"other key", Binding{Source: "h", Destination: q("q"), Key: "j", Args: base.Args}, true},
		{"other destination", Binding{Source: "h", Destination: q("q2"), Key: "k", Args: base.Args}, true},
		{"exchange destination of the same name", Binding{Source: "h", Destination: x("h"), Key: "k", Args: base.Args}, true},
		{"no args", Binding{Source: "h", Destination: q("q"), Key: "k"}, true},
		{"empty args equal no args", Binding{Source: "h", Destination: q("q"), Key: "k", Args: protocol.Table{}}, false},
	}
	for _, tt := range tests {
		added, err := r.Bind(tt.b)
		if err != nil || added != tt.want {
			t.Errorf("%s: added=%v err=%v, want added=%v", tt.name, added, err, tt.want)
		}
	}
	if n := len(r.BindingsFrom("h")); n != 6 {
		t.Fatalf("%d bindings, want 6", n)
	}
	// Unbind by value, then again.
	if !r.Unbind(Binding{Source: "h", Destination: q("q"), Key: "k", Args: protocol.Table{"b": "x", "a": int32(1)}}) {
		t.Fatal("unbind by equal args failed")
	}
	if r.Unbind(base) {
		t.Fatal("second unbind removed something")
	}
	if r.Unbind(Binding{Source: "nope", Destination: q("q")}) {
		t.Fatal("unbind from a missing exchange removed something")
	}
	got := r.Route("h", nil, protocol.Table{"a": int32(1), "b": "x"}, nil)
	slices.Sort(got)
	if !slices.Equal(got, []string{"q", "q2"}) {
		// the no-args binding still routes to q
		t.Fatalf("got %v", got)
	}
}

func TestBindErrors(t *testing.T) {
	r := NewRouter("vh")
	r.AddExchange("a", Direct, "")
	tests := []struct {
		name string
		b    Binding
		code uint16
		text string
	}{
		{"missing source", Binding{Source: "nope", Destination: q("q")}, protocol.NotFound, "NOT_FOUND - no exchange 'nope' in vhost 'vh'"},
		{"missing destination exchange", Binding{Source: "a", Destination: x("gone")}, protocol.NotFound, "NOT_FOUND - no exchange 'gone' in vhost 'vh'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, err := r.Bind(tt.b)
			var pe *protocol.Error
			if added || !errors.As(err, &pe) || pe.Code != tt.code || pe.Text != tt.text {
				t.Fatalf("got added=%v err=%v, want %d %q", added, err, tt.code, tt.text)
			}
		})
	}
	if r.HasBindingsFrom("a") {
		t.Fatal("failed bind left a binding")
	}
}

func TestListingAndRemoval(t *testing.T) {
	r := setup{
		exchanges: map[string]Kind{"a": Direct, "b": Fanout, "c": Topic},
		bindings: []Binding{
			{Source: "b", Destination: q("q2")},
			{Source: "a", Destination: x("b"), Key: "k"},
			{Source: "a", Destination: q("q1"), Key: "z"},
			{Source: "a", Destination: q("q1"), Key: "k"},
			{Source: "c", Destination: q("q1"), Key: "#"},
			{Source: "c", Destination: x("a"), Key: "k.*"},
		},
	}.router(t)

	wantAll := []Binding{
		{Source: "a", Destination: q("q1"), Key: "k"},
		{Source: "a", Destination: q("q1"), Key: "z"},
		{Source: "a", Destination: x("b"), Key: "k"},
		{Source: "b", Destination: q("q2")},
		{Source: "c", Destination: q("q1"), Key: "#"},
		{Source: "c", Destination: x("a"), Key: "k.*"},
	}
	checkBindings(t, "Bindings", r.Bindings(), wantAll)
	checkBindings(t, "BindingsFrom(a)", r.BindingsFrom("a"), wantAll[:3])
	checkBindings(t, "BindingsTo(q1)", r.BindingsTo(q("q1")), []Binding{wantAll[0], wantAll[1], wantAll[4]})
	checkBindings(t, "BindingsTo(exchange a)", r.BindingsTo(x("a")), wantAll[5:])
	if r.BindingsTo(q("a")) != nil {
		t.Fatal("a queue named like an exchange has bindings")
	}

	// Deleting queue q1 removes its three bindings and nothing else.
	checkBindings(t, "RemoveDestination(q1)", r.RemoveDestination(q("q1")), []Binding{wantAll[0], wantAll[1], wantAll[4]})
	if got := r.Route("c", []string{"x"}, nil, nil); len(got) != 0 {
		t.Fatalf("deleted queue still routed: %v", got)
	}
	if !r.HasBindingsFrom("a") || r.HasBindingsFrom("nope") {
		t.Fatal("HasBindingsFrom wrong")
	}

	// Deleting exchange a removes a→b and c→a; c is left without bindings.
	checkBindings(t, "RemoveExchange(a)", r.RemoveExchange("a"), []Binding{wantAll[2], wantAll[5]})
	if r.Has("a") || !r.Has("b") {
		t.Fatal("Has wrong after RemoveExchange")
	}
	if r.HasBindingsFrom("c") {
		t.Fatal("binding to a deleted exchange survived")
	}
	if r.HasBindingsTo(x("b")) || !r.HasBindingsTo(q("q2")) {
		t.Fatal("HasBindingsTo wrong")
	}
	checkBindings(t, "Bindings after", r.Bindings(), []Binding{wantAll[3]})
	if r.RemoveExchange("a") != nil {
		t.Fatal("removing a missing exchange returned bindings")
	}

	// A re-declared exchange of the same name starts empty.
	if !r.AddExchange("a", Fanout, "") {
		t.Fatal("re-adding a deleted exchange failed")
	}
	if got := r.Route("a", []string{"k"}, nil, nil); len(got) != 0 {
		t.Fatalf("new exchange routed %v", got)
	}
}

func TestRemoveExchangeBoundToItself(t *testing.T) {
	r := setup{exchanges: map[string]Kind{"a": Fanout}, bindings: []Binding{
		{Source: "a", Destination: x("a")},
		{Source: "a", Destination: q("q")},
	}}.router(t)
	if got := r.RemoveExchange("a"); len(got) != 2 {
		t.Fatalf("removed %v, want both bindings once", got)
	}
	if len(r.Bindings()) != 0 || r.HasBindingsTo(q("q")) {
		t.Fatal("bindings left behind")
	}
}

func checkBindings(t *testing.T, what string, got, want []Binding) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Fatalf("%s[%d]: got %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func TestAddExchangeAndAlternate(t *testing.T) {
	r := NewRouter("/")
	if !r.AddExchange("a", Direct, "ae") || r.AddExchange("a", Fanout, "") {
		t.Fatal("AddExchange should add once")
	}
	r.AddExchange("ae", Fanout, "")
	r.AddExchange("ae2", Fanout, "")
	r.Bind(Binding{Source: "ae", Destination: q("q1")})
	r.Bind(Binding{Source: "ae2", Destination: q("q2")})
	if got := r.Route("a", []string{"k"}, nil, nil); !slices.Equal(got, []string{"q1"}) {
		t.Fatalf("redeclaring changed the exchange: %v", got)
	}
	r.SetAlternate("a", "ae2")
	if got := r.Route("a", []string{"k"}, nil, nil); !slices.Equal(got, []string{"q2"}) {
		t.Fatalf("after SetAlternate: %v", got)
	}
	r.SetAlternate("a", "")
	if got := r.Route("a", []string{"k"}, nil, nil); len(got) != 0 {
		t.Fatalf("after clearing the alternate: %v", got)
	}
	r.SetAlternate("missing", "ae") // no panic, no effect
	if r.Has("missing") {
		t.Fatal("SetAlternate created an exchange")
	}
}

func TestIDsAreReusedSafely(t *testing.T) {
	// Queues and exchanges come and go; a reused id must never make a
	// route skip a queue because of an earlier route's marks.
	r := NewRouter("/")
	r.AddExchange("f", Fanout, "")
	for round := 0; round < 50; round++ {
		name := fmt.Sprintf("x%d", round)
		r.AddExchange(name, Fanout, "")
		r.Bind(Binding{Source: "f", Destination: x(name)})
		for i := 0; i < 3; i++ {
			r.Bind(Binding{Source: name, Destination: q(fmt.Sprintf("q%d-%d", round, i))})
		}
		if got := r.Route("f", nil, nil, nil); len(got) != 3 {
			t.Fatalf("round %d: got %v", round, got)
		}
		for i := 0; i < 3; i++ {
			r.RemoveDestination(q(fmt.Sprintf("q%d-%d", round, i)))
		}
		r.RemoveExchange(name)
	}
	if len(r.queues) != 0 || len(r.in) != 0 {
		t.Fatalf("leaked %d queue refs, %d destination indexes", len(r.queues), len(r.in))
	}
}

func TestRouteDoesNotAllocate(t *testing.T) {
	r := NewRouter("/")
	r.AddExchange("d", Direct, "")
	r.AddExchange("f", Fanout, "")
	r.AddExchange("t", Topic, "")
	r.AddExchange("h", Headers, "")
	r.AddExchange("ae", Fanout, "")
	r.SetAlternate("d", "ae")
	for i := 0; i < 10; i++ {
		r.Bind(Binding{Source: "d", Destination: q(fmt.Sprintf("d%d", i)), Key: "k"})
		r.Bind(Binding{Source: "f", Destination: q(fmt.Sprintf("f%d", i))})
		r.Bind(Binding{Source: "t", Destination: q(fmt.Sprintf("t%d", i)), Key: fmt.Sprintf("a.*.%d.#", i)})
		r.Bind(Binding{Source: "h", Destination: q(fmt.Sprintf("h%d", i)), Args: protocol.Table{"x-match": "any", "n": int32(i)}})
	}
	r.Bind(Binding{Source: "t", Destination: q("hostile"), Key: "#.#.#.a"})
	r.Bind(Binding{Source: "ae", Destination: q("ae")})
	r.Bind(Binding{Source: "f", Destination: x("d"), Key: ""})
	headers := protocol.Table{"n": int64(3)}
	tests := []struct {
		name string
		from string
		keys []string
		want int
	}{
		{"direct", "d", []string{"k"}, 10},
		{"direct CC", "d", []string{"k", "j", "k"}, 10},
		{"direct to alternate", "d", []string{"j"}, 1},
		{"fanout and e2e", "f", []string{"k"}, 20},
		{"topic", "t", []string{"a.b.3.c.d"}, 1},
		{"topic memo", "t", []string{"a.b.c.d.e.f.a"}, 1},
		{"headers", "h", nil, 1},
	}
	out := make([]string, 0, 64)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Route(tt.from, tt.keys, headers, out[:0]); len(got) != tt.want {
				t.Fatalf("routed to %v, want %d queues", got, tt.want)
			}
			allocs := testing.AllocsPerRun(100, func() {
				out = r.Route(tt.from, tt.keys, headers, out[:0])
			})
			if allocs != 0 && !raceEnabled {
				t.Fatalf("%v allocations per route", allocs)
			}
		})
	}
}

func TestConcurrentRouteAndBind(t *testing.T) {
	// Publishers route while others bind, unbind and delete; the stable
	// binding is always honoured and -race sees no data race.
	r := NewRouter("/")
	r.AddExchange("t", Topic, "")
	r.AddExchange("f", Fanout, "")
	r.Bind(Binding{Source: "t", Destination: q("stable"), Key: "a.#"})
	r.Bind(Binding{Source: "t", Destination: x("f"), Key: "*.b"})

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]string, 0, 64)
			for i := 0; !stop.Load() || i < 200; i++ {
				out = r.Route("t", []string{"a.b"}, nil, out[:0])
				if !slices.Contains(out, "stable") {
					errs <- fmt.Sprintf("stable binding missed: %v", out)
					return
				}
				if len(out) != len(slices.Compact(slices.Sorted(slices.Values(out)))) {
					errs <- fmt.Sprintf("duplicate queue: %v", out)
					return
				}
			}
		}()
	}
	for i := 0; i < 500; i++ {
		name := fmt.Sprintf("q%d", i%50)
		b := Binding{Source: "t", Destination: q(name), Key: fmt.Sprintf("a.%d.#", i%7)}
		r.Bind(b)
		r.Bind(Binding{Source: "f", Destination: q(name)})
		if i%3 == 0 {
			r.Unbind(b)
		}
		if i%11 == 0 {
			r.RemoveDestination(q(name))
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
