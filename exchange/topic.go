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
	isHash  bool   // word is "#"
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
	c := &topicNode{id: t.nextID, parent: parent, word: w, isHash: w == "#"}
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
	seen     visitSet
	seenUsed bool
}

// match appends to m.out the destinations of every binding key that matches
// m.words. A destination may be appended more than once.
func (t *topicTrie) match(m *topicMatch) {
	m.walk(&t.root, 0, 0)
	if m.seenUsed {
		m.seen.reset()
		m.seenUsed = false
	}
}

func (m *topicMatch) walk(n *topicNode, pos, hashes int) {
	if hashes >= 2 {
		m.seenUsed = true
		if !m.seen.add(uint64(n.id)<<32 | uint64(pos)) {
			return
		}
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
		m.walk(n.hash, pos, hashes+1)
	}
	if n.isHash {
		// "#" takes one more word and stays where it is; with the
		// visited set this keeps a walk at O(nodes × words) states.
		m.walk(n, pos+1, hashes)
	}
}

// visitSet is a set of uint64 with O(1) reset: an open-addressing table
// whose slots count as empty unless stamped with the current generation.
type visitSet struct {
	keys []uint64
	gens []uint32
	gen  uint32
	n    int
}

// reset empties the set.
func (v *visitSet) reset() {
	v.n = 0
	v.gen++
	if v.gen == 0 {
		clear(v.gens)
		v.gen = 1
	}
}

// add inserts k and reports whether it was absent.
func (v *visitSet) add(k uint64) bool {
	if v.gen == 0 {
		v.gen = 1
	}
	if 2*(v.n+1) > len(v.keys) {
		v.grow()
	}
	mask := uint64(len(v.keys) - 1)
	for i := (k * 0x9E3779B97F4A7C15 >> 32) & mask; ; i = (i + 1) & mask {
		if v.gens[i] != v.gen {
			v.gens[i], v.keys[i] = v.gen, k
			v.n++
			return true
		}
		if v.keys[i] == k {
			return false
		}
	}
}

func (v *visitSet) grow() {
	keys, gens, gen := v.keys, v.gens, v.gen
	size := max(64, 2*len(keys))
	v.keys, v.gens, v.gen, v.n = make([]uint64, size), make([]uint32, size), 1, 0
	for i := range keys {
		if gens[i] == gen {
			v.add(keys[i])
		}
	}
}
