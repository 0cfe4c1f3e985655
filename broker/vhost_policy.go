package broker

import (
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/policy"
)

// A policy set, changed or cleared reaches this node as the effects of
// its definitions command (meta.QueuePolicyChanged,
// meta.ExchangePolicyChanged), for every queue and exchange whose
// effective policy changed; the reconciler applies them here, on every
// node, without a restart.

// queuePolicyChanged gives the queue def names, if this node runs that
// incarnation, the arguments the policy pol makes of its own, when they
// differ from those it has. The queue is told without the vhost lock
// (a classic queue may dead-letter into this vhost). A proxy of a queue
// homed elsewhere ignores it: the home node's reconciler tells the queue.
func (v *vhost) queuePolicyChanged(def queueDef, pol policy.Effective) {
	v.mu.Lock()
	e := v.queues[def.Name]
	if e == nil || e.def.Incarnation != def.Incarnation {
		v.mu.Unlock()
		return
	}
	eff := policy.QueueArgs(e.args, pol.Definition)
	if eff == e.eff {
		v.mu.Unlock()
		return
	}
	e.eff = eff
	v.mu.Unlock()
	e.q.UpdateArgs(eff)
	v.log.Debug("queue policy applied", zap.String("queue", def.Name), zap.String("policy", pol.Policy),
		zap.String("operator_policy", pol.Operator))
}

// consumerTimeout returns the queue's x-consumer-timeout with its policy
// in force (the lower of the two), if either sets one: what a consumer
// starting now is held to unless its own argument says otherwise.
func (v *vhost) consumerTimeout(e *queueEntry) (time.Duration, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return e.eff.ConsumerTimeout, e.eff.HasConsumerTimeout
}

// exchangePolicyChanged sets the alternate exchange of the exchange name
// to the one its argument or the policy pol says.
func (v *vhost) exchangePolicyChanged(name string, pol policy.Effective) {
	v.mu.Lock()
	defer v.mu.Unlock()
	x := v.exchanges[name]
	if x == nil {
		return
	}
	v.router.SetAlternate(name, policy.AlternateExchange(x.Alternate, x.Alternate != "", pol.Definition))
}
