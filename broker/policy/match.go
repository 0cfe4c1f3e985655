package policy

import (
	"cmp"
	"regexp"
	"slices"

	"github.com/warrenmq/warren/queue"
)

// Policy is a policy or an operator policy of a virtual host.
type Policy struct {
	Name string
	// Pattern is a regular expression matched anywhere in a queue's or
	// exchange's name.
	Pattern string
	// ApplyTo is one of the Apply* values; "" is ApplyAll.
	ApplyTo    string
	Priority   int64
	Definition Definition
}

// Target is a queue or exchange a policy may apply to.
type Target struct {
	Name     string
	Exchange bool
	// QueueType is a queue's x-queue-type (queue.TypeClassic …).
	QueueType string
}

// unsupported are, per queue type, the keys that keep a policy off its
// queues altogether (the unsupported_policies of RabbitMQ 4's
// rabbit_classic_queue, rabbit_quorum_queue and rabbit_stream_queue
// capabilities): a policy that sets one does not match them.
var unsupported = map[string][]string{
	queue.TypeClassic: {"max-age", "stream-max-segment-size-bytes", "initial-cluster-size",
		"delivery-limit", "dead-letter-strategy", "max-in-memory-length", "max-in-memory-bytes",
		"target-group-size"},
	queue.TypeQuorum: {"max-priority", "queue-mode", "ha-mode", "ha-params", "ha-sync-mode",
		"ha-promote-on-shutdown", "ha-promote-on-failure", "queue-master-locator",
		"max-age", "stream-max-segment-size-bytes", "initial-cluster-size"},
	queue.TypeStream: {"expires", "message-ttl", "dead-letter-exchange", "dead-letter-routing-key",
		"max-length", "max-in-memory-length", "max-in-memory-bytes", "max-priority", "overflow",
		"queue-mode", "delivery-limit", "ha-mode", "ha-params", "ha-sync-mode",
		"ha-promote-on-shutdown", "ha-promote-on-failure", "queue-master-locator"},
}

// applyToName is the apply-to value naming one queue type only.
var applyToName = map[string]string{
	queue.TypeClassic: ApplyClassic,
	queue.TypeQuorum:  ApplyQuorum,
	queue.TypeStream:  ApplyStreams,
}

// compiled is a policy with its pattern compiled.
type compiled struct {
	p  Policy
	re *regexp.Regexp
}

// applies reports whether c matches t, as rabbit_policy:matches/3: its
// apply-to fits t's kind (and queue type), no key of its definition is
// one t's queue type does not support, and its pattern matches t's name.
func (c *compiled) applies(t Target) bool {
	applyTo := c.p.ApplyTo
	if applyTo == "" {
		applyTo = ApplyAll
	}
	if t.Exchange {
		if applyTo != ApplyAll && applyTo != ApplyExchanges {
			return false
		}
	} else {
		if applyTo != ApplyAll && applyTo != ApplyQueues && applyTo != applyToName[t.QueueType] {
			return false
		}
		for k := range c.p.Definition {
			if slices.Contains(unsupported[t.QueueType], k) {
				return false
			}
		}
	}
	return c.re.MatchString(t.Name)
}

// Set is the policies and operator policies of one virtual host, ready to
// match: each list sorted by priority, highest first, and by name among
// equal priorities.
type Set struct {
	user, op []compiled
}

// NewSet returns the set of policies and operator policies. A policy
// whose pattern does not compile (stored before it was validated) never
// matches.
func NewSet(policies, operator []Policy) *Set {
	return &Set{user: compile(policies), op: compile(operator)}
}

func compile(ps []Policy) []compiled {
	out := make([]compiled, 0, len(ps))
	for _, p := range ps {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			continue
		}
		out = append(out, compiled{p: p, re: re})
	}
	slices.SortStableFunc(out, func(a, b compiled) int {
		if c := cmp.Compare(b.p.Priority, a.p.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.p.Name, b.p.Name)
	})
	return out
}

// Effective is the policy in force on a queue or exchange: the names of
// the policy and the operator policy that match it ("" for none) and
// their definitions merged.
type Effective struct {
	Policy, Operator string
	Definition       Definition
}

// None reports whether no policy applies.
func (e *Effective) None() bool { return e.Policy == "" && e.Operator == "" }

// For returns the policy in force on t, as rabbit_policy computes it:
// the matching policy of highest priority (among equal priorities, the
// one whose name sorts first), the same of the operator policies, and
// their definitions merged key by key (Merge). A nil set has none.
func (s *Set) For(t Target) Effective {
	if s == nil {
		return Effective{}
	}
	var e Effective
	var user, op Definition
	if c := first(s.user, t); c != nil {
		e.Policy, user = c.p.Name, c.p.Definition
	}
	if c := first(s.op, t); c != nil {
		e.Operator, op = c.p.Name, c.p.Definition
	}
	e.Definition = Merge(user, op)
	return e
}

func first(cs []compiled, t Target) *compiled {
	for i := range cs {
		if cs[i].applies(t) {
			return &cs[i]
		}
	}
	return nil
}

// Merge merges a policy's definition with an operator policy's, as
// rabbit_policy:merge_operator_definitions: every key of either, and for
// a key both set, the stricter value (rabbit_policies'
// merge_policy_value): the lower of expires, message-ttl, max-length,
// max-length-bytes, max-in-memory-length and max-in-memory-bytes; for
// delivery-limit the lower, unless one is negative (unlimited), then the
// higher; the higher target-group-size; the operator policy's value of
// any other key (overflow, queue-version, ha-mode …). The result is a new
// map; nil when both are empty.
func Merge(user, op Definition) Definition {
	if len(user) == 0 && len(op) == 0 {
		return nil
	}
	out := make(Definition, len(user)+len(op))
	for k, v := range user {
		out[k] = v
	}
	for k, v := range op {
		if uv, both := out[k]; both {
			merge := keys[k].merge
			if merge == nil {
				merge = mergeOperator
			}
			v = merge(uv, v)
		}
		out[k] = v
	}
	return out
}

func mergeOperator(_, op any) any { return op }

func mergeMin(user, op any) any {
	u, uok := user.(int64)
	o, ook := op.(int64)
	if !uok || !ook {
		return op
	}
	return min(u, o)
}

func mergeMax(user, op any) any {
	u, uok := user.(int64)
	o, ook := op.(int64)
	if !uok || !ook {
		return op
	}
	return max(u, o)
}

func mergeDeliveryLimit(user, op any) any {
	u, uok := user.(int64)
	o, ook := op.(int64)
	if !uok || !ook {
		return op
	}
	if u < 0 || o < 0 {
		return max(u, o)
	}
	return min(u, o)
}
