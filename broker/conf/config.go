package conf

import (
	"strings"
	"time"
)

// Config is what a file sets. A setting the file does not name keeps its
// zero value, and Has tells whether it was named, so that a caller can
// put the file between its own defaults and what overrides them.
type Config struct {
	// TCP and SSL are listeners.tcp.* and listeners.ssl.*: AMQP and AMQPS
	// listen addresses, as host:port for net.Listen ("[::1]:5672", or
	// ":5672" for a bare port, which listens on every interface).
	TCP, SSL Listeners

	// DefaultUser, DefaultPass and DefaultVhost are default_user,
	// default_pass and default_vhost.
	DefaultUser, DefaultPass, DefaultVhost string
	// DefaultPermissions are default_permissions.configure, .read and
	// .write (regular expressions), each ".*" unless set.
	DefaultPermissions Permissions
	// DefaultUserTags are the default_user_tags.NAME set to true.
	DefaultUserTags []string
	// LoopbackUsers are the loopback_users.NAME set to true;
	// LoopbackNone is loopback_users = none. Has("loopback_users") tells
	// whether either was given.
	LoopbackUsers []string
	LoopbackNone  bool

	// MemoryHighWatermark is vm_memory_high_watermark.relative or
	// .absolute (absolute wins when both are given, as in RabbitMQ).
	MemoryHighWatermark Limit
	// DiskFreeLimit is disk_free_limit.absolute, or .relative (a multiple
	// of the memory limit).
	DiskFreeLimit Limit

	// Heartbeat is heartbeat (0 disables heartbeats).
	Heartbeat time.Duration
	// FrameMax is frame_max in octets.
	FrameMax uint32
	// ChannelMax is channel_max (max_channels_per_connection); 0 is "no
	// limit", which AMQP caps at 65535.
	ChannelMax int
	// ConsumerTimeout is consumer_timeout (milliseconds in the file).
	ConsumerTimeout time.Duration
	// StatsInterval is collect_statistics_interval (milliseconds in the
	// file): how often the management API samples the node for its rates.
	StatsInterval time.Duration
	// MaxMessageSize is max_message_size in octets.
	MaxMessageSize int
	// HandshakeTimeout is handshake_timeout (milliseconds in the file).
	HandshakeTimeout time.Duration
	// LoadDefinitions is load_definitions, a file or directory path.
	LoadDefinitions string

	// TLS holds ssl_options.* and the EXTERNAL mechanism's settings.
	TLS TLS
	// ManagementSSL holds management.ssl.* (keys_extra.go).
	ManagementSSL ManagementSSL

	// AuthMechanisms are auth_mechanisms.N in file order.
	AuthMechanisms []string
	// ManagementPort and ManagementIP are management.tcp.port and
	// management.tcp.ip.
	ManagementPort int
	ManagementIP   string
	// PrometheusPort and PrometheusIP are prometheus.tcp.port and
	// prometheus.tcp.ip (rabbitmq_prometheus's listener).
	PrometheusPort int
	PrometheusIP   string
	// LogLevel is log.console.level in RabbitMQ's words (debug, info,
	// notice, warning, error, critical, alert, emergency).
	LogLevel string
	// ClusterName is cluster_name.
	ClusterName string
	// QueueLeaderLocator is queue_leader_locator: where new quorum
	// queues' leaders go when neither a policy nor the declare says,
	// client-local or balanced (random and least-leaders, RabbitMQ's
	// earlier values, are kept as written; they mean balanced).
	QueueLeaderLocator string

	// Warren holds Warren's own keys (warren.*).
	Warren Warren

	// Ignored are RabbitMQ keys the file sets that change nothing a client
	// could notice in Warren, with their lines, for the caller to log.
	Ignored []Ignored

	lines map[string]int // every key set (families by their prefix) → its last line
}

// Listeners is one family of listener keys.
type Listeners struct {
	// Addrs are the addresses in file order, one per listener name.
	Addrs []string
	// None is `listeners.X = none`: no listener of the kind.
	None  bool
	names []string // Addrs[i] is listeners.X.names[i]
}

// Permissions are the three permission patterns of a user on a vhost.
type Permissions struct{ Configure, Read, Write string }

// Limit is a resource limit given either relative to the memory limit or
// as bytes; Absolute wins when both are set.
type Limit struct {
	Relative float64 // 0 when not given
	Absolute int64   // -1 when not given
}

