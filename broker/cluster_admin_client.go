package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenmq/warren/cluster"
)

// AdminClient asks a running cluster node for its operations commands
// over the node's cluster port, proving the cluster secret as the nodes
// do (cluster.DialService). Each call opens one connection of its own.
type AdminClient struct {
	// Addr is the node's cluster address, host:port.
	Addr string
	// Secret is the cluster's secret.
	Secret string
}

// Status returns the node's view of its cluster.
func (c AdminClient) Status(ctx context.Context) (ClusterStatus, error) {
	reply, err := c.ask(ctx, adminRequest{Op: adminStatus})
	if err != nil {
		return ClusterStatus{}, err
	}
	if reply.Status == nil {
		return ClusterStatus{}, fmt.Errorf("%s answered no status", c.Addr)
	}
	return *reply.Status, nil
}

// Forget removes node, which must be stopped, from the cluster for good,
// deleting the definitions of the classic queues homed on it, as
// rabbitmqctl forget_cluster_node does.
func (c AdminClient) Forget(ctx context.Context, node string) (ForgetResult, error) {
	reply, err := c.ask(ctx, adminRequest{Op: adminForget, Node: node})
	if err != nil {
		return ForgetResult{}, err
	}
	if reply.Forget == nil {
		return ForgetResult{}, fmt.Errorf("%s answered nothing", c.Addr)
	}
	return *reply.Forget, nil
}

// SetDiskFreeLimit sets the node's disk free limit in bytes until it
// stops, as rabbitmqctl set_disk_free_limit does; 0 disables the check.
// The node checks its disk before answering, so its disk alarm is raised
// or cleared when this returns.
func (c AdminClient) SetDiskFreeLimit(ctx context.Context, limit int64) error {
	_, err := c.ask(ctx, adminRequest{Op: adminSetDiskFreeLimit, Limit: limit})
	return err
}

// ask sends one request and returns the reply, or the node's error.
func (c AdminClient) ask(ctx context.Context, req adminRequest) (adminReply, error) {
	nc, err := cluster.DialService(ctx, c.Addr, c.Secret, adminService)
	if err != nil {
		return adminReply{}, err
	}
	reply, err := askAdmin(ctx, nc, req)
	if err != nil {
		return adminReply{}, fmt.Errorf("%s: %w", c.Addr, err)
	}
	if reply.Error != "" {
		return adminReply{}, errors.New(reply.Error)
	}
	return reply, nil
}
