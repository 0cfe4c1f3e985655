package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"
)

// listener is one of the server's listeners: plain AMQP, or AMQPS when
// tls is set (its Accept returns a *tls.Conn whose handshake has not
// started: the connection's own goroutine runs it, conn.serve, so a
// client that never finishes it holds up nobody).
type listener struct {
	net.Listener
	tls bool
}

// listen binds every listener of the configuration, or none.
func (s *Server) listen() ([]listener, error) {
	if len(s.cfg.Listen)+len(s.cfg.ListenTLS) == 0 {
		return nil, errors.New("broker: no listener: set Config.Listen or Config.ListenTLS")
	}
	var lns []listener
	for _, addr := range s.cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeListeners(lns)
			return nil, fmt.Errorf("broker: listen: %w", err)
		}
		lns = append(lns, listener{Listener: ln})
	}
	for _, addr := range s.cfg.ListenTLS {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeListeners(lns)
			return nil, fmt.Errorf("broker: listen (TLS): %w", err)
		}
		lns = append(lns, listener{Listener: tls.NewListener(ln, s.certs.listenerConfig()), tls: true})
	}
	return lns, nil
}

// closeListeners closes lns and returns the first error other than
// net.ErrClosed.
func closeListeners(lns []listener) error {
	var first error
	for _, l := range lns {
		if err := l.Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	return first
}

// Addr returns the address of the first plain AMQP listener, or nil
// before Start or without one.
func (s *Server) Addr() net.Addr { return s.firstAddr(false) }

// TLSAddr returns the address of the first AMQPS listener, or nil before
// Start or without one.
func (s *Server) TLSAddr() net.Addr { return s.firstAddr(true) }

// Addrs returns the addresses of every listener, plain ones first, in
// Config order.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, 0, len(s.lns))
	for _, l := range s.lns {
		out = append(out, l.Addr())
	}
	return out
}

func (s *Server) firstAddr(tls bool) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lns {
		if l.tls == tls {
			return l.Addr()
		}
	}
	return nil
}

// tlsHandshake runs the TLS handshake of a TLS connection, within the
// TLS handshake timeout, and keeps its state; it reports false when the
// handshake failed (logged at Debug: a port scanner or a client with a
// wrong certificate is not the node's problem). A plain connection
// passes.
func (c *conn) tlsHandshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	timeout := c.srv.certs.cfg.HandshakeTimeout
	tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.log.Debug("TLS handshake failed", zap.Error(err))
		return false
	}
	tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tls = &st
	return true
}
