package mgmt

import (
	"context"
	"encoding/json"
	"net"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/broker/policy"
)

// Broker is what the API needs of a node: *broker.Server's exported Go
// API. The broker does not know this package.
type Broker interface {
	Authenticate(user, password string, from net.Addr) (broker.UserInfo, error)
	CanAccessVhost(user, vhost string) bool
	UserTags(user string) ([]string, bool)
	ServeConn(nc net.Conn) error

	Snapshot() *broker.Definitions
	ImportDefinitions(ctx context.Context, doc []byte) error
	Vhosts() []string
	Exchanges(vhost string) []broker.ExchangeInfo
	Queues(ctx context.Context, vhost string) []broker.QueueInfo
	QueueSamples(ctx context.Context, dst []broker.QueueSample) []broker.QueueSample
	Totals() broker.Totals
	Bindings(vhost string) []broker.BindingInfo
	Connections() []broker.ConnectionInfo
	Channels() []broker.ChannelInfo
	Consumers() []broker.ConsumerInfo
	CloseConnection(ctx context.Context, name, reason string) bool

	PutUser(ctx context.Context, spec broker.UserSpec) error
	DeleteUser(ctx context.Context, name string) error
	SetPermissions(ctx context.Context, user, vhost string, p broker.Permission) error
	ClearPermissions(ctx context.Context, user, vhost string) error
	SetTopicPermissions(ctx context.Context, user, vhost, exchange, write, read string) error
	ClearTopicPermissions(ctx context.Context, user, vhost, exchange string) error
	PutVhost(ctx context.Context, name string, m broker.VhostMetadata) error
	DeleteVhost(ctx context.Context, name string) error
	SetVhostLimits(ctx context.Context, vhost string, l broker.Limits) error
	SetUserLimits(ctx context.Context, user string, l broker.Limits) error
	SetParameter(ctx context.Context, vhost, component, name string, value json.RawMessage) error
	ClearParameter(ctx context.Context, vhost, component, name string) error
	SetPolicy(ctx context.Context, vhost string, p policy.Policy) error
	SetOperatorPolicy(ctx context.Context, vhost string, p policy.Policy) error
	ClearPolicy(ctx context.Context, vhost, name string) error
	ClearOperatorPolicy(ctx context.Context, vhost, name string) error
	Policies(vhost string) []meta.VhostPolicy
	OperatorPolicies(vhost string) []meta.VhostPolicy
	SetGlobalParameter(ctx context.Context, name string, value json.RawMessage) error
	ClearGlobalParameter(ctx context.Context, name string) error

	NodeName() string
	ClusterMembers() []broker.ClusterMember
	ClusterName() string
	Listeners() []broker.Listener
	Alarms() (local, all []string)
	MemoryHighWatermark() int64
	DiskFreeLimit() int64
	QuorumCritical() (single bool, critical []broker.QueueRef)
}

var _ Broker = (*broker.Server)(nil)
