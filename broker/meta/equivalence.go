package meta

import (
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// ExchangeEquivalent checks a redeclare (got) against the exchange there
// (cur) as rabbit_exchange:assert_equivalence does.
func ExchangeEquivalent(vhost string, cur, got *ExchangeDef) error {
	ineq := func(field, g, c string) error {
		return protocol.NewError(protocol.PreconditionFailed,
			"inequivalent arg '%s' for exchange '%s' in vhost '%s': received '%s' but current is '%s'",
			field, cur.Name, vhost, g, c)
	}
	switch {
	case cur.Kind != got.Kind:
		return ineq("type", got.Kind.String(), cur.Kind.String())
	case cur.Durable != got.Durable:
		return ineq("durable", boolText(got.Durable), boolText(cur.Durable))
	case cur.AutoDelete != got.AutoDelete:
		return ineq("auto_delete", boolText(got.AutoDelete), boolText(cur.AutoDelete))
	case cur.Internal != got.Internal:
		return ineq("internal", boolText(got.Internal), boolText(cur.Internal))
	}
	if got.Alternate != cur.Alternate {
		g, c := "none", "none"
		if got.Alternate != "" {
			g = "the value '" + got.Alternate + "' of type 'longstr'"
		}
		if cur.Alternate != "" {
			c = "the value '" + cur.Alternate + "' of type 'longstr'"
		}
		return protocol.NewError(protocol.PreconditionFailed,
			"inequivalent arg 'alternate-exchange' for exchange '%s' in vhost '%s': received %s but current is %s",
			cur.Name, vhost, g, c)
	}
	return nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// QueueEquivalent checks a redeclare (got) against the queue there (cur)
// as rabbit_amqqueue:assert_equivalence does: the declaring connection
// must be the exclusive owner (or both shared), and durable, auto-delete
// and the arguments cur's type compares must match.
func QueueEquivalent(vhost string, cur, got *QueueDef) error {
	if cur.Owner != got.Owner {
		return Locked(vhost, cur.Name)
	}
	if err := queue.EquivalentField(cur.Name, vhost, "durable", cur.Durable, got.Durable); err != nil {
		return err
	}
	if err := queue.EquivalentField(cur.Name, vhost, "auto_delete", cur.AutoDelete, got.AutoDelete); err != nil {
		return err
	}
	return queue.EquivalentArgs(cur.Name, vhost, cur.Type, cur.Args, got.Args)
}
