package exchange

import "github.com/warrenmq/warren/protocol"

// Kind is an exchange type: how an exchange picks the bindings a message
// follows.
type Kind uint8

// The exchange types RabbitMQ ships with.
const (
	// Direct routes to every binding whose key equals a routing key.
	Direct Kind = iota + 1
	// Fanout routes to every binding, whatever the routing key.
	Fanout
	// Topic routes to every binding whose key, a dot-separated pattern
	// with the wildcards "*" and "#", matches a routing key.
	Topic
	// Headers routes on the message headers, as the binding arguments
	// and their x-match say.
	Headers
)

// String returns the type's name as it is declared: "direct", "fanout",
// "topic" or "headers".
func (k Kind) String() string {
	switch k {
	case Direct:
		return "direct"
	case Fanout:
		return "fanout"
	case Topic:
		return "topic"
	case Headers:
		return "headers"
	}
	return "invalid"
}

// ParseKind returns the Kind named by an exchange.declare type field. An
// unknown name is the error RabbitMQ 4.x gives (rabbit_exchange:check_type):
// 406 PRECONDITION_FAILED "unknown exchange type 'x'".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "direct":
		return Direct, nil
	case "fanout":
		return Fanout, nil
	case "topic":
		return Topic, nil
	case "headers":
		return Headers, nil
	}
	return 0, protocol.NewError(protocol.PreconditionFailed, "unknown exchange type '%s'", s)
}