// TLS is ssl_options.* and the ssl_cert_login_* settings.
type TLS struct {
	CertFile, KeyFile, CACertFile string
	// VerifyPeer is ssl_options.verify = verify_peer (verify_none is
	// RabbitMQ's default).
	VerifyPeer       bool
	FailIfNoPeerCert bool
	// Versions are ssl_options.versions.N as tls.VersionTLS12 and
	// tls.VersionTLS13, in file order.
	Versions []uint16
	// Ciphers are ssl_options.ciphers.N as Go cipher suite ids (TLS 1.2;
	// TLS 1.3 names are accepted and kept in CiphersTLS13, since Go always
	// offers its three TLS 1.3 suites).
	Ciphers      []uint16
	CiphersTLS13 []uint16
	// HonorCipherOrder is ssl_options.honor_cipher_order.
	HonorCipherOrder bool
	// HandshakeTimeout is ssl_handshake_timeout (milliseconds in the
	// file).
	HandshakeTimeout time.Duration
	// LoginFrom is ssl_cert_login_from: distinguished_name, common_name
	// or subject_alternative_name (subject_alt_name is read as that).
	LoginFrom string
	// SANType and SANIndex are ssl_cert_login_san_type (dns, ip, email,
	// uri) and ssl_cert_login_san_index.
	SANType  string
	SANIndex int
}

// Warren is Warren's own settings, for which RabbitMQ has no key.
type Warren struct {
	NodeName, DataDir, LogFormat string
	// ClusterListen, ClusterAdvertise, ClusterJoin, BootstrapExpect,
	// ClusterSecret, DefinitionsTimeout and QuorumRestAfter are
	// warren.cluster.listen, .advertise, .join.N, .bootstrap_expect,
	// .secret, .definitions_timeout and .quorum_rest_after (the last two
	// in milliseconds, or a Go duration such as 15s).
	ClusterListen, ClusterAdvertise string
	ClusterJoin                     []string
	BootstrapExpect                 int
	ClusterSecret                   string
	DefinitionsTimeout              time.Duration
	QuorumRestAfter                 time.Duration
	// AuditLog is warren.audit_log.file, .max_size_mb and .max_files.
	AuditLog AuditLog
}

// Ignored is a RabbitMQ key Warren accepts and ignores.
type Ignored struct {
	Key  string
	Line int
}

func newConfig() *Config {
	return &Config{
		lines:               make(map[string]int),
		MemoryHighWatermark: Limit{Absolute: -1},
		DiskFreeLimit:       Limit{Absolute: -1},
		DefaultPermissions:  Permissions{Configure: ".*", Read: ".*", Write: ".*"},
	}
}

// Has reports whether the file set key. A family (listeners.tcp,
// listeners.ssl, loopback_users, default_user_tags, auth_mechanisms,
// ssl_options.versions, ssl_options.ciphers, management.ssl.versions, warren.cluster.join,
// vm_memory_high_watermark, disk_free_limit, default_permissions) counts
// as set when any of its keys is.
func (c *Config) Has(key string) bool {
	_, ok := c.lines[key]
	return ok
}

// Line returns the line on which key (or its family, as in Has) was last
// set, or 0.
func (c *Config) Line(key string) int { return c.lines[key] }

// setNamed sets names[i]'s address, or appends it: a name given twice
// keeps its last value, in the place of its first.
func (l *Listeners) setNamed(name, addr string) {
	for i, n := range l.names {
		if n == name {
			l.Addrs[i] = addr
			return
		}
	}
	l.names = append(l.names, name)
	l.Addrs = append(l.Addrs, addr)
}

// setFlag adds or removes name from a list of names set to true.
func setFlag(list []string, name string, on bool) []string {
	for i, n := range list {
		if n == name {
			if on {
				return list
			}
			return append(list[:i], list[i+1:]...)
		}
	}
	if on {
		list = append(list, name)
	}
	return list
}

// family returns the family prefix of a key as Has counts it, or the key.
func family(key string) string {
	for _, f := range []string{"listeners.tcp", "listeners.ssl", "loopback_users", "default_user_tags",
		"auth_mechanisms", "ssl_options.versions", "ssl_options.ciphers", "warren.cluster.join",
		"management.ssl.versions", "vm_memory_high_watermark", "disk_free_limit", "default_permissions"} {
		if key == f || strings.HasPrefix(key, f+".") {
			return f
		}
	}
	return key
}
