package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// A single node answers `warren definitions export` on a Unix socket in
// its data dir, DataDir/admin.sock, made readable and writable by the
// node's own OS user only: whoever may read the data dir may read the
// definitions anyway. It speaks the admin service's protocol
// (cluster_admin.go: one length-prefixed JSON request and reply per
// connection) and answers export_definitions and the policy operations
// of `warren set_policy` and its siblings (admin_policy.go); a cluster
// node answers them on its cluster port's admin service instead, behind
// the cluster secret. The socket's accept loop and each request run on
// goroutines the server tracks; Close closes the listener.

// adminSocketFile is the socket's name in the data dir.
const adminSocketFile = "admin.sock"

// adminExportDefinitions asks for the node's definitions document.
const adminExportDefinitions = "export_definitions"

// startAdminSocket listens on the data dir's admin socket, on a single
// node with a data dir. A socket that cannot be made is logged, not
// fatal: the node serves AMQP without it.
func (s *Server) startAdminSocket() {
	if s.cfg.InMemory || s.cfg.Cluster != nil {
		return
	}
	path := filepath.Join(s.cfg.DataDir, adminSocketFile)
	os.Remove(path) // a socket a killed node left behind
	ln, err := net.Listen("unix", path)
	if err != nil {
		s.log.Warn("no admin socket: `warren definitions export` cannot reach this node", zap.Error(err))
		return
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		s.log.Warn("no admin socket: cannot restrict it to this user", zap.Error(err))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.goTracked(func() {
		<-s.stop
		cancel()
		ln.Close()
	})
	s.goTracked(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.goTracked(func() { s.answerSocket(ctx, nc) })
		}
	})
}

// answerSocket answers one request on the admin socket.
// A closing server (ctx) ends it at once.
func (s *Server) answerSocket(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	nc.SetDeadline(time.Now().Add(adminIOTimeout))
	var req adminRequest
	if err := readJSON(bufio.NewReader(nc), maxAdminRequest, &req); err != nil {
		s.log.Warn("malformed admin request on the admin socket", zap.Error(err))
		return
	}
	ctx = WithActor(ctx, Actor{User: req.User, From: "unix:" + filepath.Join(s.cfg.DataDir, adminSocketFile),
		Interface: InterfaceCLI})
	reply := adminReply{Error: fmt.Sprintf("unknown operation %q", req.Op)}
	switch req.Op {
	case adminExportDefinitions:
		reply = s.exportReply()
	case string(PolicySet), string(PolicyClear), string(PolicyList):
		reply = s.policyAdmin(ctx, req)
	}
	if err := writeJSON(nc, reply); err != nil {
		s.log.Debug("admin reply not sent", zap.Error(err))
	}
}

// exportReply is the admin answer to export_definitions.
func (s *Server) exportReply() adminReply {
	b, err := s.ExportDefinitions()
	if err != nil {
		return adminReply{Error: err.Error()}
	}
	return adminReply{Definitions: json.RawMessage(b)}
}

// ExportDefinitionsFrom asks the single node whose data dir is dataDir,
// over its admin socket, for its definitions document.
func ExportDefinitionsFrom(ctx context.Context, dataDir string) ([]byte, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", filepath.Join(dataDir, adminSocketFile))
	if err != nil {
		return nil, fmt.Errorf("no node answers in %s (is it running, as this user?): %w", dataDir, err)
	}
	reply, err := askAdmin(ctx, nc, adminRequest{Op: adminExportDefinitions})
	if err != nil {
		return nil, err
	}
	if reply.Error != "" {
		return nil, errors.New(reply.Error)
	}
	return reply.Definitions, nil
}

// ExportDefinitions asks the cluster node for its definitions document.
func (c AdminClient) ExportDefinitions(ctx context.Context) ([]byte, error) {
	reply, err := c.ask(ctx, adminRequest{Op: adminExportDefinitions})
	if err != nil {
		return nil, err
	}
	return reply.Definitions, nil
}
