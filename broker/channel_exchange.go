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
		if err := ch.checkAnyAccess(resExchange, m.Exchange); err != nil {
			return err
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
	if err := ch.checkAccess(resExchange, permConfigure, m.Exchange); err != nil {
		return err
	}
	// A redeclare is checked here, without a commit; Apply checks again if
	// the exchange appeared meanwhile.
	alt, _ := m.Arguments["alternate-exchange"].(string)
	def := exchangeDef{Name: m.Exchange, Kind: kind, Durable: m.Durable, AutoDelete: m.AutoDelete,
		Internal: m.Internal, Args: m.Arguments, Alternate: alt}
	if x := vh.exchange(m.Exchange); x != nil {
		if err := meta.ExchangeEquivalent(vh.name, &x.exchangeDef, &def); err != nil {
			return err
		}
	} else {
		if reservedName(m.Exchange) {
			return protocol.NewError(protocol.AccessRefused, "exchange name '%s' contains reserved prefix 'amq.*'", m.Exchange)
		}
		if def.Alternate, err = exchange.AlternateArg(vh.name, m.Exchange, m.Arguments); err != nil {
			return err
		}
		if def.Alternate != "" {
			// As rabbit_channel: read on the new exchange, write on its
			// alternate.
			if err := ch.checkAccess(resExchange, permRead, m.Exchange); err != nil {
				return err
			}
			if err := ch.checkAccess(resExchange, permWrite, def.Alternate); err != nil {
				return err
			}
		}
		var reply protocol.Method
		if !m.NoWait {
			reply = &protocol.ExchangeDeclareOk{}
		}
		ch.propose(m, meta.DeclareExchange{Vhost: vh.name, Exchange: def}, reply)
		return nil
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
	if err := ch.checkAccess(resExchange, permConfigure, m.Exchange); err != nil {
		return err
	}
	var reply protocol.Method
	if !m.NoWait {
		reply = &protocol.ExchangeDeleteOk{}
	}
	ch.propose(m, meta.DeleteExchange{Vhost: vh.name, Name: m.Exchange, IfUnused: m.IfUnused}, reply)
	return nil
}

func (ch *channel) exchangeBind(m *protocol.ExchangeBind) error {
	cmd, err := ch.bindExchanges(m.Source, m.Destination, m.RoutingKey, m.Arguments, true)
	if err != nil {
		return err
	}
	var reply protocol.Method
	if !m.NoWait {
		reply = &protocol.ExchangeBindOk{}
	}
	ch.propose(m, cmd, reply)
	return nil
}

func (ch *channel) exchangeUnbind(m *protocol.ExchangeUnbind) error {
	cmd, err := ch.bindExchanges(m.Source, m.Destination, m.RoutingKey, m.Arguments, false)
	if err != nil {
		return err
	}
	var reply protocol.Method
	if !m.NoWait {
		reply = &protocol.ExchangeUnbindOk{}
	}
	ch.propose(m, cmd, reply)
	return nil
}

// bindExchanges checks an exchange-to-exchange binding and returns the
// command that adds or removes it.
func (ch *channel) bindExchanges(src, dst, key string, args protocol.Table, bind bool) (meta.Command, error) {
	if err := ch.checkAccess(resExchange, permWrite, dst); err != nil {
		return nil, err
	}
	if src == "" || dst == "" {
		return nil, defaultExchangeRefused()
	}
	if err := ch.checkBindSource(src, key); err != nil {
		return nil, err
	}
	vh := ch.c.vh
	b := exchange.Binding{Source: src, Destination: exchange.Destination{Name: dst, Exchange: true}, Key: key, Args: args}
	if !bind {
		// Unbinding missing exchanges is fine, as in RabbitMQ.
		return meta.Unbind{Vhost: vh.name, Binding: b, By: ch.c.owner().meta()}, nil
	}
	if vh.exchange(src) == nil {
		return nil, vh.noExchange(src)
	}
	if vh.exchange(dst) == nil {
		return nil, vh.noExchange(dst)
	}
	return meta.Bind{Vhost: vh.name, Binding: b, By: ch.c.owner().meta()}, nil
}

// checkBindSource checks, as rabbit_channel's binding_action_with_checks
// after write on the destination: read on the source exchange, then the
// topic read permission of the key if the source is a topic exchange.
func (ch *channel) checkBindSource(src, key string) error {
	if err := ch.checkAccess(resExchange, permRead, src); err != nil {
		return err
	}
	return ch.checkTopic(ch.c.vh.exchange(src), permRead, key)
}
