package exchange

// A topic exchange keeps its binding keys in a word trie. Each edge is one
// word of a binding key; the wildcards "*" and "#" get their own edges so
// routing never hashes them. Binding keys and routing keys are split the way
// RabbitMQ splits them: the empty key has no words at all, and any other key
// is every run between dots, so "a..b" is three words and "a." is two, the
// second one empty.

// topicNode is one trie node: the destinations of the binding keys that end
// here and the edges to longer keys.
type topicNode struct {
	id      uint32
	parent  *topicNode
	word    string // the edge from parent to this node
	words   map[string]*topicNode
	star    *topicNode
	hash    *topicNode
	targets []target
}

// topicTrie is the routing table of one topic exchange.
type topicTrie struct {
	root   topicNode
	nextID uint32
}

// forEachWord calls fn with each word of a topic key, split as RabbitMQ
// splits it. It does not allocate.
func forEachWord(key string, fn func(w string)) {
	if key == "" {
		return
	}
	start := 0
	for i := 0; i < len(key); i++ {
		if key[i] == '.' {
			fn(key[start:i])
			start = i + 1
		}
	}
	fn(key[start:])
}

// splitWords appends the words of key to dst and returns it; the words are
// substrings of key, so nothing is copied.
func splitWords(dst []string, key string) []string {
	if key == "" {
		return dst
	}
	start := 0
	for i := 0; i < len(key); i++ {
		if key[i] == '.' {
			dst = append(dst, key[start:i])
			start = i + 1
		}
	}
	return append(dst, key[start:])
}

func (n *topicNode) child(w string) *topicNode {
	switch w {
	case "*":
		return n.star
	case "#":
		return n.hash
	}
	return n.words[w]
}

func (t *topicTrie) newNode(parent *topicNode, w string) *topicNode {
	t.nextID++
	c := &topicNode{id: t.nextID, parent: parent, word: w}
	switch w {
	case "*":
		parent.star = c
	case "#":
		parent.hash = c
	default:
		if parent.words == nil {
			parent.words = make(map[string]*topicNode)
		}
		parent.words[w] = c
	}
	return c
}

// add records that a binding with key routes to tg.
func (t *topicTrie) add(key string, tg target) {
	n := &t.root
	forEachWord(key, func(w string) {
		c := n.child(w)
		if c == nil {
			c = t.newNode(n, w)
		}
		n = c
	})
	n.targets = append(n.targets, tg)
}

// remove forgets one binding with key to tg and prunes nodes left empty.
func (t *topicTrie) remove(key string, tg target) {
	n := &t.root
	forEachWord(key, func(w string) {
		if n != nil {
			n = n.child(w)
		}
	})
	if n == nil || !removeTarget(&n.targets, tg) {
		return
	}
	for n != &t.root && len(n.targets) == 0 && len(n.words) == 0 && n.star == nil && n.hash == nil {
		p := n.parent
		switch n.word {
		case "*":
			p.star = nil
		case "#":
			p.hash = nil
		default:
			delete(p.words, n.word)
		}
		n = p
	}
}

// empty reports whether the trie holds no binding.
func (t *topicTrie) empty() bool {
	r := &t.root
	return len(r.targets) == 0 && len(r.words) == 0 && r.star == nil && r.hash == nil
}

// topicMatch is the state of one routing key's walk through a trie.
type topicMatch struct {
	words []string
	out   []target
	// seen records visited (node, position) states once two "#" edges
	// are on the path; only then can a state be reached twice, and
	// without it hostile keys like "#.#.#.#" cost exponential time.
	seen     map[uint64]struct{}
	seenUsed bool
}

// match appends to m.out the destinations of every binding key that matches
// m.words. A destination may be appended more than once.
func (t *topicTrie) match(m *topicMatch) {
	m.walk(&t.root, 0, 0)
	if m.seenUsed {
		clear(m.seen)
		m.seenUsed = false
	}
}

func (m *topicMatch) walk(n *topicNode, pos, hashes int) {
	if hashes >= 2 {
		k := uint64(n.id)<<32 | uint64(pos)
		if m.seen == nil {
			m.seen = make(map[uint64]struct{})
		}
		if _, ok := m.seen[k]; ok {
			return
		}
		m.seen[k] = struct{}{}
		m.seenUsed = true
	}
	if pos == len(m.words) {
		m.out = append(m.out, n.targets...)
		if n.hash != nil {
			m.walk(n.hash, pos, hashes+1)
		}
		return
	}
	if n.words != nil {
		if c := n.words[m.words[pos]]; c != nil {
			m.walk(c, pos+1, hashes)
		}
	}
	if n.star != nil {
		m.walk(n.star, pos+1, hashes)
	}
	if n.hash != nil {
		for p := pos; p <= len(m.words); p++ {
			m.walk(n.hash, p, hashes+1)
		}
	}
}
