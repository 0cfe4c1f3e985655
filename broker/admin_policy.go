package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/warrenmq/warren/broker/policy"
)

// `warren set_policy`, `clear_policy`, `list_policies` and their operator
// siblings reach a node as rabbitmqctl's do: a single node over its admin
// socket, a cluster node over its cluster port's admin service. Both
// answer with policyAdmin.

// PolicyOp is a policy operation asked of a running node.
type PolicyOp string

// The policy operations.
const (
	PolicySet   PolicyOp = "set_policy"
	PolicyClear PolicyOp = "clear_policy"
	PolicyList  PolicyOp = "list_policies"
)

// PolicyRequest is a policy or operator policy to set or clear, or the
// vhost whose policies to list ("" for every vhost).
type PolicyRequest struct {
	Operator   bool            `json:"operator,omitempty"`
	Vhost      string          `json:"vhost"`
	Name       string          `json:"name,omitempty"`
	Pattern    string          `json:"pattern,omitempty"`
	ApplyTo    string          `json:"apply-to,omitempty"`
	Priority   int64           `json:"priority,omitempty"`
	Definition json.RawMessage `json:"definition,omitempty"`
}

// PolicyInfo is a policy as list_policies shows it.
type PolicyInfo struct {
	Vhost      string          `json:"vhost"`
	Name       string          `json:"name"`
	Pattern    string          `json:"pattern"`
	ApplyTo    string          `json:"apply-to"`
	Definition json.RawMessage `json:"definition"`
	Priority   int64           `json:"priority"`
}

// policyAdmin carries out a policy operation.
func (s *Server) policyAdmin(ctx context.Context, req adminRequest) adminReply {
	p := req.Policy
	if p == nil {
		return adminReply{Error: "no policy in the request"}
	}
	var err error
	switch PolicyOp(req.Op) {
	case PolicySet:
		var d policy.Definition
		if d, err = policy.ParseDefinition(p.Definition); err == nil {
			err = s.setPolicy(ctx, p.Vhost, policy.Policy{Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo,
				Priority: p.Priority, Definition: d}, p.Operator)
		}
	case PolicyClear:
		if p.Operator {
			err = s.ClearOperatorPolicy(ctx, p.Vhost, p.Name)
		} else {
			err = s.ClearPolicy(ctx, p.Vhost, p.Name)
		}
	case PolicyList:
		return adminReply{Policies: s.policyInfos(p.Vhost, p.Operator)}
	}
	if err != nil {
		return adminReply{Error: err.Error()}
	}
	return adminReply{}
}

func (s *Server) policyInfos(vhost string, operator bool) []PolicyInfo {
	ps := s.Policies(vhost)
	if operator {
		ps = s.OperatorPolicies(vhost)
	}
	out := make([]PolicyInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, PolicyInfo{Vhost: p.Vhost, Name: p.Name, Pattern: p.Pattern, ApplyTo: p.ApplyTo,
			Definition: p.Definition.JSON(), Priority: p.Priority})
	}
	return out
}

// PolicyAt asks the single node whose data dir is dataDir, over its admin
// socket, to carry out a policy operation; a list answers the policies.
func PolicyAt(ctx context.Context, dataDir string, op PolicyOp, p PolicyRequest) ([]PolicyInfo, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", filepath.Join(dataDir, adminSocketFile))
	if err != nil {
		return nil, fmt.Errorf("no node answers in %s (is it running, as this user?): %w", dataDir, err)
	}
	reply, err := askAdmin(ctx, nc, adminRequest{Op: string(op), Policy: &p})
	if err != nil {
		return nil, err
	}
	if reply.Error != "" {
		return nil, errors.New(reply.Error)
	}
	return reply.Policies, nil
}

// Policy asks the cluster node to carry out a policy operation; a list
// answers the policies.
func (c AdminClient) Policy(ctx context.Context, op PolicyOp, p PolicyRequest) ([]PolicyInfo, error) {
	reply, err := c.ask(ctx, adminRequest{Op: string(op), Policy: &p})
	if err != nil {
		return nil, err
	}
	return reply.Policies, nil
}
