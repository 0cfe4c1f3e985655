package exchange

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// refSplit splits a topic key as RabbitMQ does: "" has no words.
func refSplit(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

// refMatch is the plain reference for topic matching: does the binding
// pattern match the routing key? p[i:] against w[j:], memoized.
func refMatch(pattern, key string) bool {
	p, w := refSplit(pattern), refSplit(key)
	memo := make(map[[2]int]bool)
	var m func(i, j int) bool
	m = func(i, j int) bool {
		if r, ok := memo[[2]int{i, j}]; ok {
			return r
		}
		var r bool
		switch {
		case i == len(p):
			r = j == len(w)
		case p[i] == "#":
			r = m(i+1, j) || (j < len(w) && m(i, j+1))
		case p[i] == "*":
			r = j < len(w) && m(i+1, j+1)
		default:
			r = j < len(w) && w[j] == p[i] && m(i+1, j+1)
		}
		memo[[2]int{i, j}] = r
		return r
	}
	return m(0, 0)
}

// topicRouter binds queue "q<i>" to pattern i on topic exchange "t".
func topicRouter(t testing.TB, patterns []string) *Router {
	t.Helper()
	r := NewRouter("/")
	r.AddExchange("t", Topic, "")
	for i, p := range patterns {
		if _, err := r.Bind(Binding{Source: "t", Destination: Destination{Name: fmt.Sprintf("q%d", i)}, Key: p}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// wantTopic lists the queues the reference says the key reaches.
func wantTopic(patterns []string, key string, skip func(i int) bool) []string {
	var want []string
	for i, p := range patterns {
		if (skip == nil || !skip(i)) && refMatch(p, key) {
			want = append(want, fmt.Sprintf("q%d", i))
		}
	}
	slices.Sort(want)
	return want
}

func routeSorted(r *Router, x string, keys ...string) []string {
	got := r.Route(x, keys, nil, nil)
	slices.Sort(got)
	return got
}

func TestTopicMatchEdgeCases(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"#", "", true},
		{"#", "a", true},
		{"#", "a.b.c", true},
		{"#", ".", true},
		{"*", "", false},
		{"*", "a", true},
		{"*", "a.b", false},
		{"*", ".", false},
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"#.#", "", true},
		{"#.#", "a", true},
		{"#.#", "a.b.c", true},
		{"a.#.b", "a.b", true},
		{"a.#.b", "a.x.b", true},
		{"a.#.b", "a.x.y.b", true},
		{"a.#.b", "a.b.c", false},
		{"a.#.b", "a", false},
		{"a.#", "a", true},
		{"a.#", "a.b.c", true},
		{"a.#", "b", false},
		{"#.a", "a", true},
		{"#.a", "x.y.a", true},
		{"#.a", "a.x", false},
		{"a.*.b", "a..b", true},
		{"a..b", "a..b", true},
		{"a..b", "a.b", false},
		{"a.", "a.", true},
		{"a.*", "a.", true},
		{"a.#", "a.", true},
		{"a", "a.", false},
		{"a.", "a", false},
		{"*.*", ".", true},
		{".", ".", true},
		{"#.*", "", false},
		{"#.*", "a", true},
		{"#.*", "a.b.c", true},
		{"*.#", "", false},
		{"*.#", "a", true},
		{"a.#.#.b", "a.b", true},
		{"a.#.#.b", "a.x.y.z.b", true},
		{"#.*.#", "a", true},
		{"#.*.#", "", false},
		{"a*.b", "a*.b", true},
		{"a*", "ab", false},
		{"a#", "a", false},
		{"*", "*", true},
		{"a", "*", false},
		{"#", "#", true},
		{"a", "#", false},
		{"stock.*.nyse", "stock.ibm.nyse", true},
		{"stock.*.nyse", "stock.ibm.lse", false},
		{"stock.#", "stock", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q~%q", tt.pattern, tt.key), func(t *testing.T) {
			if got := refMatch(tt.pattern, tt.key); got != tt.want {
				t.Fatalf("reference says %v, table says %v", got, tt.want)
			}
			r := topicRouter(t, []string{tt.pattern})
			got := len(r.Route("t", []string{tt.key}, nil, nil)) == 1
			if got != tt.want {
				t.Fatalf("pattern %q key %q: routed=%v, want %v", tt.pattern, tt.key, got, tt.want)
			}
		})
	}
}

