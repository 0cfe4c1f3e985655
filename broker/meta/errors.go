package meta

import "github.com/warrenmq/warren/protocol"

// The AMQP exceptions of definitions, worded as RabbitMQ's.

// NoExchange is 404 for a missing exchange.
func NoExchange(vhost, name string) error {
	return protocol.NewError(protocol.NotFound, "no exchange '%s' in vhost '%s'", name, vhost)
}

// NoQueue is 404 for a missing queue.
func NoQueue(vhost, name string) error {
	return protocol.NewError(protocol.NotFound, "no queue '%s' in vhost '%s'", name, vhost)
}

// NoVhost is 404 for a command on a virtual host that does not exist (it
// was deleted while the command was on its way).
func NoVhost(vhost string) error {
	return protocol.NewError(protocol.NotFound, "no vhost '%s'", vhost)
}

// Locked is 405 for another connection's exclusive queue.
func Locked(vhost, name string) error {
	return protocol.NewError(protocol.ResourceLocked,
		"cannot obtain exclusive access to locked queue '%s' in vhost '%s'. It could be originally "+
			"declared on another connection or the exclusive property value does not match that of "+
			"the original declaration.", name, vhost)
}

// ExchangeInUse is 406 for exchange.delete with if-unused of an exchange
// with bindings from it.
func ExchangeInUse(vhost, name string) error {
	return protocol.NewError(protocol.PreconditionFailed, "exchange '%s' in vhost '%s' in use", name, vhost)
}

// NotQuorum is 406 for a change of members of a queue that is not a
// quorum queue.
func NotQuorum(vhost, name string) error {
	return protocol.NewError(protocol.PreconditionFailed,
		"queue '%s' in vhost '%s' is not a quorum queue", name, vhost)
}

// NoMembers is 406 for a quorum queue left without members: its last
// member cannot be removed, as RabbitMQ refuses with last_node.
func NoMembers(vhost, name string) error {
	return protocol.NewError(protocol.PreconditionFailed,
		"cannot remove the last member of quorum queue '%s' in vhost '%s'", name, vhost)
}

// BadMembers is 406 for members that name a node twice, or none.
func BadMembers(vhost, name string) error {
	return protocol.NewError(protocol.PreconditionFailed,
		"the members of quorum queue '%s' in vhost '%s' must be distinct node names", name, vhost)
}

// MembersChanged is 406 for a change of a quorum queue's members made
// from members that have changed since.
func MembersChanged(vhost, name string) error {
	return protocol.NewError(protocol.PreconditionFailed,
		"the members of quorum queue '%s' in vhost '%s' changed meanwhile", name, vhost)
}

// NoUser is 404 for a command naming a user that does not exist.
func NoUser(name string) error {
	return protocol.NewError(protocol.NotFound, "user '%s' does not exist", name)
}

// UserExists is 406 for creating a user that exists.
func UserExists(name string) error {
	return protocol.NewError(protocol.PreconditionFailed, "user '%s' already exists", name)
}

// BadUser is 406 for a user definition that cannot be kept.
func BadUser(why string) error {
	return protocol.NewError(protocol.PreconditionFailed, "%s", why)
}

// NoPolicy is 404 for clearing a policy that does not exist, worded as
// rabbit_runtime_parameters answers it.
func NoPolicy() error {
	return protocol.NewError(protocol.NotFound, "Parameter does not exist")
}

// QueueLimit is 406 for a new queue in a virtual host at its max-queues
// limit, worded as rabbit_queue_type's.
func QueueLimit(vhost, name string, limit int64) error {
	return protocol.NewError(protocol.PreconditionFailed,
		"cannot declare queue '%s': queue limit in vhost '%s' (%d) is reached", name, vhost, limit)
}
