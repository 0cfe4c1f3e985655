package broker

import (
	"github.com/warrenmq/warren/broker/meta"
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
	// A redeclare is checked here, without a commit; Apply checks again if
	// the exchange appeared meanwhile.
	alt, _ := m.Arguments["alternate-exchange"].(string)
	def := exchangeDef{Name: m.Exchange, Kind: kind, Durable: m.Durable, AutoDelete: m.AutoDelete,
		Internal: m.Internal, Args: m.Arguments, Alternate: alt}
	if x := vh.exchange(m.Exchange); x != nil {
		if err := meta.ExchangeEquivalent(vh.name, x, &def); err != nil {
			return err
		}
	} else {
		if reservedName(m.Exchange) {
			return protocol.NewError(protocol.AccessRefused, "exchange name '%s' contains reserved prefix 'amq.*'", m.Exchange)
		}
		if def.Alternate, err = exchange.AlternateArg(vh.name, m.Exchange, m.Arguments); err != nil {
			return err
		}
		if _, err := vh.apply(meta.DeclareExchange{Vhost: vh.name, Exchange: def}); err != nil {
			return err
		}
	}
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.ExchangeDeclareOk{})
	}
	return nil
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
	if _, err := vh.apply(meta.DeleteExchange{Vhost: vh.name, Name: m.Exchange, IfUnused: m.IfUnused}); err != nil {
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
		_, err := vh.apply(meta.Unbind{Vhost: vh.name, Binding: b, By: ch.c.owner().meta()})
		return err
	}
	if vh.exchange(src) == nil {
		return vh.noExchange(src)
	}
	if vh.exchange(dst) == nil {
		return vh.noExchange(dst)
	}
	_, err := vh.apply(meta.Bind{Vhost: vh.name, Binding: b, By: ch.c.owner().meta()})
	return err
}
