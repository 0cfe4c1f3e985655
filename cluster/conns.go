package cluster

import (
	"net"
	"sync"
)

// connSet holds the streams one user of the transport (a Raft layer, the
// gossip transport) dialled or accepted, so that closing that user closes
// them: their owners (raft's NetworkTransport, memberlist) do not.
type connSet struct {
	mu     sync.Mutex
	closed bool
	conns  map[*setConn]struct{}
}

// track adds c to the set, or closes it when the set is closed.
func (s *connSet) track(c net.Conn) (net.Conn, error) {
	sc := &setConn{Conn: c, set: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	if s.conns == nil {
		s.conns = map[*setConn]struct{}{}
	}
	s.conns[sc] = struct{}{}
	return sc, nil
}

// closeAll closes every stream in the set and any tracked later.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// setConn is a stream of a connSet, forgotten by it when closed.
type setConn struct {
	net.Conn
	set *connSet
}

// Close closes the stream.
func (c *setConn) Close() error {
	c.set.mu.Lock()
	delete(c.set.conns, c)
	c.set.mu.Unlock()
	return c.Conn.Close()
}
