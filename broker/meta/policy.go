package meta

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/warrenmq/warren/broker/policy"
)

// The op codes of policies (31 on).
const (
	OpSetPolicy   Op = 31
	OpClearPolicy Op = 32
)

// The parameter components RabbitMQ keeps policies and operator policies
// under; a policy is stored as the runtime parameter it is in RabbitMQ.
const (
	ComponentPolicy         = "policy"
	ComponentOperatorPolicy = "operator_policy"
)

type (
	// SetPolicy creates or replaces a policy (or, with Operator, an
	// operator policy) of a virtual host. The policy was validated
	// before it was proposed (policy.Policy.Validate).
	SetPolicy struct {
		Vhost    string
		Operator bool
		Policy   policy.Policy
	}
	// ClearPolicy removes a policy (or an operator policy).
	ClearPolicy struct {
		Vhost, Name string
		Operator    bool
	}
)

// Op implements Command.
func (SetPolicy) Op() Op { return OpSetPolicy }

// Op implements Command.
func (ClearPolicy) Op() Op { return OpClearPolicy }

func (c SetPolicy) encode(w *writer) {
	w.Str(c.Vhost)
	w.Flags(c.Operator)
	w.Str(c.Policy.Name)
	w.Str(c.Policy.Pattern)
	w.Str(c.Policy.ApplyTo)
	w.Varint(c.Policy.Priority)
	w.Str(string(c.Policy.Definition.JSON()))
}

func (c *SetPolicy) decode(r *reader) {
	c.Vhost = r.Str()
	r.Flags(&c.Operator)
	c.Policy.Name, c.Policy.Pattern, c.Policy.ApplyTo = r.Str(), r.Str(), r.Str()
	c.Policy.Priority = r.Varint()
	raw := r.Str()
	if r.Err != nil {
		return
	}
	d, err := policy.ParseDefinition([]byte(raw))
	if err != nil {
		r.Fail("policy definition: " + err.Error())
		return
	}
	if string(d.JSON()) != raw {
		// Encode writes it canonical; anything else was not written by it.
		r.Fail("policy definition not in canonical form")
		return
	}
	c.Policy.Definition = d
}

func (c ClearPolicy) encode(w *writer) {
	w.Str(c.Vhost)
	w.Str(c.Name)
	w.Flags(c.Operator)
}

func (c *ClearPolicy) decode(r *reader) {
	c.Vhost, c.Name = r.Str(), r.Str()
	r.Flags(&c.Operator)
}

// newPolicyCommand returns a pointer to a zero command of a policy op
// code, or nil.
func newPolicyCommand(op Op) decodable {
	switch op {
	case OpSetPolicy:
		return &SetPolicy{}
	case OpClearPolicy:
		return &ClearPolicy{}
	}
	return nil
}

// derefPolicy returns the value a policy command pointer points to, or
// nil for another command.
func derefPolicy(c decodable) Command {
	switch c := c.(type) {
	case *SetPolicy:
		return *c
	case *ClearPolicy:
		return *c
	}
	return nil
}

// component returns the parameter component of a policy or operator
// policy.
func component(operator bool) string {
	if operator {
		return ComponentOperatorPolicy
	}
	return ComponentPolicy
}

// isPolicyComponent reports whether parameters of component are policies.
func isPolicyComponent(component string) bool {
	return component == ComponentPolicy || component == ComponentOperatorPolicy
}

// policyValue is a policy's parameter value, as RabbitMQ stores it.
type policyValue struct {
	ApplyTo    string          `json:"apply-to"`
	Definition json.RawMessage `json:"definition"`
	Pattern    string          `json:"pattern"`
	Priority   json.Number     `json:"priority"`
}

// encodePolicy returns p's parameter value, deterministically.
func encodePolicy(p *policy.Policy) []byte {
	applyTo := p.ApplyTo
	if applyTo == "" {
		applyTo = policy.ApplyAll
	}
	b, _ := json.Marshal(policyValue{ApplyTo: applyTo, Definition: p.Definition.JSON(), Pattern: p.Pattern,
		Priority: json.Number(strconv.FormatInt(p.Priority, 10))})
	return b
}

// decodePolicy reads a policy parameter's value; ok is false for one that
// is not a policy (a parameter stored raw, before policies were applied,
// that RabbitMQ would not have taken).
func decodePolicy(name string, value []byte) (policy.Policy, bool) {
	var v policyValue
	if json.Unmarshal(value, &v) != nil {
		return policy.Policy{}, false
	}
	prio, err := v.Priority.Int64()
	if err != nil && v.Priority != "" {
		return policy.Policy{}, false
	}
	d, err := policy.ParseDefinition(v.Definition)
	if err != nil {
		return policy.Policy{}, false
	}
	return policy.Policy{Name: name, Pattern: v.Pattern, ApplyTo: v.ApplyTo, Priority: prio, Definition: d}, true
}

