package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
)

// A cluster commits a definitions change only with a majority of its
// nodes. A node cut off from the majority, or one whose leader is lost
// mid-commit, refuses the change once the commit timeout
// (ClusterConfig.CommitTimeout) passes, as RabbitMQ 4 with Khepri does:
// 541 INTERNAL_ERROR, which closes the connection, with a text in the
// shape of RabbitMQ's ("failed to declare exchange 'x' in vhost '/'
// because the operation timed out") that also says why.

// timedOut returns the 541 for a definitions change that the cluster did
// not commit (or this node did not apply) in time, or nil when err is
// another failure.
func timedOut(cmd meta.Command, node string, err error) *protocol.Error {
	if !errors.Is(err, errNoLeader) && !errors.Is(err, errUnconfirmed) && !errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return protocol.NewError(protocol.InternalError,
		"failed to %s because the metadata store operation timed out on node '%s': %v", describeChange(cmd), node, err)
}

// describeChange names what cmd does, RabbitMQ's way of naming resources
// ("queue 'q' in vhost '/'").
func describeChange(cmd meta.Command) string {
	switch c := cmd.(type) {
	case meta.AddVhost:
		return fmt.Sprintf("add vhost '%s'", c.Name)
	case meta.DeleteVhost:
		return fmt.Sprintf("delete vhost '%s'", c.Name)
	case meta.DeclareExchange:
		return fmt.Sprintf("declare exchange '%s' in vhost '%s'", c.Exchange.Name, c.Vhost)
	case meta.DeleteExchange:
		return fmt.Sprintf("delete exchange '%s' in vhost '%s'", c.Name, c.Vhost)
	case meta.Bind:
		return fmt.Sprintf("bind %s to exchange '%s' in vhost '%s'", c.Binding.Destination, c.Binding.Source, c.Vhost)
	case meta.Unbind:
		return fmt.Sprintf("unbind %s from exchange '%s' in vhost '%s'", c.Binding.Destination, c.Binding.Source, c.Vhost)
	case meta.DeclareQueue:
		return fmt.Sprintf("declare queue '%s' in vhost '%s'", c.Queue.Name, c.Vhost)
	case meta.DeleteQueue:
		return fmt.Sprintf("delete queue '%s' in vhost '%s'", c.Name, c.Vhost)
	case meta.NodeDown:
		return fmt.Sprintf("remove the transient queues of node '%s'", c.Node)
	case meta.SetQueueMembers:
		return fmt.Sprintf("set the members of queue '%s' in vhost '%s'", c.Name, c.Vhost)
	}
	return fmt.Sprintf("change definitions (op %d)", cmd.Op())
}
