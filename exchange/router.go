package exchange

import (
	"slices"
	"sync"

	"github.com/warrenmq/warren/protocol"
)

// Router holds the exchanges and bindings of one virtual host and routes
// messages through them. It is safe for concurrent use. Routing takes the
// read side of a RWMutex, so any number of publishers route at once;
// declaring, deleting, binding and unbinding take the write side and cost
// O(1) (plus the binding key's length), so a vhost with a million bindings
// changes as cheaply as an empty one. A copy-on-write snapshot was the
// alternative: it would save publishers the read lock's shared counter but
// make every binding change copy the exchange's table.
type Router struct {
	vhost string

	mu        sync.RWMutex
	exchanges map[string]*exchange
	queues    map[string]*queueRef
	in        map[Destination]map[*binding]struct{}
	seq       uint64
	xids      idAllocator
	qids      idAllocator

	scratch sync.Pool // *scratch
}

// exchange is one exchange and the bindings that route from it.
type exchange struct {
	name      string
	id        uint32
	kind      Kind
	alternate string

	// The routing table; which one is used depends on kind.
	direct  map[string][]target
	fanout  []target
	topic   *topicTrie
	headers []*binding

	// out indexes the bindings from this exchange by destination and key,
	// for identity checks, unbinding and listing.
	out  map[outKey][]*binding
	nOut int
}

type outKey struct {
	dest Destination
	key  string
}

// idAllocator hands out small integer ids and reuses freed ones, so the
// per-route visited marks stay as small as the live set.
type idAllocator struct {
	next uint32
	free []uint32
}

func (a *idAllocator) get() uint32 {
	if n := len(a.free); n > 0 {
		id := a.free[n-1]
		a.free = a.free[:n-1]
		return id
	}
	id := a.next
	a.next++
	return id
}

func (a *idAllocator) put(id uint32) { a.free = append(a.free, id) }

// NewRouter returns an empty router for the virtual host vhost, which it
// uses only in error texts.
func NewRouter(vhost string) *Router {
	r := &Router{
		vhost:     vhost,
		exchanges: make(map[string]*exchange),
		queues:    make(map[string]*queueRef),
		in:        make(map[Destination]map[*binding]struct{}),
	}
	r.scratch.New = func() any { return new(scratch) }
	return r
}

// AddExchange adds an exchange of the given kind whose alternate exchange
// is alternate ("" for none), and reports whether it was added: an
// exchange of that name that already exists is left as it is, since
// whether a redeclaration is equivalent is the broker's question.
func (r *Router) AddExchange(name string, kind Kind, alternate string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.exchanges[name]; ok {
		return false
	}
	x := &exchange{
		name:      name,
		id:        r.xids.get(),
		kind:      kind,
		alternate: alternate,
		out:       make(map[outKey][]*binding),
	}
	switch kind {
	case Direct:
		x.direct = make(map[string][]target)
	case Topic:
		x.topic = &topicTrie{}
	}
	r.exchanges[name] = x
	return true
}

// RemoveExchange deletes an exchange with every binding from it and every
// binding to it, and returns those bindings (in listing order) so the broker
// can apply auto-delete to source exchanges left without bindings. It
// returns nil when there is no such exchange.
func (r *Router) RemoveExchange(name string) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	x, ok := r.exchanges[name]
	if !ok {
		return nil
	}
	var removed []*binding
	for _, bs := range x.out {
		for _, b := range bs {
			r.detach(x, b)
			removed = append(removed, b)
		}
	}
	clear(x.out)
	x.nOut = 0
	// Bindings to x; one from x to itself is already gone.
	removed = append(removed, r.removeTo(Destination{Name: name, Exchange: true})...)
	delete(r.exchanges, name)
	r.xids.put(x.id)
	return sorted(removed)
}

// SetAlternate sets the alternate exchange of an exchange ("" for none), as
// a policy can. It does nothing when there is no such exchange.
func (r *Router) SetAlternate(name, alternate string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if x, ok := r.exchanges[name]; ok {
		x.alternate = alternate
	}
}

// Has reports whether the exchange exists.
func (r *Router) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.exchanges[name]
	return ok
}

// Bind adds a binding and reports whether it is new; binding what is
// already bound is not an error and changes nothing. The source exchange,
// and the destination when it is an exchange, must exist (404 NOT_FOUND,
// "no exchange 'x' in vhost '/'"); a queue destination is the broker's to
// check. A headers binding with a bad x-match fails as in RabbitMQ (406).
func (r *Router) Bind(b Binding) (added bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	src, ok := r.exchanges[b.Source]
	if !ok {
		return false, r.noExchange(b.Source)
	}
	var tg target
	if b.Destination.Exchange {
		dx, ok := r.exchanges[b.Destination.Name]
		if !ok {
			return false, r.noExchange(b.Destination.Name)
		}
		tg.x = dx
	}
	if src.kind == Headers {
		if err := validateXMatch(b.Args); err != nil {
			return false, err
		}
	}
	k := outKey{dest: b.Destination, key: b.Key}
	for _, e := range src.out[k] {
		if tablesEqual(e.Args, b.Args) {
			return false, nil
		}
	}
	if tg.x == nil {
		tg.q = r.queueRef(b.Destination.Name)
	}
	r.seq++
	nb := &binding{Binding: b, seq: r.seq, target: tg}
	switch src.kind {
	case Direct:
		src.direct[b.Key] = append(src.direct[b.Key], tg)
	case Fanout:
		src.fanout = append(src.fanout, tg)
	case Topic:
		src.topic.add(b.Key, tg)
	case Headers:
		nb.headers = newHeadersMatcher(b.Args)
		src.headers = append(src.headers, nb)
	}
	src.out[k] = append(src.out[k], nb)
	src.nOut++
	set := r.in[b.Destination]
	if set == nil {
		set = make(map[*binding]struct{})
		r.in[b.Destination] = set
	}
	set[nb] = struct{}{}
	return true, nil
}

