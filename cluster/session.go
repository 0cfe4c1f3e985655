package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/yamux"
	"go.uber.org/zap"
)

// acceptLoop accepts TCP connections and hands each to a handshake
// goroutine, at most maxHandshakes at once.
func (t *Transport) acceptLoop() {
	var delay time.Duration
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.isClosed() {
				return
			}
			delay = acceptBackoff(delay)
			t.logLimited("accept", "cluster port accept failed", zap.Error(err))
			select {
			case <-time.After(delay):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		t.accepts.Add(1)
		t.startHandshake(c)
	}
}

func acceptBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

// startHandshake runs the acceptor's handshake on c on a goroutine of its
// own, or closes c when too many are under way, from its address or in
// all, or the transport is closed.
func (t *Transport) startHandshake(c net.Conn) {
	ip := remoteIP(c.RemoteAddr())
	select {
	case t.slots <- struct{}{}:
	default:
		t.logLimited("handshakes-full", "cluster port busy: too many connections in their handshake; closing a new one",
			zap.String("peer", c.RemoteAddr().String()), zap.Int("limit", maxHandshakes))
		c.Close()
		return
	}
	t.mu.Lock()
	full := t.pendingIP[ip] >= maxHandshakesPerIP
	started := !full && t.goTrackedLocked(func() {
		defer func() { <-t.slots }()
		t.serveConn(c, ip)
	})
	if started {
		t.pending[c] = struct{}{}
		t.pendingIP[ip]++
	}
	t.mu.Unlock()
	if started {
		return
	}
	<-t.slots
	c.Close()
	if full {
		t.logLimited("handshakes-full:"+ip, "cluster port busy: too many connections from one address in their handshake; closing a new one",
			zap.String("peer", c.RemoteAddr().String()), zap.Int("limit", maxHandshakesPerIP))
	}
}

// remoteIP is the IP of a TCP address, or the whole address otherwise.
func remoteIP(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return addr.String()
}

