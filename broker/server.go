package broker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
)

// Version is the broker version reported to clients.
const Version = "0.1.0"

// Server is one Warren node: a listener, its connections and its virtual
// hosts. Everything the broker knows hangs off a Server; there is no global
// state.
type Server struct {
	cfg Config
	log *zap.Logger

	wg sync.WaitGroup // every goroutine started through goTracked

	mu      sync.Mutex // guards lns, conns, closing, alarms, ownAlarms, remoteAlarms, unblocked
	lns     []listener // plain and TLS, in Config order (listen.go)
	conns   map[*conn]struct{}
	closing bool

	vhostsMu sync.RWMutex      // guards vhosts; a leaf, held only to read or change the map
	vhosts   map[string]*vhost // the vhosts this node serves, changed by the definitions' effects

	defs    proposer        // commits and applies definitions (defs.go)
	fsm     *defsFSM        // the definitions state machine, read for exports (definitions_export.go)
	cluster *clusterNode    // this node's part in its cluster; nil for a single node (cluster.go)
	types   *queue.Registry // the queue types this node runs (queue_types.go)
	damaged atomic.Uint64

	// life is this run of the node: its start time in nanoseconds. A
	// queue's definition records the life that declared it (NodeDown
	// removes what a life that ended left behind), and connSeq, which
	// numbers connections, starts at it, so that an id is never reused by
	// a restarted node and an exclusive owner (node, connection id) names
	// one connection ever.
	life    uint64
	connSeq atomic.Uint64

	alarms    alarm         // the resource alarms in force, this node's and the cluster's (alarm.go)
	blocked   atomic.Bool   // some alarm is raised: publishers are not read
	unblocked chan struct{} // closed when the last alarm clears
	// ownAlarms are this node's own alarms, remoteAlarms those raised on
	// the cluster's other nodes (cluster_alarms.go).
	ownAlarms, remoteAlarms alarm
	// diskLimitSet is the disk free limit set at run time
	// (setDiskFreeLimit); 0 means Config.DiskFreeLimit.
	diskLimitSet atomic.Int64
	// memRelease decides when to hand freed memory back (memory_release.go);
	// the clock goroutine's own.
	memRelease memReleaser

	logins *loginFailures // failed logins per source (auth_throttle.go)
	certs  *certStore     // the TLS listeners' certificates (tls.go); nil without them
	access accessControl  // users and permissions, compiled (access.go)
	audit  *auditLog      // the audit log (audit.go); nil when off

	diskProbeFailed atomic.Bool  // the last disk probe failed: logged once
	clock           atomic.Int64 // milliseconds since the epoch, updated every clockTick
	stop            chan struct{}

	// churn counts connections, channels and queues opened and closed;
	// retired holds what the closed channels counted, added under
	// statsMu, which Totals holds to read it with the live channels'
	// (counters.go, inspect_stats.go).
	churn   churnCounters
	statsMu sync.RWMutex
	retired channelTotals
}

// clockTick is the resolution of the server's coarse clock, which stamps
// deliveries for consumer timeouts without a clock read per message.
const clockTick = 50 * time.Millisecond

// now returns the coarse clock in milliseconds.
func (s *Server) now() int64 { return s.clock.Load() }

// runClock advances the coarse clock until the server closes.
func (s *Server) runClock() {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case now := <-t.C:
			s.clock.Store(now.UnixMilli())
			if i%alarmEvery == 0 {
				s.checkMemory()
				s.releaseMemory()
				s.checkDisk()
				s.logLoginFailures(now)
			}
		case <-s.stop:
			return
		}
	}
}

