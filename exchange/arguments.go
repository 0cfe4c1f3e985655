package exchange

import "github.com/warrenmq/warren/protocol"

// AlternateArg returns the alternate exchange named by the
// "alternate-exchange" argument of an exchange.declare, or "" when there is
// none. A value that is not a string is the error RabbitMQ gives:
// 406 PRECONDITION_FAILED "invalid type 'signedint' for arg
// 'alternate-exchange' in exchange 'x' in vhost '/'". vhost and exchange
// only name the exchange in that text.
func AlternateArg(vhost, exchange string, args protocol.Table) (string, error) {
	v, ok := args["alternate-exchange"]
	if !ok {
		return "", nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", protocol.NewError(protocol.PreconditionFailed,
		"invalid type '%s' for arg 'alternate-exchange' in exchange '%s' in vhost '%s'",
		protocol.FieldTypeName(v), exchange, vhost)
}