// serveConn checks an inbound connection's handshake, then serves it as a
// yamux session until it ends.
func (t *Transport) serveConn(c net.Conn, ip string) {
	_ = c.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	err := serverHandshake(c, t.secret)
	t.mu.Lock()
	delete(t.pending, c)
	if t.pendingIP[ip]--; t.pendingIP[ip] <= 0 {
		delete(t.pendingIP, ip)
	}
	t.mu.Unlock()
	if err != nil {
		c.Close()
		t.refused(c.RemoteAddr(), ip, err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	sess, err := yamux.Server(c, t.ymx)
	if err != nil { // only for a bad config
		c.Close()
		t.log.Error("cluster: yamux server", zap.Error(err))
		return
	}
	if !t.addSession(sess) {
		return
	}
	t.log.Debug("cluster link accepted", zap.String("peer", c.RemoteAddr().String()))
	t.serveSession(sess)
}

// refused logs a connection whose handshake failed, once per peer IP per
// logEvery.
func (t *Transport) refused(addr net.Addr, ip string, err error) {
	if t.isClosed() {
		return
	}
	t.logLimited("handshake:"+ip, "cluster connection refused", zap.String("peer", addr.String()), zap.Error(err))
}

// addSession registers a session so that Close closes it; on a closed
// transport it closes the session and reports false.
func (t *Transport) addSession(s *yamux.Session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		s.Close()
		return false
	}
	t.sessions[s] = struct{}{}
	return true
}

// serveSession accepts the streams a peer opens on s, each routed to its
// service on a goroutine of its own, until s ends. It runs on inbound and
// outbound sessions alike, so that nothing a peer opens is left hanging.
func (t *Transport) serveSession(s *yamux.Session) {
	defer func() {
		s.Close()
		t.mu.Lock()
		delete(t.sessions, s)
		t.mu.Unlock()
	}()
	for {
		st, err := s.AcceptStream()
		if err != nil {
			return
		}
		if !t.goTracked(func() { t.routeStream(st) }) {
			st.Close()
			return
		}
	}
}

// Dial opens a stream tagged with service to the node whose cluster port
// is at addr. The one session to addr is dialled on first use, shared by
// every stream and by concurrent Dials, and dialled again after it fails;
// a stream opened on a session that turns out to be dead (the peer
// restarted) is retried once on a new one. It fails with
// ErrUnknownService when nothing listens for service there, ErrBadSecret
// when the secrets differ, and ctx's error when ctx ends first.
func (t *Transport) Dial(ctx context.Context, addr, service string) (net.Conn, error) {
	if err := checkService(service); err != nil {
		return nil, err
	}
	for retried := false; ; retried = true {
		sess, fresh, err := t.session(ctx, addr)
		if err != nil {
			return nil, err
		}
		c, err := t.openStream(ctx, sess, service)
		if err == nil {
			return c, nil
		}
		if fresh || retried || ctx.Err() != nil || !sess.IsClosed() {
			return nil, fmt.Errorf("cluster: open %q stream to %s: %w", service, addr, err)
		}
	}
}

// session returns the live outbound session to addr, waiting for the dial
// under way or starting one; fresh reports a session this call waited for.
func (t *Transport) session(ctx context.Context, addr string) (*yamux.Session, bool, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, ErrClosed
	}
	p := t.peers[addr]
	if p == nil {
		p = &peer{}
		t.peers[addr] = p
	}
	if p.sess != nil && !p.sess.IsClosed() {
		s := p.sess
		t.mu.Unlock()
		return s, false, nil
	}
	a := p.attempt
	if a == nil {
		a = &dialAttempt{done: make(chan struct{})}
		p.attempt = a
		t.goTrackedLocked(func() { t.dialPeer(addr, p, a) })
	}
	t.mu.Unlock()
	select {
	case <-a.done:
		return a.sess, true, a.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// dialPeer connects to addr, runs the handshake and, on success, serves the
// new session until it ends. It is the one attempt concurrent Dials share.
func (t *Transport) dialPeer(addr string, p *peer, a *dialAttempt) {
	sess, err := t.connect(addr)
	t.mu.Lock()
	p.attempt = nil
	switch {
	case err != nil:
		a.err = err
		if t.peers[addr] == p && p.sess == nil {
			delete(t.peers, addr)
		}
	case t.closed:
		sess.Close()
		a.err = ErrClosed
	default:
		a.sess = sess
		p.sess = sess
		t.sessions[sess] = struct{}{}
	}
	t.mu.Unlock()
	close(a.done)
	if a.sess == nil {
		return
	}
	t.log.Debug("cluster link dialled", zap.String("peer", addr))
	t.serveSession(sess)
	t.mu.Lock()
	if t.peers[addr] == p && p.sess == sess {
		delete(t.peers, addr)
	}
	closing := t.closed
	t.mu.Unlock()
	if !closing {
		t.log.Info("cluster link lost", zap.String("peer", addr))
	}
}

// connect dials addr and runs the dialler's handshake within DialTimeout,
// cut short by Close.
func (t *Transport) connect(addr string) (*yamux.Session, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.DialTimeout)
	defer cancel()
	return dialSession(ctx, addr, t.secret, t.ymx)
}

// dialSession dials addr, proves secret with the dialler's handshake
// (bounded by ctx) and starts a yamux client session on the connection.
func dialSession(ctx context.Context, addr string, secret []byte, cfg *yamux.Config) (*yamux.Session, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: dial %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	err = clientHandshake(c, secret)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		if errors.Is(err, ErrBadSecret) {
			return nil, fmt.Errorf("cluster: dial %s: %w", addr, err)
		}
		return nil, fmt.Errorf("cluster: handshake with %s: %w", addr, err)
	}
	_ = c.SetDeadline(time.Time{})
	sess, err := yamux.Client(c, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return sess, nil
}
