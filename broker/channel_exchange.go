package broker

import (
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// defaultExchangeRefused is RabbitMQ's answer to operations on "".
func defaultExchangeRefused() error {
	return protocol.NewError(protocol.AccessRefused, "operation not permitted on the default exchange")
}

func (ch *channel) exchangeDeclare(m *protocol.ExchangeDeclare) error {
	vh := ch.c.vh
	if m.Passive {
		if m.Exchange == "" {
			return defaultExchangeRefused()
		}
		if vh.exchange(m.Exchange) == nil {
			return vh.noExchange(m.Exchange)
		}
		if !m.NoWait {
			ch.c.sendMethod(ch.id, &protocol.ExchangeDeclareOk{})
		}
		return nil
	}
	kind, err := exchange.ParseKind(m.Type)
	if err != nil {
		return err
	}
	if m.Exchange == "" {
		return defaultExchangeRefused()
	}
	x := vh.exchange(m.Exchange)
	if x == nil {
		if reservedName(m.Exchange) {
			return protocol.NewError(protocol.AccessRefused, "exchange name '%s' contains reserved prefix 'amq.*'", m.Exchange)
		}
		alt, err := exchange.AlternateArg(vh.name, m.Exchange, m.Arguments)
		if err != nil {
			return err
		}
		def := exchangeDef{Name: m.Exchange, Kind: kind, Durable: m.Durable, AutoDelete: m.AutoDelete,
			Internal: m.Internal, Args: m.Arguments, Alternate: alt}
		if _, err := vh.apply(opDeclareExchange{def: def}); err != nil {
			return err
		}
		x = vh.exchange(m.Exchange)
	}
	if x != nil {
		if err := exchangeEquivalent(vh.name, x, kind, m); err != nil {
			return err
		}
	}
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.ExchangeDeclareOk{})
	}
	return nil
}

// exchangeEquivalent checks a redeclare against the existing exchange as
// rabbit_exchange:assert_equivalence does.
func exchangeEquivalent(vhost string, x *exchangeDef, kind exchange.Kind, m *protocol.ExchangeDeclare) error {
	ineq := func(field, got, cur string) error {
		return protocol.NewError(protocol.PreconditionFailed,
			"inequivalent arg '%s' for exchange '%s' in vhost '%s': received '%s' but current is '%s'",
			field, x.Name, vhost, got, cur)
	}
	switch {
	case x.Kind != kind:
		return ineq("type", kind.String(), x.Kind.String())
	case x.Durable != m.Durable:
		return ineq("durable", boolText(m.Durable), boolText(x.Durable))
	case x.AutoDelete != m.AutoDelete:
		return ineq("auto_delete", boolText(m.AutoDelete), boolText(x.AutoDelete))
	case x.Internal != m.Internal:
		return ineq("internal", boolText(m.Internal), boolText(x.Internal))
	}
	alt, _ := m.Arguments["alternate-exchange"].(string)
	if alt != x.Alternate {
		got, cur := "none", "none"
		if alt != "" {
			got = "the value '" + alt + "' of type 'longstr'"
		}
		if x.Alternate != "" {
			cur = "the value '" + x.Alternate + "' of type 'longstr'"
		}
		return protocol.NewError(protocol.PreconditionFailed,
			"inequivalent arg 'alternate-exchange' for exchange '%s' in vhost '%s': received %s but current is %s",
			x.Name, vhost, got, cur)
	}
	return nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (ch *channel) exchangeDelete(m *protocol.ExchangeDelete) error {
	if m.Exchange == "" {
		return defaultExchangeRefused()
	}
	vh := ch.c.vh
	if reservedName(m.Exchange) {
		return protocol.NewError(protocol.AccessRefused, "deletion of system exchange '%s' in vhost '%s' not allowed",
			m.Exchange, vh.name)
	}
	if _, err := vh.apply(opDeleteExchange{name: m.Exchange, ifUnused: m.IfUnused}); err != nil {
		return err
	}
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.ExchangeDeleteOk{})
	}
	return nil
}

func (ch *channel) exchangeBind(m *protocol.ExchangeBind) error {
	if err := ch.bindExchanges(m.Source, m.Destination, m.RoutingKey, m.Arguments, true); err != nil {
		return err
	}
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.ExchangeBindOk{})
	}
	return nil
}

func (ch *channel) exchangeUnbind(m *protocol.ExchangeUnbind) error {
	if err := ch.bindExchanges(m.Source, m.Destination, m.RoutingKey, m.Arguments, false); err != nil {
		return err
	}
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.ExchangeUnbindOk{})
	}
	return nil
}

// bindExchanges adds or removes an exchange-to-exchange binding.
func (ch *channel) bindExchanges(src, dst, key string, args protocol.Table, bind bool) error {
	if src == "" || dst == "" {
		return defaultExchangeRefused()
	}
	vh := ch.c.vh
	b := exchange.Binding{Source: src, Destination: exchange.Destination{Name: dst, Exchange: true}, Key: key, Args: args}
	if !bind {
		// Unbinding missing exchanges is fine, as in RabbitMQ.
		_, err := vh.apply(opUnbind{b: b, by: ch.c.owner()})
		return err
	}
	if vh.exchange(src) == nil {
		return vh.noExchange(src)
	}
	if vh.exchange(dst) == nil {
		return vh.noExchange(dst)
	}
	_, err := vh.apply(opBind{b: b})
	return err
}
