package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
	"go.uber.org/zap"
)

// A stream starts with its service header, [length byte][name], written by
// the dialler; the acceptor answers one byte, streamOK or
// streamUnknownService, before either side sends anything else.
const (
	maxServiceLen        = 64
	streamOK             = 0
	streamUnknownService = 1
)

var (
	// ErrUnknownService is returned by Dial when the peer has no listener
	// for the service.
	ErrUnknownService = errors.New("cluster: no listener for the service on the peer")
	// ErrServiceInUse is returned by Listen for a service already listened on.
	ErrServiceInUse = errors.New("cluster: service already has a listener")
)

// checkService accepts 1 to 64 printable ASCII characters.
func checkService(service string) error {
	if len(service) == 0 || len(service) > maxServiceLen {
		return fmt.Errorf("cluster: service name %q: must be 1 to %d bytes", service, maxServiceLen)
	}
	for i := 0; i < len(service); i++ {
		if c := service[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("cluster: service name %q: only printable ASCII without spaces", service)
		}
	}
	return nil
}

// openStream opens a stream on sess, sends its service header and waits
// for the peer's answer, within ctx's deadline or DialTimeout.
func (t *Transport) openStream(ctx context.Context, sess *yamux.Session, service string) (net.Conn, error) {
	return openStream(ctx, sess, service, t.cfg.DialTimeout)
}

// openStream opens a stream on sess as Transport.openStream does, within
// ctx's deadline or timeout.
func openStream(ctx context.Context, sess *yamux.Session, service string, timeout time.Duration) (net.Conn, error) {
	st, err := sess.OpenStream()
	if err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(timeout)
	}
	_ = st.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = st.SetDeadline(time.Now()) })
	err = exchangeHeader(st, service)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	_ = st.SetDeadline(time.Time{})
	return &streamConn{Stream: st}, nil
}

// streamConn is a yamux stream whose Close also ends this side's reads:
// a yamux Close only half-closes, and a Read blocked on it would wait for
// the peer to close too. Read and Write after Close fail with
// net.ErrClosed.
type streamConn struct {
	*yamux.Stream
	closed atomic.Bool
}

// Close sends the peer end-of-stream and wakes this side's blocked Read.
func (c *streamConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	err := c.Stream.Close()
	_ = c.Stream.SetReadDeadline(time.Now())
	return err
}

// Read reads from the stream.
func (c *streamConn) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	if err != nil && c.closed.Load() {
		err = net.ErrClosed
	}
	return n, err
}

// Write writes to the stream.
func (c *streamConn) Write(p []byte) (int, error) {
	n, err := c.Stream.Write(p)
	if err != nil && c.closed.Load() {
		err = net.ErrClosed
	}
	return n, err
}

func exchangeHeader(st *yamux.Stream, service string) error {
	hdr := make([]byte, 0, 1+len(service))
	hdr = append(append(hdr, byte(len(service))), service...)
	if _, err := st.Write(hdr); err != nil {
		return err
	}
	var ans [1]byte
	if _, err := io.ReadFull(st, ans[:]); err != nil {
		return err
	}
	switch ans[0] {
	case streamOK:
		return nil
	case streamUnknownService:
		return ErrUnknownService
	default:
		return fmt.Errorf("cluster: bad stream answer %d", ans[0])
	}
}

// readServiceHeader reads a stream's service header: at most 65 bytes.
func readServiceHeader(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	if n[0] == 0 || n[0] > maxServiceLen {
		return "", fmt.Errorf("service name length %d", n[0])
	}
	name := make([]byte, n[0])
	if _, err := io.ReadFull(r, name); err != nil {
		return "", err
	}
	if err := checkService(string(name)); err != nil {
		return "", err
	}
	return string(name), nil
}

// routeStream reads an accepted stream's header and hands the stream to
// its service's listener, or refuses it.
func (t *Transport) routeStream(st *yamux.Stream) {
	peer := st.RemoteAddr().String()
	_ = st.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	service, err := readServiceHeader(st)
	if err != nil {
		st.Close()
		t.logLimited("stream-header:"+peer, "cluster stream refused: bad header", zap.String("peer", peer), zap.Error(err))
		return
	}
	l := t.listener(service)
	if l == nil {
		t.logLimited("unknown-service:"+service, "cluster stream refused: no listener for its service",
			zap.String("service", service), zap.String("peer", peer))
		_, _ = st.Write([]byte{streamUnknownService})
		st.Close()
		return
	}
	if _, err := st.Write([]byte{streamOK}); err != nil {
		st.Close()
		return
	}
	_ = st.SetDeadline(time.Time{})
	l.deliver(&streamConn{Stream: st})
}

func (t *Transport) listener(service string) *serviceListener {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listeners[service]
}

// Listen returns the listener for streams tagged with service. There is
// one per service at a time: a second fails with ErrServiceInUse until the
// first is closed. Closing it does not close the streams it accepted.
func (t *Transport) Listen(service string) (net.Listener, error) {
	return t.listen(service)
}

func (t *Transport) listen(service string) (*serviceListener, error) {
	if err := checkService(service); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if t.listeners[service] != nil {
		return nil, fmt.Errorf("%w: %q", ErrServiceInUse, service)
	}
	l := &serviceListener{t: t, service: service, ch: make(chan net.Conn), done: make(chan struct{})}
	t.listeners[service] = l
	return l, nil
}

// serviceListener is a net.Listener for one service's streams.
type serviceListener struct {
	t       *Transport
	service string
	ch      chan net.Conn
	done    chan struct{}
	once    sync.Once
}

// deliver waits until st is accepted, or closes it when the listener or
// the transport closes first.
func (l *serviceListener) deliver(st net.Conn) {
	select {
	case l.ch <- st:
	case <-l.done:
		st.Close()
	case <-l.t.ctx.Done():
		st.Close()
	}
}

// Accept waits for the next stream of the listener's service.
func (l *serviceListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; later streams for its service are refused.
func (l *serviceListener) Close() error {
	l.once.Do(func() {
		l.t.mu.Lock()
		if l.t.listeners[l.service] == l {
			delete(l.t.listeners, l.service)
		}
		l.t.mu.Unlock()
		close(l.done)
	})
	return nil
}

// Addr is the transport's advertised address.
func (l *serviceListener) Addr() net.Addr { return clusterAddr(l.t.advertise) }

// clusterAddr is a node's advertised cluster address as a net.Addr.
type clusterAddr string

func (a clusterAddr) Network() string { return "tcp" }
func (a clusterAddr) String() string  { return string(a) }
