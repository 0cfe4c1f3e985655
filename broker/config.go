package broker

import (
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
)

// Defaults RabbitMQ ships with, used for zero fields of Config.
const (
	// DefaultHeartbeat is the heartbeat interval offered in connection.tune.
	DefaultHeartbeat = 60 * time.Second
	// DefaultFrameMax is the largest frame offered in connection.tune.
	DefaultFrameMax = 131072
	// DefaultChannelMax is the most channels offered in connection.tune.
	DefaultChannelMax = 2047
	// DefaultConsumerTimeout is how long a delivery may stay unacknowledged
	// before its channel is closed (RabbitMQ's consumer_timeout).
	DefaultConsumerTimeout = 30 * time.Minute
	// DefaultMaxMessageSize is the largest message body accepted
	// (RabbitMQ 4's max_message_size default, 16 MiB).
	DefaultMaxMessageSize = 16 << 20
	// absoluteMaxMessageSize is the hard cap of RabbitMQ's command
	// assembler (MAX_MSG_SIZE, 512 MiB).
	absoluteMaxMessageSize = 512 << 20
	// DefaultHandshakeTimeout bounds the time from TCP accept to
	// connection.open (RabbitMQ's handshake_timeout).
	DefaultHandshakeTimeout = 10 * time.Second
	// minFrameMax is the smallest frame_max a client may ask for.
	minFrameMax = 4096
	// maxNodeName bounds Config.NodeName so that a direct reply-to key,
	// which carries it, fits the 255 octets of a routing key.
	maxNodeName = 128
)

// Config configures a Server. The zero value of every field but Listen,
// ListenTLS, DataDir and InMemory means RabbitMQ's default.
type Config struct {
	// Listen are the TCP addresses for AMQP clients, such as
	// "127.0.0.1:5672", "[::1]:5672" or "127.0.0.1:0" for a free port
	// (RabbitMQ's listeners.tcp).
	Listen []string
	// ListenTLS are the addresses for AMQPS clients (RabbitMQ's
	// listeners.ssl, port 5671 by default); they need TLS. Start fails
	// when Listen and ListenTLS are both empty.
	ListenTLS []string
	// TLS configures the ListenTLS listeners (RabbitMQ's ssl_options,
	// tls.go); nil when there are none.
	TLS *TLSConfig
	// AuthMechanisms are the SASL mechanisms offered, in RabbitMQ's
	// auth_mechanisms: PLAIN, AMQPLAIN and EXTERNAL (offered on TLS
	// connections only, auth_external.go). Nil means PLAIN and AMQPLAIN.
	AuthMechanisms []string
	// ManagementListen is where the HTTP management API listens
	// (management.tcp.ip and .port); empty when not configured.
	ManagementListen string
	// DataDir holds the node's durable state: definitions.db (vhosts,
	// durable exchanges, queues and bindings) and queues/ (the messages of
	// durable queues), and transient/, where queues page out transient
	// messages, emptied at every start. It is created if missing, and NewServer fails unless
	// it is a directory the broker can write to. It may be empty only with
	// InMemory.
	DataDir string
	// InMemory runs the broker without a data dir: nothing survives a
	// restart, persistent messages and durable queues included. It must be
	// asked for explicitly (NewServer refuses an empty DataDir without it,
	// and a DataDir with it), so that a mistyped or unset data dir never
	// silently makes a node non-durable.
	InMemory bool
	// Logger receives the broker's logs; nil means no logging.
	Logger *zap.Logger
	// Heartbeat is the heartbeat interval offered to clients; a negative
	// value offers none.
	Heartbeat time.Duration
	// FrameMax is the largest frame offered to clients.
	FrameMax uint32
	// ChannelMax is the most channels per connection offered to clients.
	ChannelMax uint16
	// ConsumerTimeout is RabbitMQ's consumer_timeout; negative disables it.
	ConsumerTimeout time.Duration
	// MaxMessageSize is the largest body accepted, RabbitMQ's
	// max_message_size.
	MaxMessageSize int
	// HandshakeTimeout bounds the AMQP handshake after accept.
	HandshakeTimeout time.Duration
	// DefaultUser and DefaultPass are the user a node seeds when its
	// definitions were never seeded (guest/guest by default), with the
	// tags DefaultUserTags (administrator) and DefaultPermissions (".*"
	// ".*" ".*") on DefaultVhost ("/"), as RabbitMQ's default_user,
	// default_pass, default_user_tags, default_permissions and
	// default_vhost. Nothing is seeded when LoadDefinitions is set.
	DefaultUser, DefaultPass string
	DefaultVhost             string
	DefaultUserTags          []string
	DefaultPermissions       Permission
	// LoopbackUsers may connect only from a loopback address (RabbitMQ's
	// loopback_users); nil means ["guest"], an empty slice nobody.
	LoopbackUsers []string
	// LoadDefinitions is a RabbitMQ definitions file (JSON) imported at
	// every start, as RabbitMQ's load_definitions; "" for none.
	LoadDefinitions string
	// Audit turns the audit log on (audit.go): warren.audit_log.file,
	// .max_size_mb and .max_files. Off when Audit.File is "".
	Audit AuditConfig
	// MemoryHighWatermark is the heap size in bytes past which publishing
	// connections are blocked (RabbitMQ's vm_memory_high_watermark). Zero
	// means 40% of the machine's or cgroup's memory; negative disables it.
	MemoryHighWatermark int64
	// NodeName names this node among the nodes of a cluster, as RabbitMQ's
	// rabbit@<hostname>. Empty means warren@<short hostname>; a name
	// without an @ gets @<short hostname> appended, as RabbitMQ does with
	// RABBITMQ_NODENAME. It is logged at start and carried in direct
	// reply-to keys and exclusive queue owners; like RabbitMQ, Warren does
	// not send it to clients. NewServer refuses one NodeName rejects.
	NodeName string
	// ClusterName is reported to clients in the server properties.
	ClusterName string
	// QueueLeaderLocator places the leader of a new quorum queue in a
	// cluster when neither its policy nor its x-queue-leader-locator
	// says (RabbitMQ's queue_leader_locator, cluster_quorum.go):
	// "client-local" (the default, also "") on the declaring node,
	// "balanced" on the live node the fewest quorum queues were placed
	// on; RabbitMQ's earlier values "random" and "least-leaders" mean
	// balanced. NewServer refuses any other.
	QueueLeaderLocator string
	// Cluster, when set, makes the node one of a cluster's (cluster.go):
	// the definitions are committed by Raft over the cluster's nodes.
	Cluster *ClusterConfig
	// DiskFreeLimit is RabbitMQ's disk_free_limit: below this many free
	// bytes on the data dir's file system publishers are blocked. Zero means
	// DefaultDiskFreeLimit (50 MB); negative disables the check.
	DiskFreeLimit int64
	// DiskFree returns the free bytes on the file system holding dir; nil
	// means statfs. Tests replace it.
	DiskFree func(dir string) (uint64, error)

	// WrapClassic is for tests, never set by the binary: when not nil,
	// the classic queue type NewServer opens is registered as what
	// WrapClassic returns for it, so that a suite can run against a type
	// that answers as a queue on another node would (queuetest.Late).
	WrapClassic func(queue.Type) queue.Type

	// extraTypes are queue types registered after classic: tests add
	// their own.
	extraTypes []queue.Type
}

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	} else if c.Heartbeat < 0 {
		c.Heartbeat = 0
	}
	if c.FrameMax == 0 {
		c.FrameMax = DefaultFrameMax
	}
	if c.FrameMax < minFrameMax {
		c.FrameMax = minFrameMax
	}
	if c.ChannelMax == 0 {
		c.ChannelMax = DefaultChannelMax
	}
	if c.ConsumerTimeout == 0 {
		c.ConsumerTimeout = DefaultConsumerTimeout
	} else if c.ConsumerTimeout < 0 {
		c.ConsumerTimeout = 0
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	c.MaxMessageSize = min(c.MaxMessageSize, absoluteMaxMessageSize)
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.DefaultUser == "" {
		c.DefaultUser, c.DefaultPass = "guest", "guest"
	}
	if c.DefaultVhost == "" {
		c.DefaultVhost = "/"
	}
	if c.AuthMechanisms == nil {
		c.AuthMechanisms = strings.Fields(authMechanisms)
	}
	if c.LoopbackUsers == nil {
		c.LoopbackUsers = []string{"guest"}
	}
	if c.DefaultUserTags == nil {
		c.DefaultUserTags = []string{"administrator"}
	}
	if c.DefaultPermissions == (Permission{}) {
		c.DefaultPermissions = Permission{Configure: ".*", Write: ".*", Read: ".*"}
	}
	if c.MemoryHighWatermark == 0 {
		c.MemoryHighWatermark = int64(float64(memoryLimit("/")) * defaultWatermarkFraction)
	} else if c.MemoryHighWatermark < 0 {
		c.MemoryHighWatermark = 0
	}
	if c.DiskFreeLimit == 0 {
		c.DiskFreeLimit = DefaultDiskFreeLimit
	}
	if c.DiskFree == nil {
		c.DiskFree = statfsFree
	}
	c.NodeName = completeNodeName(c.NodeName)
	if c.ClusterName == "" {
		c.ClusterName = "warren"
	}
	return c
}

