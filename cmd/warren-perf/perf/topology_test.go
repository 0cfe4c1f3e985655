package perf

import (
	"slices"
	"testing"
)

func TestTopicMatch(t *testing.T) {
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"a.b.c", "a.b.c", true},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.b.c", false},
		{"a.#", "a", true},
		{"a.#", "a.b.c", true},
		{"#.c", "a.b.c", true},
		{"#", "", true},
		{"a.#.c", "a.c", true},
		{"*", "", true}, // RabbitMQ: an empty key is one empty word
		{"a.*", "a", false},
		{"perf.q1.k3.*", "perf.q1.k3.m", true},
		{"perf.q1.k3.#", "perf.q1.k30.m", false},
	}
	for _, c := range cases {
		if got := topicMatch(c.pattern, c.key); got != c.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
	}
}

func TestTopologyRoutes(t *testing.T) {
	cases := []struct {
		name       string
		cfg        func(c *Config)
		keys       int
		exchange   bool
		routesOf0  []int
		deliveries int // summed over all keys
	}{
		{"plain direct uses the default exchange", func(c *Config) { c.Queues = 3 }, 3, false, []int{0}, 3},
		{"fanout reaches every queue", func(c *Config) { c.ExchangeType, c.Queues = ExchangeFanout, 4 }, 1, true, []int{0, 1, 2, 3}, 4},
		{"topic bindings route to one queue each", func(c *Config) {
			c.ExchangeType, c.Queues, c.BindingsPerQueue = ExchangeTopic, 10, 100
		}, 1000, true, []int{0}, 1000},
		{"headers bindings", func(c *Config) { c.ExchangeType, c.Queues = ExchangeHeaders, 2 }, 2, true, []int{0}, 2},
		{"user keys bind every queue", func(c *Config) {
			c.ExchangeType, c.Queues, c.RoutingKeys, c.BindingKeys = ExchangeTopic, 2, []string{"x.y", "z"}, []string{"x.*"}
		}, 2, true, []int{0, 1}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.cfg(&c)
			topo := newTopology(&c, "p")
			if len(topo.keys) != tc.keys {
				t.Fatalf("%d keys, want %d", len(topo.keys), tc.keys)
			}
			if (topo.exchange != "") != tc.exchange {
				t.Errorf("exchange %q, want named=%v", topo.exchange, tc.exchange)
			}
			if !slices.Equal(topo.routes[0], tc.routesOf0) {
				t.Errorf("key %q reaches %v, want %v", topo.keys[0], topo.routes[0], tc.routesOf0)
			}
			n := 0
			for _, r := range topo.routes {
				n += len(r)
			}
			if n != tc.deliveries {
				t.Errorf("%d deliveries over all keys, want %d", n, tc.deliveries)
			}
		})
	}
}

func TestLedgerFindsLostAndDuplicateMessages(t *testing.T) {
	c := DefaultConfig()
	c.ExchangeType, c.Queues, c.Producers = ExchangeFanout, 2, 2
	topo := newTopology(&c, "p")
	l := newLedger(topo, 2)
	l.producers[0].published.Store(3) // seqs 0,1,2 of producer 0
	l.producers[1].published.Store(2) // seqs 0,1 of producer 1
	for q := range 2 {
		for seq := range uint64(3) {
			if q == 1 && seq == 2 {
				continue // lost in queue 1
			}
			l.receive(q, Stamp{Producer: 0, Seq: seq})
		}
		l.receive(q, Stamp{Producer: 1, Seq: 0})
	}
	l.exclude(1, 1) // nacked: not expected anywhere
	if dup, _ := l.receive(0, Stamp{Producer: 0, Seq: 1}); !dup {
		t.Error("a second delivery of (0,1) on queue 0 was not a duplicate")
	}
	if _, unexpected := l.receive(0, Stamp{Producer: 1, Seq: 7}); !unexpected {
		t.Error("a seq never published was not unexpected")
	}
	got := l.settle()
	want := tally{expected: 8, received: 7, lost: 1, duplicates: 1, unexpected: 1}
	if got != want {
		t.Errorf("settle = %+v, want %+v", got, want)
	}
	if exp, rec := l.expectedDeliveries(); exp != 8 || rec != 7 {
		t.Errorf("expectedDeliveries = %d, %d; want 8, 7", exp, rec)
	}
}

func TestLedgerFlagsMisroutedDeliveries(t *testing.T) {
	c := DefaultConfig()
	c.ExchangeType, c.Queues, c.BindingsPerQueue = ExchangeTopic, 2, 3
	topo := newTopology(&c, "p")
	l := newLedger(topo, 1)
	l.producers[0].published.Store(6)
	for seq := range uint64(6) {
		right := topo.routes[topo.keyIndex(0, seq)][0]
		if _, unexpected := l.receive(right, Stamp{Seq: seq}); unexpected {
			t.Errorf("seq %d on its own queue %d counted unexpected", seq, right)
		}
		if _, unexpected := l.receive(1-right, Stamp{Seq: seq}); !unexpected {
			t.Errorf("seq %d delivered to queue %d, which no binding routes it to, was accepted", seq, 1-right)
		}
	}
	if got := l.settle(); got.lost != 0 || got.unexpected != 6 || got.received != 6 {
		t.Errorf("settle = %+v, want 6 received, 6 unexpected, none lost", got)
	}
}

func TestLedgerOfAnEmptyRun(t *testing.T) {
	c := DefaultConfig()
	l := newLedger(newTopology(&c, "p"), 1)
	if got := l.settle(); got != (tally{}) {
		t.Errorf("settle of a run that published nothing = %+v, want all zero", got)
	}
}

func TestParseQueueArgs(t *testing.T) {
	args, err := ParseQueueArgs("x-queue-type=quorum, x-max-length=1000,x-single-active-consumer=true")
	if err != nil {
		t.Fatal(err)
	}
	if args["x-queue-type"] != "quorum" || args["x-max-length"] != int64(1000) || args["x-single-active-consumer"] != true {
		t.Errorf("parsed %#v", args)
	}
	if _, err := ParseQueueArgs("novalue"); err == nil {
		t.Error("an argument without = parsed")
	}
}

func TestValidateRejectsWhatCannotRun(t *testing.T) {
	cases := map[string]func(c *Config){
		"no URL":                 func(c *Config) { c.URIs = nil },
		"http URL":               func(c *Config) { c.URIs = []string{"http://x"} },
		"no end":                 func(c *Config) { c.Duration, c.Count = 0, 0 },
		"unknown exchange type":  func(c *Config) { c.ExchangeType = "x-delayed" },
		"multi-ack over qos":     func(c *Config) { c.MultiAckEvery, c.Prefetch = 200, 100 },
		"in flight without cons": func(c *Config) { c.MaxInFlight, c.Consumers = 1, 0 },
	}
	for name, f := range cases {
		c := DefaultConfig()
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
	c := DefaultConfig()
	c.Size = 1
	if err := c.Validate(); err != nil || c.Size != StampSize {
		t.Errorf("size 1: err %v, size %d; want nil and %d", err, c.Size, StampSize)
	}
}
