package broker

import (
	"strings"
	"unicode/utf8"

	"github.com/warrenmq/warren/protocol"
)

// checkMethod applies RabbitMQ's rules for the short strings of a method a
// client sent on a channel, before the method is handled:
//
//   - Every short string of a method without content must be UTF-8;
//     RabbitMQ's decoder refuses anything else with the connection error
//     501 "Malformed UTF-8 in shortstr", naming no method. basic.publish
//     is not checked, as RabbitMQ does not check it.
//   - Carriage returns and line feeds are removed from the queue and
//     exchange names of the methods RabbitMQ strips them from (its
//     strip_cr_lf): queue.declare, queue.delete, the bind and unbind
//     methods, exchange.declare and exchange.delete. queue.purge,
//     basic.consume, basic.get and basic.publish use names as sent.
//
// m is changed in place.
func checkMethod(m protocol.Method) error {
	switch m := m.(type) {
	case *protocol.QueueDeclare:
		if !utf8.ValidString(m.Queue) {
			return malformedShortstr()
		}
		m.Queue = stripCRLF(m.Queue)
	case *protocol.QueueDelete:
		if !utf8.ValidString(m.Queue) {
			return malformedShortstr()
		}
		m.Queue = stripNamed(m.Queue)
	case *protocol.QueueBind:
		if !validUTF8(m.Queue, m.Exchange, m.RoutingKey) {
			return malformedShortstr()
		}
		m.Queue, m.Exchange = stripNamed(m.Queue), stripCRLF(m.Exchange)
	case *protocol.QueueUnbind:
		if !validUTF8(m.Queue, m.Exchange, m.RoutingKey) {
			return malformedShortstr()
		}
		m.Queue, m.Exchange = stripNamed(m.Queue), stripCRLF(m.Exchange)
	case *protocol.ExchangeDeclare:
		if !validUTF8(m.Exchange, m.Type) {
			return malformedShortstr()
		}
		m.Exchange = stripCRLF(m.Exchange)
	case *protocol.ExchangeDelete:
		if !utf8.ValidString(m.Exchange) {
			return malformedShortstr()
		}
		m.Exchange = stripCRLF(m.Exchange)
	case *protocol.ExchangeBind:
		if !validUTF8(m.Destination, m.Source, m.RoutingKey) {
			return malformedShortstr()
		}
		m.Destination, m.Source = stripCRLF(m.Destination), stripCRLF(m.Source)
	case *protocol.ExchangeUnbind:
		if !validUTF8(m.Destination, m.Source, m.RoutingKey) {
			return malformedShortstr()
		}
		m.Destination, m.Source = stripCRLF(m.Destination), stripCRLF(m.Source)
	}
	return checkOtherShortstrs(m)
}

// checkOtherShortstrs checks the short strings of the methods whose names
// are used as sent.
func checkOtherShortstrs(m protocol.Method) error {
	ok := true
	switch m := m.(type) {
	case *protocol.QueuePurge:
		ok = utf8.ValidString(m.Queue)
	case *protocol.BasicConsume:
		ok = validUTF8(m.Queue, m.ConsumerTag)
	case *protocol.BasicCancel:
		ok = utf8.ValidString(m.ConsumerTag)
	case *protocol.BasicGet:
		ok = utf8.ValidString(m.Queue)
	case *protocol.ChannelClose:
		ok = utf8.ValidString(m.ReplyText)
	case *protocol.AccessRequest:
		ok = utf8.ValidString(m.Realm)
	}
	if !ok {
		return malformedShortstr()
	}
	return nil
}

// malformedShortstr is RabbitMQ's decoder error for a short string that is
// not UTF-8. It names no method, as RabbitMQ's does not.
func malformedShortstr() error {
	return protocol.NewError(protocol.FrameError, "Malformed UTF-8 in shortstr")
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// stripCRLF removes every carriage return and line feed from name.
func stripCRLF(name string) string {
	if !strings.ContainsAny(name, "\r\n") {
		return name
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, name)
}

// stripNamed is stripCRLF for a queue name where "" stands for the
// channel's last declared queue. RabbitMQ expands that shortcut before it
// strips, so a name of nothing but CR and LF never means the last queue;
// it is kept as sent, and names no queue.
func stripNamed(name string) string {
	if s := stripCRLF(name); s != "" {
		return s
	}
	return name
}
