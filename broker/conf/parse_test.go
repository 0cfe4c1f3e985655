package conf

import (
	"crypto/tls"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParseExamples: the examples of RabbitMQ's documentation
// (rabbitmq.conf.example, the networking, TLS, memory, disk and access
// control guides) parse into the values RabbitMQ gives them.
func TestParseExamples(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  string
		check func(*Config) bool
	}{
		{"listener port", "listeners.tcp.default = 5672", func(c *Config) bool {
			return reflect.DeepEqual(c.TCP.Addrs, []string{":5672"}) && c.Has("listeners.tcp") && !c.Has("listeners.ssl")
		}},
		{"listeners on loopback, v4 and v6", "listeners.tcp.local    = 127.0.0.1:5672\nlisteners.tcp.local_v6 = ::1:5672\n", func(c *Config) bool {
			return reflect.DeepEqual(c.TCP.Addrs, []string{"127.0.0.1:5672", "[::1]:5672"})
		}},
		{"bracketed IPv6 and every IPv6 interface", "listeners.tcp.a = [::1]:5673\nlisteners.tcp.b = :::5672", func(c *Config) bool {
			return reflect.DeepEqual(c.TCP.Addrs, []string{"[::1]:5673", "[::]:5672"})
		}},
		{"other port and ip", "listeners.tcp.other_port = 5673\nlisteners.tcp.other_ip   = 10.10.10.10:5672", func(c *Config) bool {
			return reflect.DeepEqual(c.TCP.Addrs, []string{":5673", "10.10.10.10:5672"})
		}},
		{"TLS only", "listeners.tcp = none\nlisteners.ssl.default = 5671\nssl_options.certfile = /c.pem\nssl_options.keyfile = /k.pem", func(c *Config) bool {
			return c.TCP.None && len(c.TCP.Addrs) == 0 && reflect.DeepEqual(c.SSL.Addrs, []string{":5671"})
		}},
		{"a name given twice keeps its last value", "listeners.tcp.default = 5672\nlisteners.tcp.default = 5673", func(c *Config) bool {
			return reflect.DeepEqual(c.TCP.Addrs, []string{":5673"}) && c.Line("listeners.tcp") == 2
		}},
		{"ssl_options", `
# TLS, as the TLS guide configures it
listeners.ssl.1                  = 5671
ssl_options.cacertfile           = /path/to/cacert.pem
ssl_options.certfile             = /path/to/cert.pem
ssl_options.keyfile              = /path/to/key.pem
ssl_options.verify               = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
ssl_options.honor_cipher_order   = true
ssl_options.honor_ecc_order      = true
ssl_options.ciphers.1  = TLS_AES_256_GCM_SHA384
ssl_options.ciphers.2  = ECDHE-ECDSA-AES256-GCM-SHA384
ssl_options.ciphers.3  = ECDHE-RSA-AES128-GCM-SHA256
ssl_options.ciphers.4  = TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
ssl_handshake_timeout = 5000
`, func(c *Config) bool {
			s := c.TLS
			return s.CACertFile == "/path/to/cacert.pem" && s.CertFile == "/path/to/cert.pem" && s.KeyFile == "/path/to/key.pem" &&
				s.VerifyPeer && s.FailIfNoPeerCert && s.HonorCipherOrder &&
				reflect.DeepEqual(s.Versions, []uint16{tls.VersionTLS13, tls.VersionTLS12}) &&
				reflect.DeepEqual(s.CiphersTLS13, []uint16{tls.TLS_AES_256_GCM_SHA384}) &&
				reflect.DeepEqual(s.Ciphers, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
					tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}) &&
				s.HandshakeTimeout == 5*time.Second &&
				len(c.Ignored) == 1 && c.Ignored[0] == Ignored{Key: "ssl_options.honor_ecc_order", Line: 12}
		}},
		{"EXTERNAL from a SAN", "auth_mechanisms.1 = PLAIN\nauth_mechanisms.2 = AMQPLAIN\nauth_mechanisms.3 = EXTERNAL\n" +
			"ssl_cert_login_from = subject_alternative_name\nssl_cert_login_san_type = email\nssl_cert_login_san_index = 1", func(c *Config) bool {
			return reflect.DeepEqual(c.AuthMechanisms, []string{"PLAIN", "AMQPLAIN", "EXTERNAL"}) &&
				c.TLS.LoginFrom == "subject_alternative_name" && c.TLS.SANType == "email" && c.TLS.SANIndex == 1
		}},
		{"common name", "ssl_cert_login_from = common_name", func(c *Config) bool { return c.TLS.LoginFrom == "common_name" }},
		{"memory relative", "vm_memory_high_watermark.relative = 0.6", func(c *Config) bool {
			return c.MemoryHighWatermark == Limit{Relative: 0.6, Absolute: -1}
		}},
		{"memory absolute, powers of two", "vm_memory_high_watermark.absolute = 512MiB", func(c *Config) bool {
			return c.MemoryHighWatermark.Absolute == 512<<20
		}},
		{"memory absolute, powers of ten", "vm_memory_high_watermark.absolute = 1GB", func(c *Config) bool {
			return c.MemoryHighWatermark.Absolute == 1e9
		}},
		{"memory absolute, bytes", "vm_memory_high_watermark.absolute = 1073741824", func(c *Config) bool {
			return c.MemoryHighWatermark.Absolute == 1<<30
		}},
		{"memory absolute, K is 1000 since 3.13", "vm_memory_high_watermark.absolute = 2G", func(c *Config) bool {
			return c.MemoryHighWatermark.Absolute == 2e9
		}},
		{"disk absolute", "disk_free_limit.absolute = 50MB", func(c *Config) bool {
			return c.DiskFreeLimit == Limit{Absolute: 50e6} && c.Has("disk_free_limit")
		}},
		{"disk relative", "disk_free_limit.relative = 1.5", func(c *Config) bool {
			return c.DiskFreeLimit == Limit{Relative: 1.5, Absolute: -1}
		}},
		{"loopback users", "loopback_users.guest = false\nloopback_users.monitor = true", func(c *Config) bool {
			return reflect.DeepEqual(c.LoopbackUsers, []string{"monitor"}) && !c.LoopbackNone && c.Has("loopback_users")
		}},
		{"loopback users none", "loopback_users = none", func(c *Config) bool { return c.LoopbackNone && len(c.LoopbackUsers) == 0 }},
		{"user with an escaped dot", `loopback_users.john\.doe = true`, func(c *Config) bool {
			return reflect.DeepEqual(c.LoopbackUsers, []string{"john.doe"})
		}},
		{"default user, vhost, permissions and tags", `
default_vhost = /
default_user = guest
default_pass = guest
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = ^$
default_user_tags.administrator = true
default_user_tags.management = true
default_user_tags.custom_tag = false
`, func(c *Config) bool {
			return c.DefaultVhost == "/" && c.DefaultUser == "guest" && c.DefaultPass == "guest" &&
				c.DefaultPermissions == Permissions{".*", ".*", "^$"} &&
				reflect.DeepEqual(c.DefaultUserTags, []string{"administrator", "management"})
		}},
		{"a password with a # quoted", "default_pass = 'p#ss word'  # a comment", func(c *Config) bool { return c.DefaultPass == "p#ss word" }},
		{"a comment after a value", "default_user = warren # the operator", func(c *Config) bool { return c.DefaultUser == "warren" }},
		{"protocol limits", "heartbeat = 600\nframe_max = 131072\nchannel_max = 128\nmax_message_size = 134217728\nconsumer_timeout = 900000\nhandshake_timeout = 20000", func(c *Config) bool {
			return c.Heartbeat == 600*time.Second && c.FrameMax == 131072 && c.ChannelMax == 128 && c.MaxMessageSize == 128<<20 &&
				c.ConsumerTimeout == 15*time.Minute && c.HandshakeTimeout == 20*time.Second
		}},
		{"heartbeat off", "heartbeat = 0", func(c *Config) bool { return c.Has("heartbeat") && c.Heartbeat == 0 }},
		{"frame_max with a unit", "frame_max = 256KB", func(c *Config) bool { return c.FrameMax == 256<<10 }},
		{"channel_max by its other name", "max_channels_per_connection = 16", func(c *Config) bool { return c.ChannelMax == 16 && c.Has("max_channels_per_connection") }},
		{"definitions, management, log level, cluster name", "load_definitions = /path/to/definitions/file.json\n" +
			"management.tcp.port = 15672\nmanagement.tcp.ip = 0.0.0.0\nlog.console.level = warning\ncluster_name = prod-1", func(c *Config) bool {
			return c.LoadDefinitions == "/path/to/definitions/file.json" && c.ManagementPort == 15672 && c.ManagementIP == "0.0.0.0" &&
				c.LogLevel == "warning" && c.ClusterName == "prod-1"
		}},
		{"queue leader locator", "queue_leader_locator = balanced", func(c *Config) bool { return c.QueueLeaderLocator == "balanced" }},
		{"queue leader locator, RabbitMQ's earlier value", "queue_leader_locator = least-leaders", func(c *Config) bool {
			return c.QueueLeaderLocator == "least-leaders"
		}},
		{"prometheus", "prometheus.tcp.port = 15692\nprometheus.tcp.ip = 0.0.0.0", func(c *Config) bool {
			return c.PrometheusPort == 15692 && c.PrometheusIP == "0.0.0.0"
		}},
		{"Warren's own keys", "warren.node_name = w1@box\nwarren.data_dir = /var/lib/warren\nwarren.log_format = json\n" +
			"warren.cluster.listen = 0.0.0.0:25672\nwarren.cluster.advertise = n1:25672\nwarren.cluster.join.1 = n2:25672\n" +
			"warren.cluster.join.2 = n3:25672\nwarren.cluster.bootstrap_expect = 3\nwarren.cluster.secret = s3cret\nwarren.cluster.definitions_timeout = 5s\nwarren.cluster.quorum_rest_after = 30s", func(c *Config) bool {
			w := c.Warren
			return w.NodeName == "w1@box" && w.DataDir == "/var/lib/warren" && w.LogFormat == "json" && w.ClusterListen == "0.0.0.0:25672" &&
				w.ClusterAdvertise == "n1:25672" && reflect.DeepEqual(w.ClusterJoin, []string{"n2:25672", "n3:25672"}) &&
				w.BootstrapExpect == 3 && w.ClusterSecret == "s3cret" && w.DefinitionsTimeout == 5*time.Second &&
				w.QuorumRestAfter == 30*time.Second
		}},
		{"harmless RabbitMQ keys are listed, not applied", "num_acceptors.tcp = 10\r\nreverse_dns_lookups = false\r\n", func(c *Config) bool {
			return len(c.Ignored) == 2 && c.Ignored[1] == Ignored{Key: "reverse_dns_lookups", Line: 2}
		}},
		{"nothing set", "# only comments\n\n   \t\n", func(c *Config) bool {
			return !c.Has("listeners.tcp") && c.MemoryHighWatermark.Absolute == -1 && c.DiskFreeLimit.Absolute == -1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("rabbitmq.conf", []byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("parsed %+v", c)
			}
		})
	}
}