// MemoryLimit returns the memory the node may use in bytes: the machine's,
// or its container's (cgroup v1 or v2) limit when lower; 0 when unknown.
// Relative limits (vm_memory_high_watermark.relative,
// disk_free_limit.relative) are fractions of it.
func MemoryLimit() uint64 { return memoryLimit("/") }

// NodeName returns the node name Config.NodeName = name gives a server:
// name completed as RabbitMQ completes a node name (warren@<short
// hostname> for an empty one, @<short hostname> appended to one without
// a host part), or an error if Warren cannot use it: the name must be
// name@host, both parts non-empty, of printable ASCII without spaces, and
// at most 128 octets.
func NodeName(name string) (string, error) {
	full := completeNodeName(name)
	return full, checkNodeName(full)
}

// completeNodeName adds what a node name lacks: the name part when it is
// empty, the short hostname when it has no host part.
func completeNodeName(name string) string {
	if name == "" {
		name = "warren"
	}
	if strings.Contains(name, "@") {
		return name
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host, _, _ = strings.Cut(host, ".")
	return name + "@" + host
}

// checkNodeName reports a complete node name Warren cannot use.
func checkNodeName(name string) error {
	local, host, _ := strings.Cut(name, "@")
	switch {
	case len(name) > maxNodeName:
		return fmt.Errorf("node name %q is longer than %d octets", name, maxNodeName)
	case local == "" || host == "" || strings.Contains(host, "@"):
		return fmt.Errorf("node name %q is not name@host", name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' {
			return fmt.Errorf("node name %q has a character other than printable ASCII", name)
		}
	}
	return nil
}