// NewServer returns a server configured by cfg; Start makes it listen.
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := checkNodeName(cfg.NodeName); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	switch cfg.QueueLeaderLocator {
	case "", leaderClientLocal, leaderBalanced, "random", "least-leaders":
	default:
		return nil, fmt.Errorf("broker: queue leader locator %q is not client-local or balanced", cfg.QueueLeaderLocator)
	}
	switch {
	case cfg.InMemory && cfg.DataDir != "":
		return nil, errors.New("broker: both InMemory and a data dir are set")
	case !cfg.InMemory:
		if err := prepareDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		conns: make(map[*conn]struct{}),
		stop:  make(chan struct{}),
	}
	s.logins = newLoginFailures()
	if len(cfg.ListenTLS) > 0 {
		if cfg.TLS == nil {
			return nil, errors.New("broker: TLS listeners without a TLS configuration")
		}
		var err error
		if s.certs, err = newCertStore(*cfg.TLS, s.log); err != nil {
			return nil, err
		}
	}
	s.life = uint64(time.Now().UnixNano())
	s.connSeq.Store(s.life)
	s.clock.Store(time.Now().UnixMilli())
	s.vhosts = make(map[string]*vhost)
	if cfg.Cluster != nil {
		// The cluster port first: quorum queues replicate over it.
		if err := s.openCluster(); err != nil {
			return nil, err
		}
	}
	if err := s.openQueueTypes(); err != nil {
		if s.cluster != nil {
			s.cluster.shutdown()
		}
		return nil, err
	}
	if cfg.InMemory {
		s.log.Warn("no data dir: definitions and messages are kept in memory only and lost at exit")
	}
	var err error
	if s.audit, err = openAuditLog(cfg.Audit, cfg.NodeName, s.log); err != nil {
		if s.cluster != nil {
			s.cluster.shutdown()
		}
		s.wg.Wait()
		s.closeStorage()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := s.openStorage(); err != nil {
		s.audit.close()
		if s.cluster != nil {
			s.cluster.shutdown()
		}
		s.wg.Wait()
		for _, v := range s.vhostList() {
			v.close()
		}
		s.closeStorage()
		return nil, err
	}
	return s, nil
}

// prepareDataDir creates the data dir if it is missing and checks that it
// is a directory the broker can create files in, so that a bad path fails
// the start with a clear error instead of a node that keeps nothing or
// fails its first durable declare.
func prepareDataDir(dir string) error {
	if dir == "" {
		return errors.New("broker: no data dir: set Config.DataDir (or InMemory for a broker that keeps nothing)")
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("broker: data dir %q is not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("broker: data dir %q cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("broker: data dir %q is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("broker: data dir %q: %w", dir, err)
	}
	return nil
}

// Start listens on Config.Listen and Config.ListenTLS and accepts
// connections in the background. The listeners are bound when Start
// returns.
func (s *Server) Start() error {
	lns, err := s.listen()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closing || s.lns != nil {
		s.mu.Unlock()
		closeListeners(lns)
		return errors.New("broker: server already started or closed")
	}
	s.lns = lns
	s.mu.Unlock()
	// Alarms are known before the first client arrives.
	s.checkMemory()
	s.checkDisk()
	for _, l := range lns {
		s.log.Info("listening for AMQP 0-9-1 clients", zap.String("addr", l.Addr().String()), zap.Bool("tls", l.tls),
			zap.String("node", s.cfg.NodeName))
	}
	s.goTracked(s.runClock)
	for _, l := range lns {
		s.goTracked(func() { s.acceptLoop(l.Listener) })
	}
	s.startAdminSocket()
	return nil
}

// Close stops accepting, tells every client the broker is shutting down
// (connection.close 320 CONNECTION_FORCED), waits briefly for them to
// answer, and returns once every goroutine of the server has ended.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closing = true
	lns := s.lns
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	err := closeListeners(lns)
	for _, c := range conns {
		c.shutdown()
	}
	close(s.stop)
	if s.cluster != nil {
		// Raft applies nothing more, and the cluster port's streams end,
		// before the queues close.
		s.cluster.shutdown()
	}
	s.wg.Wait()
	// Every queue stops (its timers, its hooks, its pending syncs) before
	// the queue types and the definitions close under it.
	for _, v := range s.vhostList() {
		v.close()
	}
	s.wg.Wait()
	if serr := s.closeStorage(); serr != nil {
		s.log.Error("closing storage", zap.Error(serr))
	}
	if aerr := s.audit.close(); aerr != nil {
		s.log.Error("closing the audit log", zap.Error(aerr))
	}
	s.log.Info("broker stopped")
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// goTracked runs f in a goroutine that Close waits for. Every goroutine of
// the broker starts here.
func (s *Server) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Server) acceptLoop(ln net.Listener) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed, retrying", zap.Error(err), zap.Duration("delay", delay))
				time.Sleep(delay)
				continue
			}
			s.log.Error("accept failed, listener stopped", zap.Error(err))
			return
		}
		delay = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.goTracked(c.serve)
	}
}

// removeConn forgets a connection that has ended.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// vhost returns the named virtual host, or nil.
func (s *Server) vhost(name string) *vhost {
	s.vhostsMu.RLock()
	defer s.vhostsMu.RUnlock()
	return s.vhosts[name]
}

// vhostList returns the vhosts this node serves.
func (s *Server) vhostList() []*vhost {
	s.vhostsMu.RLock()
	defer s.vhostsMu.RUnlock()
	out := make([]*vhost, 0, len(s.vhosts))
	for _, v := range s.vhosts {
		out = append(out, v)
	}
	return out
}
