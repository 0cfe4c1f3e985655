package cluster

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/hashicorp/yamux"
)

// DialService opens one stream tagged with service to the node whose
// cluster port is at addr, for a tool that is not a node itself (such as
// `warren cluster status`): it dials its own TCP connection, proves
// secret with the same handshake as a node, and opens the stream on a
// yamux session of its own. Closing the returned conn closes the stream,
// the session and the TCP connection, and ends the session's goroutines.
// It fails with ErrBadSecret when the secrets differ, ErrUnknownService
// when nothing listens for service there, and ctx's error when ctx ends
// first; without a deadline in ctx the dial and handshake are bounded by
// 10 s.
func DialService(ctx context.Context, addr, secret, service string) (net.Conn, error) {
	if err := checkService(service); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultDialTimeout)
		defer cancel()
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	sess, err := dialSession(ctx, addr, []byte(secret), cfg)
	if err != nil {
		return nil, err
	}
	st, err := openStream(ctx, sess, service, defaultDialTimeout)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("cluster: open %q stream to %s: %w", service, addr, err)
	}
	return &toolConn{Conn: st, sess: sess}, nil
}

// toolConn is DialService's stream, which owns its session.
type toolConn struct {
	net.Conn
	sess *yamux.Session
}

// Close closes the stream and its session.
func (c *toolConn) Close() error {
	err := c.Conn.Close()
	if serr := c.sess.Close(); err == nil {
		err = serr
	}
	return err
}