// applyPolicy applies a policy command, reporting whether cmd is one.
func (a *applier) applyPolicy(cmd Command) bool {
	switch c := cmd.(type) {
	case SetPolicy:
		a.setParameter(SetParameter{Vhost: c.Vhost, Component: component(c.Operator), Name: c.Policy.Name,
			Value: encodePolicy(&c.Policy)})
	case ClearPolicy:
		if _, ok := a.s.access.params[c.Vhost][paramKey(component(c.Operator), c.Name)]; !ok {
			a.res.Err = NoPolicy()
			return true
		}
		a.clearParameter(ClearParameter{Vhost: c.Vhost, Component: component(c.Operator), Name: c.Name})
	default:
		return false
	}
	return true
}

// policiesChanged rebuilds vhost's policy set after a policy or operator
// policy was set or cleared, and adds an effect for every queue and
// exchange of it whose effective policy changed, queues first, in name
// order.
func (a *applier) policiesChanged(vhost string) {
	old := a.s.access.polsets[vhost]
	a.s.rebuildPolicies(vhost)
	now := a.s.access.polsets[vhost]
	v := a.s.vhosts[vhost]
	if v == nil {
		return
	}
	for _, n := range slices.Sorted(maps.Keys(v.queues)) {
		q := v.queues[n]
		was, is := old.For(queueTarget(&q)), now.For(queueTarget(&q))
		if !sameEffective(&was, &is) {
			a.effect(Effect{Kind: QueuePolicyChanged, Vhost: vhost, Queue: q, Policy: is})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(v.exchanges)) {
		x := v.exchanges[n]
		was, is := old.For(exchangeTarget(n)), now.For(exchangeTarget(n))
		if !sameEffective(&was, &is) {
			a.effect(Effect{Kind: ExchangePolicyChanged, Vhost: vhost, Exchange: x, Policy: is})
		}
	}
}

func sameEffective(a, b *policy.Effective) bool {
	return a.Policy == b.Policy && a.Operator == b.Operator && slices.Equal(a.Definition.JSON(), b.Definition.JSON())
}

func queueTarget(q *QueueDef) policy.Target {
	return policy.Target{Name: q.Name, QueueType: q.Type}
}

func exchangeTarget(name string) policy.Target { return policy.Target{Name: name, Exchange: true} }

// rebuildPolicies compiles vhost's policies and operator policies from
// its parameters into its policy set (none when it has neither).
func (s *State) rebuildPolicies(vhost string) {
	var user, op []policy.Policy
	for _, p := range s.access.params[vhost] {
		if !isPolicyComponent(p.Component) {
			continue
		}
		pol, ok := decodePolicy(p.Name, p.Value)
		if !ok {
			continue
		}
		if p.Component == ComponentOperatorPolicy {
			op = append(op, pol)
		} else {
			user = append(user, pol)
		}
	}
	if len(user) == 0 && len(op) == 0 {
		delete(s.access.polsets, vhost)
		return
	}
	s.access.polsets[vhost] = policy.NewSet(user, op)
}

// rebuildAllPolicies compiles every vhost's policies, after a restore.
func (s *State) rebuildAllPolicies() {
	for vh := range s.access.params {
		s.rebuildPolicies(vh)
	}
}

// QueuePolicy returns the policy in force on the queue q of vhost.
func (s *State) QueuePolicy(vhost string, q *QueueDef) policy.Effective {
	return s.access.polsets[vhost].For(queueTarget(q))
}

// ExchangePolicy returns the policy in force on the exchange name of
// vhost.
func (s *State) ExchangePolicy(vhost, name string) policy.Effective {
	return s.access.polsets[vhost].For(exchangeTarget(name))
}

// VhostPolicy is a policy with its virtual host.
type VhostPolicy struct {
	Vhost string
	policy.Policy
}

// Policies returns the policies (or, with operator, the operator
// policies) of vhost, or of every vhost when vhost is "", sorted by vhost,
// then name. A policy parameter RabbitMQ would not have stored is left
// out.
func (s *State) Policies(vhost string, operator bool) []VhostPolicy {
	var out []VhostPolicy
	comp := component(operator)
	for _, p := range s.Parameters() {
		if p.Component != comp || (vhost != "" && p.Vhost != vhost) {
			continue
		}
		if pol, ok := decodePolicy(p.Name, p.Value); ok {
			out = append(out, VhostPolicy{Vhost: p.Vhost, Policy: pol})
		}
	}
	return out
}