func TestTopicSharedTrie(t *testing.T) {
	// Many patterns in one trie, every key checked against the reference,
	// then again after half the bindings are removed and pruned.
	patterns := []string{
		"#", "*", "", "a", "a.b", "a.*", "a.#", "*.b", "#.b", "a.#.b", "#.#",
		"a.*.#", "*.*", "a..b", "a.", "#.a.#", "*.#.*", "b.#", "a.b.c",
	}
	keys := []string{"", "a", "b", "a.b", "a.c", "a.b.c", "a..b", "a.", ".", "x.a.y", "a.x.y.b", "b.a"}
	r := topicRouter(t, patterns)
	for _, k := range keys {
		if got, want := routeSorted(r, "t", k), wantTopic(patterns, k, nil); !slices.Equal(got, want) {
			t.Errorf("key %q: got %v, want %v", k, got, want)
		}
	}
	odd := func(i int) bool { return i%2 == 1 }
	for i, p := range patterns {
		if odd(i) && !r.Unbind(Binding{Source: "t", Destination: Destination{Name: fmt.Sprintf("q%d", i)}, Key: p}) {
			t.Fatalf("unbind %q failed", p)
		}
	}
	for _, k := range keys {
		if got, want := routeSorted(r, "t", k), wantTopic(patterns, k, odd); !slices.Equal(got, want) {
			t.Errorf("after unbinding, key %q: got %v, want %v", k, got, want)
		}
	}
}

func TestTopicSameQueueManyPatterns(t *testing.T) {
	r := NewRouter("/")
	r.AddExchange("t", Topic, "")
	for _, p := range []string{"#", "a.*", "a.b", "*.b", "#.#"} {
		if _, err := r.Bind(Binding{Source: "t", Destination: Destination{Name: "q"}, Key: p}); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Route("t", []string{"a.b", "a.b"}, nil, nil); !slices.Equal(got, []string{"q"}) {
		t.Fatalf("got %v, want the queue once", got)
	}
}

func TestTopicHostilePatternsStayPolynomial(t *testing.T) {
	// Without the visited set, twenty "#" against a sixty-word key is
	// beyond any test timeout; with it this is a few thousand steps.
	hashes := strings.Repeat("#.", 20)
	patterns := []string{hashes + "z", hashes + "a", "#.#.#.#.#.#.#.#.#.#"}
	key := strings.TrimSuffix(strings.Repeat("a.", 60), ".")
	r := topicRouter(t, patterns)
	if got, want := routeSorted(r, "t", key), []string{"q1", "q2"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestTopicTriePrunes(t *testing.T) {
	patterns := []string{"a.b.c", "a.*.#", "#", "a.b", ""}
	r := topicRouter(t, patterns)
	for i, p := range patterns {
		r.Unbind(Binding{Source: "t", Destination: Destination{Name: fmt.Sprintf("q%d", i)}, Key: p})
	}
	if x := r.exchanges["t"]; !x.topic.empty() {
		t.Fatalf("trie not empty after every binding was removed: %+v", x.topic.root)
	}
}

func FuzzTopic(f *testing.F) {
	f.Add("#|a.*|a.#.b", "a.x.b")
	f.Add("#.#|*.*||a..b", "a..b")
	f.Add("a.|a.*|*", "a.")
	f.Fuzz(func(t *testing.T, patternList, key string) {
		patterns := strings.Split(patternList, "|")
		if len(patterns) > 16 || len(key) > 255 || len(patternList) > 512 {
			t.Skip()
		}
		r := topicRouter(t, patterns)
		if got, want := routeSorted(r, "t", key), wantTopic(patterns, key, nil); !slices.Equal(got, want) {
			t.Fatalf("patterns %q key %q: got %v, want %v", patterns, key, got, want)
		}
		odd := func(i int) bool { return i%2 == 1 }
		for i, p := range patterns {
			if odd(i) {
				r.Unbind(Binding{Source: "t", Destination: Destination{Name: fmt.Sprintf("q%d", i)}, Key: p})
			}
		}
		if got, want := routeSorted(r, "t", key), wantTopic(patterns, key, odd); !slices.Equal(got, want) {
			t.Fatalf("after unbinding odd patterns %q key %q: got %v, want %v", patterns, key, got, want)
		}
	})
}

func TestVisitSet(t *testing.T) {
	var v visitSet
	for round := 0; round < 3; round++ {
		for k := uint64(0); k < 1000; k++ {
			if !v.add(k<<32 | k) {
				t.Fatalf("round %d: %d reported present before it was added", round, k)
			}
		}
		for k := uint64(0); k < 1000; k++ {
			if v.add(k<<32 | k) {
				t.Fatalf("round %d: %d reported absent after it was added", round, k)
			}
		}
		v.reset()
	}
}
