package exchange

import (
	"fmt"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

var markets = []string{"nyse", "nasdaq", "lse", "tse", "hkex"}

// stockTopic builds a topic exchange with n bindings shaped like a market
// data feed: mostly exact "stock.<sym>.<market>" keys, plus per-symbol
// "stock.<sym>.*" and "stock.<sym>.#", per-market "stock.*.<market>" and a
// few "#.<market>" catch-alls. It returns the router and routing keys that
// hit a mix of them.
func stockTopic(b *testing.B, n int) (*Router, []string) {
	r := NewRouter("/")
	r.AddExchange("t", Topic, "")
	symbols := n / 5
	for i := 0; i < n; i++ {
		sym := fmt.Sprintf("SYM%05d", i%symbols)
		mkt := markets[i%len(markets)]
		var key string
		switch i % 20 {
		case 0, 1, 2:
			key = "stock." + sym + ".*"
		case 3:
			key = "stock." + sym + ".#"
		case 4:
			key = "stock.*." + mkt
		case 5:
			if i%100 == 5 {
				key = "#." + mkt
			} else {
				key = "stock." + sym + "." + mkt
			}
		default:
			key = "stock." + sym + "." + mkt
		}
		if _, err := r.Bind(Binding{Source: "t", Destination: Destination{Name: fmt.Sprintf("q%d", i)}, Key: key}); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("stock.SYM%05d.%s", (i*7919)%symbols, markets[i%len(markets)])
	}
	return r, keys
}

func benchmarkTopic(b *testing.B, n int) {
	r, keys := stockTopic(b, n)
	out := make([]string, 0, 4096)
	key := make([]string, 1)
	total := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key[0] = keys[i%len(keys)]
		out = r.Route("t", key, nil, out[:0])
		total += len(out)
	}
	b.ReportMetric(float64(total)/float64(b.N), "queues/op")
}

func BenchmarkRouteTopic1k(b *testing.B)  { benchmarkTopic(b, 1_000) }
func BenchmarkRouteTopic10k(b *testing.B) { benchmarkTopic(b, 10_000) }

func BenchmarkRouteTopic10kParallel(b *testing.B) {
	r, keys := stockTopic(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		out := make([]string, 0, 4096)
		key := make([]string, 1)
		i := 0
		for pb.Next() {
			key[0] = keys[i%len(keys)]
			out = r.Route("t", key, nil, out[:0])
			i++
		}
	})
}

func BenchmarkRouteTopicHostile(b *testing.B) {
	r := NewRouter("/")
	r.AddExchange("t", Topic, "")
	r.Bind(Binding{Source: "t", Destination: Destination{Name: "q"}, Key: "#.#.#.#.#.#.#.#.z"})
	key := []string{"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z"}
	out := make([]string, 0, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = r.Route("t", key, nil, out[:0])
	}
}

func BenchmarkRouteDirect10k(b *testing.B) {
	r := NewRouter("/")
	r.AddExchange("d", Direct, "")
	const n = 10_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("order.%d", i)
		r.Bind(Binding{Source: "d", Destination: Destination{Name: fmt.Sprintf("q%d", i)}, Key: keys[i]})
	}
	out := make([]string, 0, 16)
	key := make([]string, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key[0] = keys[(i*7919)%n]
		out = r.Route("d", key, nil, out[:0])
	}
}

func BenchmarkRouteFanout10(b *testing.B) {
	r := NewRouter("/")
	r.AddExchange("f", Fanout, "")
	for i := 0; i < 10; i++ {
		r.Bind(Binding{Source: "f", Destination: Destination{Name: fmt.Sprintf("q%d", i)}})
	}
	out := make([]string, 0, 16)
	key := []string{"k"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = r.Route("f", key, nil, out[:0])
	}
}

func BenchmarkRouteHeaders100(b *testing.B) {
	r := NewRouter("/")
	r.AddExchange("h", Headers, "")
	for i := 0; i < 100; i++ {
		r.Bind(Binding{Source: "h", Destination: Destination{Name: fmt.Sprintf("q%d", i)},
			Args: protocol.Table{"x-match": "all", "format": "pdf", "type": fmt.Sprintf("t%d", i%10)}})
	}
	headers := protocol.Table{"format": "pdf", "type": "t3", "x-trace": int64(1)}
	out := make([]string, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = r.Route("h", nil, headers, out[:0])
	}
}

func BenchmarkBindUnbindTopic(b *testing.B) {
	r, _ := stockTopic(b, 10_000)
	bd := Binding{Source: "t", Destination: Destination{Name: "extra"}, Key: "stock.*.nyse.#"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Bind(bd)
		r.Unbind(bd)
	}
}

func BenchmarkRouteFanout10Parallel(b *testing.B) {
	r := NewRouter("/")
	r.AddExchange("f", Fanout, "")
	for i := 0; i < 10; i++ {
		r.Bind(Binding{Source: "f", Destination: Destination{Name: fmt.Sprintf("q%d", i)}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		out := make([]string, 0, 16)
		key := []string{"k"}
		for pb.Next() {
			out = r.Route("f", key, nil, out[:0])
		}
	})
}
