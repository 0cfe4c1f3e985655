package broker

import (
	"context"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/broker/policy"
)

// Policies and operator policies, as rabbitmqctl set_policy,
// clear_policy, list_policies, set_operator_policy, clear_operator_policy
// and list_operator_policies reach them: a policy is validated here, as
// RabbitMQ validates it, before its command is proposed; once committed,
// every node applies it to the matching queues and exchanges
// (vhost_policy.go).

// SetPolicy creates or replaces a policy of vhost. A policy RabbitMQ
// would refuse is a *policy.ValidationError with RabbitMQ's reasons; a
// vhost that does not exist is 404.
func (s *Server) SetPolicy(ctx context.Context, vhost string, p policy.Policy) error {
	return s.setPolicy(ctx, vhost, p, false)
}

// SetOperatorPolicy creates or replaces an operator policy of vhost: one
// that caps what policies and queue arguments set (policy.Merge), limited
// to the keys RabbitMQ lets an operator policy set.
func (s *Server) SetOperatorPolicy(ctx context.Context, vhost string, p policy.Policy) error {
	return s.setPolicy(ctx, vhost, p, true)
}

func (s *Server) setPolicy(ctx context.Context, vhost string, p policy.Policy, operator bool) (err error) {
	if p.ApplyTo == "" {
		p.ApplyTo = policy.ApplyAll
	}
	defer s.audited(ctx, policyEntry(vhost, p, operator), &err)
	if err := p.Validate(operator); err != nil {
		return err
	}
	_, err = s.proposeVhost(ctx, meta.SetPolicy{Vhost: vhost, Operator: operator, Policy: p}, vhost)
	return err
}

// ClearPolicy removes a policy of vhost; one that does not exist is 404
// "Parameter does not exist", as RabbitMQ answers.
func (s *Server) ClearPolicy(ctx context.Context, vhost, name string) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "policy.clear", Vhost: vhost, Name: name}, &err)
	_, err = s.proposeVhost(ctx, meta.ClearPolicy{Vhost: vhost, Name: name}, vhost)
	return err
}

// ClearOperatorPolicy removes an operator policy of vhost.
func (s *Server) ClearOperatorPolicy(ctx context.Context, vhost, name string) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "operator_policy.clear", Vhost: vhost, Name: name}, &err)
	_, err = s.proposeVhost(ctx, meta.ClearPolicy{Vhost: vhost, Name: name, Operator: true}, vhost)
	return err
}

// Policies returns the policies of vhost ("" for every vhost), sorted by
// vhost and name.
func (s *Server) Policies(vhost string) []meta.VhostPolicy {
	var out []meta.VhostPolicy
	s.fsm.read(func(st *meta.State) { out = st.Policies(vhost, false) })
	return out
}

// OperatorPolicies returns the operator policies of vhost ("" for every
// vhost), sorted by vhost and name.
func (s *Server) OperatorPolicies(vhost string) []meta.VhostPolicy {
	var out []meta.VhostPolicy
	s.fsm.read(func(st *meta.State) { out = st.Policies(vhost, true) })
	return out
}

// QueuePolicy returns the policy in force on a queue (the names of its
// policy and operator policy and their merged definition, as the
// management API's policy, operator_policy and
// effective_policy_definition show them), and whether the queue exists.
func (s *Server) QueuePolicy(vhost, name string) (policy.Effective, bool) {
	var e policy.Effective
	var ok bool
	s.fsm.read(func(st *meta.State) {
		for _, q := range st.Queues(vhost) {
			if q.Name == name {
				e, ok = st.QueuePolicy(vhost, &q), true
				return
			}
		}
	})
	return e, ok
}

// ExchangePolicy returns the policy in force on an exchange, and whether
// the exchange exists.
func (s *Server) ExchangePolicy(vhost, name string) (policy.Effective, bool) {
	var e policy.Effective
	var ok bool
	s.fsm.read(func(st *meta.State) {
		for _, x := range st.Exchanges(vhost) {
			if x.Name == name {
				e, ok = st.ExchangePolicy(vhost, name), true
				return
			}
		}
	})
	return e, ok
}
