package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/yamux"
	"go.uber.org/zap"
)

// TransportConfig configures a node's cluster port.
type TransportConfig struct {
	// Addr is the host:port to bind, TCP for streams and UDP (the same port
	// number) for gossip packets. Port 0 picks a free port for both.
	Addr string
	// Advertise is the host:port other nodes reach this one at. Empty means
	// the bound address, or, when bound to a wildcard host, the first
	// private IP address of the machine, with the bound port.
	Advertise string
	// Secret is the shared cluster secret every node must hold; it may be
	// empty (then any Warren node may connect). See doc.go for what it
	// protects and what it does not.
	Secret string
	// Log receives the transport's lines; nil discards them.
	Log *zap.Logger

	// HandshakeTimeout bounds a new connection's handshake and a new
	// stream's service header; 0 means 5 s.
	HandshakeTimeout time.Duration
	// DialTimeout bounds the TCP connect and handshake of a dial to a
	// peer, which all concurrent dials to that peer share; 0 means 10 s.
	DialTimeout time.Duration
}

const (
	defaultHandshakeTimeout = 5 * time.Second
	defaultDialTimeout      = 10 * time.Second
	// maxHandshakes bounds the inbound connections that are still in
	// their handshake, and maxHandshakesPerIP those from one address, so
	// that one source cannot take every slot; beyond either a new
	// connection is closed at once.
	maxHandshakes      = 64
	maxHandshakesPerIP = 8
	// logEvery is how often one kind of refusal from one source is logged.
	logEvery = 10 * time.Second
)

// ErrClosed is returned by the operations of a closed Transport.
var ErrClosed = errors.New("cluster: transport closed")

// Transport is a node's one cluster port: every stream to and from other
// nodes is a yamux stream on one TCP connection per peer and direction,
// tagged with the service it belongs to. Its methods are safe for
// concurrent use.
type Transport struct {
	cfg       TransportConfig
	log       *zap.Logger
	secret    []byte
	advertise string
	ymx       *yamux.Config
	limiter   *logLimiter

	ln  *net.TCPListener
	udp *net.UDPConn

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{} // inbound handshakes in flight

	mu        sync.Mutex
	closed    bool
	peers     map[string]*peer // outbound sessions by peer address
	sessions  map[*yamux.Session]struct{}
	pending   map[net.Conn]struct{} // inbound connections in their handshake
	pendingIP map[string]int        // of those, how many per remote IP
	listeners map[string]*serviceListener

	accepts atomic.Int64 // TCP connections accepted, for tests
}

// peer is the outbound session to one address, or the dial under way.
type peer struct {
	sess    *yamux.Session
	attempt *dialAttempt
}

// dialAttempt is one dial to a peer, which concurrent Dials wait for.
type dialAttempt struct {
	done chan struct{}
	sess *yamux.Session
	err  error
}

// Listen binds the cluster port (TCP and UDP on the same port number) and
// starts accepting connections from other nodes.
func Listen(cfg TransportConfig) (*Transport, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = defaultHandshakeTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	ln, udp, err := bindPort(cfg.Addr)
	if err != nil {
		return nil, err
	}
	advertise, err := advertiseAddr(cfg.Advertise, ln.Addr().(*net.TCPAddr))
	if err != nil {
		ln.Close()
		udp.Close()
		return nil, err
	}
	t := &Transport{
		cfg:       cfg,
		log:       cfg.Log,
		secret:    []byte(cfg.Secret),
		advertise: advertise,
		ymx:       yamuxConfig(cfg.Log),
		limiter:   newLogLimiter(logEvery),
		ln:        ln,
		udp:       udp,
		slots:     make(chan struct{}, maxHandshakes),
		peers:     map[string]*peer{},
		sessions:  map[*yamux.Session]struct{}{},
		pending:   map[net.Conn]struct{}{},
		pendingIP: map[string]int{},
		listeners: map[string]*serviceListener{},
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.goTracked(t.acceptLoop)
	t.log.Info("cluster port listening", zap.String("bind", ln.Addr().String()), zap.String("advertise", advertise))
	return t, nil
}

// bindPort listens on addr with TCP and binds UDP to the same IP and port.
// With port 0 the kernel picks the TCP port, which may be taken for UDP;
// that is retried with a new port a few times.
func bindPort(addr string) (*net.TCPListener, *net.UDPConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: address %q: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = 10
	}
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: listen: %w", err)
		}
		tcp := ln.(*net.TCPListener)
		ta := tcp.Addr().(*net.TCPAddr)
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone})
		if err == nil {
			return tcp, udp, nil
		}
		tcp.Close()
		if i+1 >= tries {
			return nil, nil, fmt.Errorf("cluster: bind UDP on the cluster port: %w", err)
		}
	}
}

// advertiseAddr is the address other nodes reach this one at.
func advertiseAddr(configured string, bound *net.TCPAddr) (string, error) {
	if configured != "" {
		if _, _, err := net.SplitHostPort(configured); err != nil {
			return "", fmt.Errorf("cluster: advertise address %q: %w", configured, err)
		}
		return configured, nil
	}
	if !bound.IP.IsUnspecified() {
		return bound.String(), nil
	}
	ip, err := sockaddr.GetPrivateIP()
	if err != nil || ip == "" {
		return "", fmt.Errorf("cluster: bound to %s and no private IP address found to advertise; set Advertise", bound)
	}
	return net.JoinHostPort(ip, strconv.Itoa(bound.Port)), nil
}

func yamuxConfig(log *zap.Logger) *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = nil
	c.Logger = newStdLogger(log.Named("yamux"))
	return c
}

// Addr is the advertised host:port of this node's cluster port (with the
// real port when it was bound to port 0).
func (t *Transport) Addr() string { return t.advertise }

// goTracked runs f on a goroutine that Close waits for, unless the
// transport is closed.
func (t *Transport) goTracked(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.goTrackedLocked(f)
}

func (t *Transport) goTrackedLocked(f func()) bool {
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

// Close stops accepting, closes every session and stream and every
// listener, and waits for every goroutine the transport started. It does
// not close a Membership running on it; close that first.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.wg.Wait()
		return nil
	}
	t.closed = true
	t.cancel()
	pending := make([]net.Conn, 0, len(t.pending))
	for c := range t.pending {
		pending = append(pending, c)
	}
	sessions := make([]*yamux.Session, 0, len(t.sessions))
	for s := range t.sessions {
		sessions = append(sessions, s)
	}
	listeners := make([]*serviceListener, 0, len(t.listeners))
	for _, l := range t.listeners {
		listeners = append(listeners, l)
	}
	t.mu.Unlock()

	err := t.ln.Close()
	t.udp.Close()
	for _, c := range pending {
		c.Close()
	}
	for _, s := range sessions {
		s.Close()
	}
	for _, l := range listeners {
		l.Close()
	}
	t.wg.Wait()
	return err
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// logLimited logs msg at Warn for key at most once per logEvery, with the
// number of lines held back since.
func (t *Transport) logLimited(key, msg string, fields ...zap.Field) {
	ok, held := t.limiter.allow(key, time.Now())
	if !ok {
		return
	}
	if held > 0 {
		fields = append(fields, zap.Int("suppressed", held))
	}
	t.log.Warn(msg, fields...)
}
