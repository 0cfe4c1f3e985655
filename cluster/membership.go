package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
)

// MembershipConfig configures a node's membership.
type MembershipConfig struct {
	// Node is this node's name, e.g. warren@host; unique in the cluster.
	Node string
	// Transport is the node's cluster port; gossip runs on it.
	Transport *Transport
	// Meta is what the others learn about this node.
	Meta NodeMeta
	// Seeds are cluster addresses (host:port) to join; they may include
	// this node's own and nodes not started yet. While this node knows no
	// other, they are tried again in the background with back-off, so
	// nodes can start in any order.
	Seeds []string
	// Log receives membership's lines; nil discards them.
	Log *zap.Logger
	// Events, if set, is called for every join, leave, failure and
	// metadata update (this node's own join first), in order, on one
	// goroutine that Membership owns. It must not call Leave or Close.
	Events func(Event)
	// Timing holds the failure detector's and gossip's knobs; zero fields
	// take memberlist's LAN defaults (see LANTiming).
	Timing Timing
}

// ErrNameTaken is returned by Join when another live node of the cluster
// has this node's name.
var ErrNameTaken = errors.New("cluster: node name taken")

// Membership is this node's view of the cluster's members, kept by
// hashicorp/memberlist (SWIM gossip with Lifeguard) over the node's
// cluster port. Its methods are safe for concurrent use.
type Membership struct {
	cfg    MembershipConfig
	timing Timing
	log    *zap.Logger
	gossip *gossipTransport
	ml     *memberlist.Memberlist
	meta   atomic.Pointer[[]byte] // encoded, for memberlist's NodeMeta
	seeds  []string               // without this node's own address

	mu       sync.Mutex
	members  map[string]seen // every node seen, by name
	conflict string          // address holding this node's name, seen in a seed's state
	queue    []pending       // events not yet delivered
	wake     chan struct{}   // capacity 1: the queue has events

	life      sync.Mutex // serialises Leave and Close
	left      bool
	closed    bool
	stopRetry chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
}

// seen is a member as its last event left it, and whether its metadata
// carries the leaving mark, which tells a leave from a failure.
type seen struct {
	Member
	leaving bool
}

// pending is an event with what the dispatcher needs to log it.
type pending struct {
	ev      Event
	metaErr error
}

// Join starts this node's membership on cfg.Transport, makes one attempt
// to join every seed (at once; each bounded by Timing.TCPTimeout) and, if
// none answered, keeps trying in the background. It fails with
// ErrNameTaken when a seed's cluster has a live node of this name at
// another address.
func Join(cfg MembershipConfig) (*Membership, error) {
	if cfg.Node == "" {
		return nil, errors.New("cluster: membership needs a node name")
	}
	if cfg.Transport == nil {
		return nil, errors.New("cluster: membership needs a transport")
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	meta, err := encodeOwnMeta(cfg.Meta)
	if err != nil {
		return nil, err
	}
	m := &Membership{
		cfg:       cfg,
		timing:    cfg.Timing.withDefaults(),
		log:       cfg.Log,
		members:   map[string]seen{},
		wake:      make(chan struct{}, 1),
		stopRetry: make(chan struct{}),
		stop:      make(chan struct{}),
	}
	m.meta.Store(&meta)
	for _, s := range cfg.Seeds {
		if s != cfg.Transport.Addr() && !slices.Contains(m.seeds, s) {
			m.seeds = append(m.seeds, s)
		}
	}
	if m.gossip, err = newGossipTransport(cfg.Transport); err != nil {
		return nil, err
	}
	if m.ml, err = memberlist.Create(m.memberlistConfig()); err != nil {
		m.gossip.Shutdown()
		return nil, fmt.Errorf("cluster: start membership: %w", err)
	}
	m.wg.Add(1)
	go m.dispatch()
	if err := m.joinSeeds(); err != nil {
		m.Close()
		return nil, err
	}
	m.wg.Add(1)
	go m.retryLoop()
	return m, nil
}

func (m *Membership) memberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.Name = m.cfg.Node
	c.Transport = m.gossip
	ip, port, _ := m.gossip.FinalAdvertiseAddr("", 0)
	c.BindAddr, c.BindPort = ip.String(), port // the default port of a seed without one
	c.AdvertisePort = port
	c.ProbeInterval = m.timing.ProbeInterval
	c.ProbeTimeout = m.timing.ProbeTimeout
	c.SuspicionMult = m.timing.SuspicionMult
	c.GossipInterval = m.timing.GossipInterval
	c.PushPullInterval = m.timing.PushPullInterval
	c.TCPTimeout = m.timing.TCPTimeout
	c.GossipToTheDeadTime = m.timing.GossipToTheDead
	c.DeadNodeReclaimTime = m.timing.DeadNodeReclaim
	d := &delegates{m: m}
	c.Delegate, c.Events, c.Alive, c.Merge, c.Conflict = d, d, d, d, d
	c.LogOutput = nil
	c.Logger = newStdLogger(m.log.Named("memberlist"))
	if secret := m.cfg.Transport.secret; len(secret) > 0 {
		c.SecretKey = gossipKey(secret)
	}
	return c
}

