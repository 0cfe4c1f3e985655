package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"
)

// The cluster port's service "admin" answers the operations commands
// (`warren cluster status`, `forget`, `set-disk-free-limit`, and the
// quorum queue member operations of cluster_quorum_admin.go), from the
// command line (AdminClient, over cluster.DialService with the cluster
// secret) or from another node (a forget forwarded to the leader). One
// stream carries one request and its reply, each
//
//	length uvarint, then that many octets of JSON
//
// a request at most maxAdminRequest octets, checked before it is read; a
// reply at most maxAdminReply. A request that cannot be read is dropped
// and logged; one that fails is answered with its error's text.

// adminService is the cluster port's service for operations commands.
const adminService = "admin"

const (
	// maxAdminRequest bounds a request: an operation and a node name.
	maxAdminRequest = 64 << 10
	// maxAdminReply bounds a reply, which lists every queue.
	maxAdminReply = 256 << 20
	// adminIOTimeout bounds reading a request and writing its reply.
	adminIOTimeout = 10 * time.Second
)

// The operations of the admin service.
const (
	adminStatus           = "status"
	adminForget           = "forget"
	adminSetDiskFreeLimit = "set_disk_free_limit"
)

// adminRequest is one operation asked of a node.
type adminRequest struct {
	Op string `json:"op"`
	// Node is the node to forget, or to add to or delete from quorum
	// queues.
	Node string `json:"node,omitempty"`
	// Vhost and Queue name the quorum queue whose member to add or
	// delete.
	Vhost string `json:"vhost,omitempty"`
	Queue string `json:"queue,omitempty"`
	// User is the user whose connections and channels to count.
	User string `json:"user,omitempty"`
	// Limit is the disk free limit to set, in bytes; 0 disables it.
	Limit int64 `json:"limit,omitempty"`
	// Forwarded marks a forget a node sent on to the leader, which must
	// not send it on again.
	Forwarded bool `json:"forwarded,omitempty"`
	// Policy is the policy to set, clear or list (admin_policy.go).
	Policy *PolicyRequest `json:"policy,omitempty"`
}

// adminReply is a node's answer: an error's text, or the operation's
// result.
type adminReply struct {
	Error  string         `json:"error,omitempty"`
	Status *ClusterStatus `json:"status,omitempty"`
	Forget *ForgetResult  `json:"forget,omitempty"`
	// Members is what a quorum queue member operation did, Grow what a
	// grow did.
	Members *QuorumMembersResult `json:"members,omitempty"`
	Grow    *QuorumGrowResult    `json:"grow,omitempty"`
	// Definitions is the node's definitions document (admin_socket.go).
	Definitions json.RawMessage `json:"definitions,omitempty"`
	// Policies are the policies a list_policies asked for.
	Policies []PolicyInfo `json:"policies,omitempty"`
	// Counts are the node's connection and channel counts.
	Counts *connCounts `json:"counts,omitempty"`
}

// answerAdmin reads one request from nc and writes its reply.
func (s *Server) answerAdmin(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	nc.SetReadDeadline(time.Now().Add(adminIOTimeout))
	var req adminRequest
	if err := readJSON(bufio.NewReader(nc), maxAdminRequest, &req); err != nil {
		s.log.Warn("malformed admin request", zap.String("peer", nc.RemoteAddr().String()), zap.Error(err))
		return
	}
	logAt := s.log.Info
	if req.Op == adminCounts { // asked at every connection open under a limit
		logAt = s.log.Debug
	}
	logAt("admin request", zap.String("op", req.Op), zap.String("node", req.Node),
		zap.String("vhost", req.Vhost), zap.String("queue", req.Queue), zap.String("peer", nc.RemoteAddr().String()))
	reply := s.cluster.admin(ctx, req)
	nc.SetWriteDeadline(time.Now().Add(adminIOTimeout))
	if err := writeJSON(nc, reply); err != nil {
		s.log.Debug("admin reply not sent", zap.Error(err))
	}
}

// admin carries out one request. The admin service listens before the
// node has joined its cluster (the services come first so that peers
// can reach it as it joins), and until then there is no membership to
// report or change.
func (n *clusterNode) admin(ctx context.Context, req adminRequest) adminReply {
	if !n.joined.Load() {
		return adminReply{Error: "this node is starting: it has not joined its cluster yet, try again in a moment"}
	}
	switch req.Op {
	case adminStatus:
		st := n.status()
		return adminReply{Status: &st}
	case adminForget:
		ctx, cancel := context.WithTimeout(ctx, 2*n.cfg.CommitTimeout)
		defer cancel()
		res, err := n.forget(ctx, req.Node, req.Forwarded)
		if err != nil {
			return adminReply{Error: err.Error()}
		}
		return adminReply{Forget: &res}
	case adminSetDiskFreeLimit:
		n.srv.setDiskFreeLimit(req.Limit)
		return adminReply{}
	case adminQuorumAddMember, adminQuorumDeleteMember, adminQuorumGrow:
		return n.quorumAdmin(ctx, req)
	case adminCounts:
		c := n.srv.localCounts(req.Vhost, req.User)
		return adminReply{Counts: &c}
	case adminExportDefinitions:
		return n.srv.exportReply()
	case string(PolicySet), string(PolicyClear), string(PolicyList):
		return n.srv.policyAdmin(ctx, req)
	}
	return adminReply{Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

// askAdmin sends req on nc and reads the reply, within ctx.
func askAdmin(ctx context.Context, nc net.Conn, req adminRequest) (adminReply, error) {
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	if err := writeJSON(nc, req); err != nil {
		return adminReply{}, err
	}
	var reply adminReply
	if err := readJSON(bufio.NewReader(nc), maxAdminReply, &reply); err != nil {
		if ctx.Err() != nil {
			return adminReply{}, ctx.Err()
		}
		return adminReply{}, fmt.Errorf("no answer: %w", err)
	}
	return reply, nil
}

// writeJSON writes v as a length and its JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(binary.AppendUvarint(nil, uint64(len(b))), b...))
	return err
}

// readJSON reads a length, at most max, and that much JSON into v.
func readJSON(r *bufio.Reader, max uint64, v any) error {
	b, err := readBytes(r, max)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