// TestParseErrors: a malformed line, an unknown key or a bad value is an
// error naming the file, the line and the key, never a default.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		line       int
		key, msg   string
	}{
		{"no equals sign", "heartbeat = 60\nheartbeat 60", 2, "", `malformed line "heartbeat 60"`},
		{"bad key", "heart beat = 60", 1, "", "malformed key"},
		{"empty key", "= 60", 1, "", "malformed key"},
		{"no value", "\n\ndefault_user =   # nobody", 3, "default_user", "no value"},
		{"unclosed quote", "default_pass = 'abc", 1, "default_pass", "no closing '"},
		{"text after a quote", "default_pass = 'abc' def", 1, "default_pass", "after the quoted value"},
		{"multi-line value", "default_pass = '''abc", 1, "default_pass", "multi-line values"},
		{"unknown key", "heartbeats = 60", 1, "heartbeats", "unknown key"},
		{"RabbitMQ key Warren lacks", "# limits\nmax_connections = 100", 2, "max_connections", "a RabbitMQ setting that Warren does not implement"},
		{"RabbitMQ plugin key", "mqtt.listeners.tcp.default = 1883", 1, "mqtt.listeners.tcp.default", "does not implement"},
		{"RabbitMQ TLS key Warren lacks", "ssl_options.depth = 2", 1, "ssl_options.depth", "does not implement"},
		{"not an integer", "heartbeat = sixty", 1, "heartbeat", `"sixty" is not an integer`},
		{"heartbeat too large", "heartbeat = 65536", 1, "heartbeat", "out of range"},
		{"negative consumer timeout", "consumer_timeout = -5", 1, "consumer_timeout", "out of range"},
		{"max_message_size above 512 MiB", "max_message_size = 536870913", 1, "max_message_size", "out of range"},
		{"frame_max too small", "frame_max = 1024", 1, "frame_max", "out of range"},
		{"handshake_timeout infinity", "handshake_timeout = infinity", 1, "handshake_timeout", "needs a handshake timeout"},
		{"bad listener", "listeners.tcp.default = localhost:5672", 1, "listeners.tcp.default", "is not a port or ip:port"},
		{"listener port too large", "listeners.tcp.default = 70000", 1, "listeners.tcp.default", "out of range"},
		{"unix socket listener", "listeners.tcp.unix = unix:/run/r.sock:0", 1, "listeners.tcp.unix", "Unix domain socket"},
		{"listeners.tcp other than none", "listeners.tcp = off", 1, "listeners.tcp", "the only value is none"},
		{"none beside a listener", "listeners.tcp = none\nlisteners.tcp.default = 5672", 2, "listeners.tcp", "both set"},
		{"TLS listener without a certificate", "listeners.ssl.default = 5671", 1, "listeners.ssl", "needs ssl_options.certfile"},
		{"verify_peer without CAs", "ssl_options.verify = verify_peer", 1, "ssl_options.verify", "needs ssl_options.cacertfile"},
		{"fail_if_no_peer_cert without verify_peer", "ssl_options.fail_if_no_peer_cert = true", 1, "ssl_options.fail_if_no_peer_cert", "needs ssl_options.verify"},
		{"unknown queue leader locator", "queue_leader_locator = nearest", 1, "queue_leader_locator",
			`"nearest" is not one of client-local, balanced, random, least-leaders`},
		{"bad verify", "ssl_options.verify = verify_maybe", 1, "ssl_options.verify", "is not one of verify_peer, verify_none"},
		{"bad boolean", "ssl_options.fail_if_no_peer_cert = yes", 1, "ssl_options.fail_if_no_peer_cert", "is not true or false"},
		{"TLS 1.1", "ssl_options.versions.1 = tlsv1.1", 1, "ssl_options.versions.1", "refused"},
		{"unknown TLS version", "ssl_options.versions.1 = tlsv2", 1, "ssl_options.versions.1", "not a TLS version"},
		{"unknown cipher", "ssl_options.ciphers.1 = DHE-RSA-AES256-GCM-SHA384", 1, "ssl_options.ciphers.1", "unknown or unsupported cipher suite"},
		{"CCM cipher", "ssl_options.ciphers.1 = TLS_AES_128_CCM_SHA256", 1, "ssl_options.ciphers.1", "unsupported"},
		{"size without a number", "vm_memory_high_watermark.absolute = MB", 1, "vm_memory_high_watermark.absolute", "is not a size"},
		{"size with a bad unit", "disk_free_limit.absolute = 50XB", 1, "disk_free_limit.absolute", "is not a size"},
		{"fraction not a number", "vm_memory_high_watermark.relative = high", 1, "vm_memory_high_watermark.relative", "is not a number"},
		{"fraction zero", "vm_memory_high_watermark.relative = 0", 1, "vm_memory_high_watermark.relative", "not above 0"},
		{"ANONYMOUS", "auth_mechanisms.1 = ANONYMOUS", 1, "auth_mechanisms.1", "does not implement"},
		{"unknown mechanism", "auth_mechanisms.1 = KERBEROS", 1, "auth_mechanisms.1", "not an authentication mechanism"},
		{"cert login from", "ssl_cert_login_from = serial", 1, "ssl_cert_login_from", "is not one of"},
		{"other_name SANs", "ssl_cert_login_san_type = other_name", 1, "ssl_cert_login_san_type", "not supported"},
		{"encrypted password", "default_pass = encrypted:kDnCy25dRvI8", 1, "default_pass", "encrypted values are not supported"},
		{"log level none", "log.console.level = none", 1, "log.console.level", "not supported"},
		{"bad management ip", "management.tcp.ip = everywhere", 1, "management.tcp.ip", "not an IP address"},
		{"bad prometheus ip", "prometheus.tcp.ip = everywhere", 1, "prometheus.tcp.ip", "not an IP address"},
		{"bad prometheus port", "prometheus.tcp.port = 70000", 1, "prometheus.tcp.port", ""},
		{"bad join address", "warren.cluster.join.1 = n2", 1, "warren.cluster.join.1", "not host:port"},
		{"bad definitions timeout", "warren.cluster.definitions_timeout = soon", 1, "warren.cluster.definitions_timeout", "not a positive duration"},
		{"bad quorum rest", "warren.cluster.quorum_rest_after = -1s", 1, "warren.cluster.quorum_rest_after", "not a positive duration"},
		{"bad log format", "warren.log_format = xml", 1, "warren.log_format", "is not one of console, json"},
		{"invalid UTF-8", "default_user = \xff", 1, "", "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("/etc/warren/rabbitmq.conf", []byte(tc.file))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %+v, %v; want an *Error", c, err)
			}
			if e.File != "/etc/warren/rabbitmq.conf" || e.Line != tc.line || e.Key != tc.key || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("error %q (line %d, key %q), want line %d, key %q and %q", err, e.Line, e.Key, tc.line, tc.key, tc.msg)
			}
			prefix := "/etc/warren/rabbitmq.conf:" + itoa(tc.line) + ": "
			if !strings.HasPrefix(err.Error(), prefix) || tc.key != "" && !strings.Contains(err.Error(), tc.key+": ") {
				t.Fatalf("error %q does not start with %q and name the key", err, prefix)
			}
		})
	}
}

// TestParseTooLarge: a file past MaxFileSize is refused before it is read.
func TestParseTooLarge(t *testing.T) {
	if _, err := Parse("big.conf", make([]byte, MaxFileSize+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Parse of %d bytes: %v", MaxFileSize+1, err)
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
