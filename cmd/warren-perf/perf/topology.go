package perf

import (
	"fmt"
	"strings"
)

// topology is what a run declares and how its messages route: which queues
// exist, how each is bound, which routing keys each producer cycles through,
// and, for each key, the queues it reaches. The tool computes the routing
// itself so that it knows exactly which queues must receive each message.
type topology struct {
	exchange     string     // "" is the default exchange
	ownExchange  bool       // declared by the run, deleted afterwards
	exchangeType string     // direct, fanout, topic or headers
	queues       []string   // queue names
	ownQueues    bool       // generated names, deleted afterwards
	bindings     [][]string // per queue, its binding keys (nil on the default exchange)
	keys         []string   // routing keys producers cycle through
	routes       [][]int    // per key index, the queues it reaches
}

// headerKey is the message header the headers exchange matches on.
const headerKey = "perf-key"

// newTopology works out names, bindings and routes for a config. prefix
// names generated queues and the generated exchange.
func newTopology(c *Config, prefix string) *topology {
	t := &topology{exchangeType: c.ExchangeType, exchange: c.Exchange}
	qp := c.QueuePrefix
	t.ownQueues = qp == ""
	if qp == "" {
		qp = prefix
	}
	for i := range c.Queues {
		t.queues = append(t.queues, fmt.Sprintf("%s-%d", qp, i))
	}
	plain := c.ExchangeType == ExchangeDirect && len(c.RoutingKeys) == 0 &&
		len(c.BindingKeys) == 0 && c.BindingsPerQueue == 1
	if t.exchange == "" && !plain {
		t.exchange = prefix + "-x"
		t.ownExchange = true
	}
	t.bindings = make([][]string, len(t.queues))
	switch {
	case t.exchange == "":
		// The default exchange: each queue is reachable by its own name.
		t.keys = append(t.keys, t.queues...)
	case len(c.BindingKeys) > 0 || len(c.RoutingKeys) > 0:
		bk := c.BindingKeys
		if len(bk) == 0 {
			bk = c.RoutingKeys
		}
		for q := range t.queues {
			t.bindings[q] = bk
		}
		t.keys = c.RoutingKeys
		if len(t.keys) == 0 {
			t.keys = bk
		}
	default:
		// Generated keys, ordered so that consecutive keys hit different
		// queues: key i belongs to queue i%Q, binding i/Q.
		for j := range c.BindingsPerQueue {
			for q, name := range t.queues {
				bind, key := generatedKey(c.ExchangeType, name, q, j)
				t.bindings[q] = append(t.bindings[q], bind)
				if c.ExchangeType != ExchangeFanout || q == 0 {
					// A fanout key reaches every queue: one per binding round.
					t.keys = append(t.keys, key)
				}
			}
		}
	}
	t.routes = make([][]int, len(t.keys))
	for k, key := range t.keys {
		for q := range t.queues {
			if t.reaches(q, key) {
				t.routes[k] = append(t.routes[k], q)
			}
		}
	}
	return t
}

// generatedKey returns the binding key and a matching routing key for
// binding j of queue q. Topic bindings alternate between * and # patterns.
func generatedKey(typ, name string, q, j int) (bind, key string) {
	switch typ {
	case ExchangeTopic:
		key = fmt.Sprintf("perf.q%d.k%d.m", q, j)
		if j%2 == 0 {
			return fmt.Sprintf("perf.q%d.k%d.*", q, j), key
		}
		return fmt.Sprintf("perf.q%d.k%d.#", q, j), key
	case ExchangeFanout:
		return "", fmt.Sprintf("perf.%d", j)
	default:
		key = fmt.Sprintf("%s.%d", name, j)
		return key, key
	}
}

// reaches reports whether a message with this key is routed to queue q.
func (t *topology) reaches(q int, key string) bool {
	if t.exchange == "" {
		return t.queues[q] == key
	}
	if t.exchangeType == ExchangeFanout {
		return true
	}
	for _, b := range t.bindings[q] {
		if t.exchangeType == ExchangeTopic && topicMatch(b, key) || b == key {
			return true
		}
	}
	return false
}

// keyIndex is the routing key producer p uses for its message seq; producers
// start at different keys so that several spread over the queues.
func (t *topology) keyIndex(p int, seq uint64) int {
	if len(t.keys) == 0 {
		return 0
	}
	return int((seq + uint64(p)) % uint64(len(t.keys)))
}

// topicMatch reports whether a topic routing key matches a binding pattern:
// words are dot-separated, * matches one word and # zero or more.
func topicMatch(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

func matchWords(p, k []string) bool {
	for len(p) > 0 {
		if p[0] == "#" {
			for i := 0; i <= len(k); i++ {
				if matchWords(p[1:], k[i:]) {
					return true
				}
			}
			return false
		}
		if len(k) == 0 || (p[0] != "*" && p[0] != k[0]) {
			return false
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}