// Unbind removes a binding and reports whether it was there.
func (r *Router) Unbind(b Binding) (removed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	src, ok := r.exchanges[b.Source]
	if !ok {
		return false
	}
	k := outKey{dest: b.Destination, key: b.Key}
	bs := src.out[k]
	for i, e := range bs {
		if tablesEqual(e.Args, b.Args) {
			src.dropOut(k, i)
			r.detach(src, e)
			return true
		}
	}
	return false
}

// RemoveDestination removes every binding to a queue or exchange that is
// being deleted and returns them (in listing order), so the broker can
// auto-delete source exchanges left without bindings.
func (r *Router) RemoveDestination(dest Destination) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sorted(r.removeTo(dest))
}

// BindingsFrom returns the bindings whose source is the exchange, in
// listing order.
func (r *Router) BindingsFrom(exchange string) []Binding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	x, ok := r.exchanges[exchange]
	if !ok {
		return nil
	}
	var bs []*binding
	for _, l := range x.out {
		bs = append(bs, l...)
	}
	return sorted(bs)
}

// BindingsTo returns the bindings to a queue or exchange, in listing order.
func (r *Router) BindingsTo(dest Destination) []Binding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var bs []*binding
	for b := range r.in[dest] {
		bs = append(bs, b)
	}
	return sorted(bs)
}

// HasBindingsFrom reports whether any binding has the exchange as its
// source (exchange.delete if-unused, auto-delete).
func (r *Router) HasBindingsFrom(exchange string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	x, ok := r.exchanges[exchange]
	return ok && x.nOut > 0
}

// HasBindingsTo reports whether any binding has dest as its destination
// (exchange.delete if-unused counts these too).
func (r *Router) HasBindingsTo(dest Destination) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.in[dest]) > 0
}

// Bindings returns every binding of the virtual host, ordered by source,
// destination (queues first), destination name, key, then age.
func (r *Router) Bindings() []Binding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var bs []*binding
	for _, x := range r.exchanges {
		for _, l := range x.out {
			bs = append(bs, l...)
		}
	}
	return sorted(bs)
}

func (r *Router) noExchange(name string) error {
	return protocol.NewError(protocol.NotFound, "no exchange '%s' in vhost '%s'", name, r.vhost)
}

// queueRef returns the interned reference to a queue, counting one more
// binding to it.
func (r *Router) queueRef(name string) *queueRef {
	q, ok := r.queues[name]
	if !ok {
		q = &queueRef{name: name, id: r.qids.get()}
		r.queues[name] = q
	}
	q.refs++
	return q
}

// removeTo removes every binding to dest from its source's index and
// routing table.
func (r *Router) removeTo(dest Destination) []*binding {
	set := r.in[dest]
	removed := make([]*binding, 0, len(set))
	for b := range set {
		removed = append(removed, b)
	}
	for _, b := range removed {
		src := r.exchanges[b.Source]
		k := outKey{dest: b.Destination, key: b.Key}
		if i := slices.Index(src.out[k], b); i >= 0 {
			src.dropOut(k, i)
		}
		r.detach(src, b)
	}
	return removed
}

// dropOut removes the i-th binding under k from the exchange's index.
func (x *exchange) dropOut(k outKey, i int) {
	bs := slices.Delete(x.out[k], i, i+1)
	if len(bs) == 0 {
		delete(x.out, k)
	} else {
		x.out[k] = bs
	}
	x.nOut--
}

// detach removes b from its source's routing table and from the
// destination index, and releases its queue reference. The caller removes
// it from src.out.
func (r *Router) detach(src *exchange, b *binding) {
	switch src.kind {
	case Direct:
		ts := src.direct[b.Key]
		removeTarget(&ts, b.target)
		if len(ts) == 0 {
			delete(src.direct, b.Key)
		} else {
			src.direct[b.Key] = ts
		}
	case Fanout:
		removeTarget(&src.fanout, b.target)
	case Topic:
		src.topic.remove(b.Key, b.target)
	case Headers:
		if i := slices.Index(src.headers, b); i >= 0 {
			src.headers = slices.Delete(src.headers, i, i+1)
		}
	}
	if set := r.in[b.Destination]; set != nil {
		delete(set, b)
		if len(set) == 0 {
			delete(r.in, b.Destination)
		}
	}
	if q := b.target.q; q != nil {
		q.refs--
		if q.refs == 0 {
			delete(r.queues, q.name)
			r.qids.put(q.id)
		}
	}
}

// sorted returns copies of bs in listing order.
func sorted(bs []*binding) []Binding {
	if len(bs) == 0 {
		return nil
	}
	slices.SortFunc(bs, compareBindings)
	out := make([]Binding, len(bs))
	for i, b := range bs {
		out[i] = b.Binding
	}
	return out
}