// encodeOwnMeta encodes this node's metadata, checking that it still fits
// with the leaving mark that Leave adds.
func encodeOwnMeta(meta NodeMeta) ([]byte, error) {
	if _, err := meta.encodeLeaving(true); err != nil {
		return nil, err
	}
	return meta.encode()
}

// gossipKey is the AES-256 key memberlist encrypts and authenticates
// gossip with, derived from the cluster secret.
func gossipKey(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("warren cluster gossip key"))
	return mac.Sum(nil)
}

// joinSeeds tries every seed at once and waits for all of them. It
// reports ErrNameTaken when one showed this node's name held elsewhere.
func (m *Membership) joinSeeds() error {
	var wg sync.WaitGroup
	for _, s := range m.seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.ml.Join([]string{s}); err != nil {
				m.log.Debug("seed did not answer", zap.String("seed", s), zap.Error(err))
			}
		}()
	}
	wg.Wait()
	m.mu.Lock()
	holder := m.conflict
	m.mu.Unlock()
	if holder != "" {
		return fmt.Errorf("%w: %q is the name of the live node at %s", ErrNameTaken, m.cfg.Node, holder)
	}
	return nil
}

// alone reports whether this node knows no other live member.
func (m *Membership) alone() bool { return m.ml.NumMembers() <= 1 }

// retryLoop joins the seeds again, with back-off, whenever this node knows
// no other live member: at start when no seed answered yet, and after
// every other member failed or left.
func (m *Membership) retryLoop() {
	defer m.wg.Done()
	backoff := m.timing.RetryMin
	timer := time.NewTimer(backoff)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-m.stopRetry:
			return
		}
		wait := m.timing.RetryMax
		if len(m.seeds) > 0 && m.alone() {
			err := m.joinSeeds()
			if errors.Is(err, ErrNameTaken) {
				m.log.Error("not joining the cluster", zap.Error(err))
				return
			}
			if m.alone() {
				wait, backoff = backoff, min(2*backoff, m.timing.RetryMax)
			} else {
				m.log.Info("joined the cluster", zap.String("node", m.cfg.Node), zap.Int("members", m.ml.NumMembers()))
				backoff = m.timing.RetryMin
			}
		}
		timer.Reset(wait)
	}
}

// record notes a member's change and queues its event; memberlist calls it
// (through the delegates) with its node lock held, so it does not block.
// memberlist reports leaves and failures alike (its v0.5.4 does not fill
// in the node's state): a member whose metadata carried the leaving mark
// left, any other failed. A metadata update that only adds the mark is
// not an event.
func (m *Membership) record(kind EventKind, n *memberlist.Node) {
	meta, leaving, metaErr := decodeMeta(n.Meta)
	mem := Member{Name: n.Name, Addr: n.Address(), Meta: meta, State: StateAlive}
	m.mu.Lock()
	prev, known := m.members[n.Name]
	switch kind {
	case EventUpdate:
		if known && leaving && reflect.DeepEqual(prev.Meta, meta) {
			prev.leaving = true
			m.members[n.Name] = prev
			m.mu.Unlock()
			return
		}
	case EventFail:
		mem.State = StateFailed
		if (known && prev.leaving) || leaving {
			kind, mem.State = EventLeave, StateLeft
		}
	}
	m.members[n.Name] = seen{Member: mem, leaving: leaving}
	m.queue = append(m.queue, pending{ev: Event{Kind: kind, Member: mem}, metaErr: metaErr})
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// dispatch logs and delivers queued events in order until Close.
func (m *Membership) dispatch() {
	defer m.wg.Done()
	for {
		select {
		case <-m.wake:
		case <-m.stop:
			return
		}
		m.mu.Lock()
		batch := m.queue
		m.queue = nil
		m.mu.Unlock()
		for _, p := range batch {
			select {
			case <-m.stop:
				return
			default:
			}
			m.logEvent(p)
			if m.cfg.Events != nil {
				m.cfg.Events(p.ev)
			}
		}
	}
}

func (m *Membership) logEvent(p pending) {
	mem := p.ev.Member
	fields := []zap.Field{zap.String("node", mem.Name), zap.String("addr", mem.Addr)}
	if p.metaErr != nil {
		m.log.Warn("node metadata unreadable", append(fields, zap.Error(p.metaErr))...)
	}
	switch p.ev.Kind {
	case EventJoin:
		m.log.Info("node joined", append(fields, zap.Bool("self", mem.Name == m.cfg.Node))...)
	case EventLeave:
		m.log.Info("node left", fields...)
	case EventFail:
		m.log.Info("node failed", fields...)
	case EventUpdate:
		m.log.Debug("node updated", fields...)
	}
}

// Members returns every node this one has seen since it started, this one
// included, sorted by name, each in the state of its last event.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		out = append(out, mem.Member)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Local returns this node as the others see it.
func (m *Membership) Local() Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.members[m.cfg.Node].Member
}

// UpdateMeta replaces this node's metadata and gossips it, waiting up to
// timeout for the update to go out; the others get an EventUpdate.
func (m *Membership) UpdateMeta(meta NodeMeta, timeout time.Duration) error {
	b, err := encodeOwnMeta(meta)
	if err != nil {
		return err
	}
	m.life.Lock()
	defer m.life.Unlock()
	if m.closed || m.left {
		return errors.New("cluster: membership left or closed")
	}
	m.cfg.Meta = meta
	m.meta.Store(&b)
	return m.ml.UpdateNode(timeout)
}

// Leave announces that this node leaves, so that the others mark it left
// rather than failed, and waits up to timeout for the announcement to go
// out: first its metadata with the leaving mark, then memberlist's leave,
// each gossiped a few times (with LAN timing, well under 2 s in all). It
// stops joining the seeds; call Close afterwards.
func (m *Membership) Leave(timeout time.Duration) error {
	m.life.Lock()
	defer m.life.Unlock()
	if m.closed {
		return errors.New("cluster: membership closed")
	}
	if m.left {
		return nil
	}
	m.left = true
	close(m.stopRetry)
	deadline := time.Now().Add(timeout)
	b, _ := m.cfg.Meta.encodeLeaving(true) // fits: checked by encodeOwnMeta
	m.meta.Store(&b)
	if err := m.ml.UpdateNode(timeout); err != nil {
		m.log.Warn("leaving: the leaving mark may not have reached every node", zap.Error(err))
	}
	return m.ml.Leave(max(time.Until(deadline), time.Millisecond))
}

// Close stops this node's membership at once, without a leave: the others
// will declare it failed, as after a crash. It waits for the goroutines
// Membership started (the event dispatcher, the seed retries, the gossip
// reader and acceptor); events not yet delivered are dropped. memberlist's
// own goroutines stop on their own once it is shut down (it offers no way
// to wait for them).
func (m *Membership) Close() error {
	m.life.Lock()
	defer m.life.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if !m.left {
		close(m.stopRetry)
	}
	err := m.ml.Shutdown()
	close(m.stop)
	m.wg.Wait()
	return err
}
