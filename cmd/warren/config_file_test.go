package main

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/warrenmq/warren/broker"
)

// writeConf writes a configuration file and returns its path.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rabbitmq.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFilePrecedence: each setting comes from its flag, else its
// variable, else the configuration file, else the default.
func TestConfigFilePrecedence(t *testing.T) {
	file := writeConf(t, `
listeners.tcp.default = 127.0.0.1:5680
listeners.tcp.v6      = ::1:5680
default_user = file-user
default_pass = file-pass
log.console.level = warning
disk_free_limit.absolute = 2GB
warren.data_dir = /file/data
warren.cluster.listen = 127.0.0.1:25680
warren.cluster.join.1 = n2:25672
warren.cluster.bootstrap_expect = 5
warren.cluster.definitions_timeout = 4000
warren.cluster.quorum_rest_after = 2500
`)
	for _, tc := range []struct {
		name  string
		env   []string
		args  []string
		check func(options) bool
	}{
		{"defaults without a file", nil, nil, func(o options) bool {
			return reflect.DeepEqual(o.listen, []string{"127.0.0.1:5672"}) && o.user == "guest" && o.dataDir == "./data" &&
				o.diskFreeLimit == 50_000_000 && o.logLevel == zapcore.InfoLevel && o.cluster == nil
		}},
		{"the file over the defaults", nil, []string{"--config", file}, func(o options) bool {
			return reflect.DeepEqual(o.listen, []string{"127.0.0.1:5680", "[::1]:5680"}) && o.user == "file-user" && o.pass == "file-pass" &&
				o.dataDir == "/file/data" && o.diskFreeLimit == 2e9 && o.logLevel == zapcore.WarnLevel &&
				o.cluster != nil && o.cluster.Listen == "127.0.0.1:25680" && reflect.DeepEqual(o.cluster.Join, []string{"n2:25672"}) &&
				o.cluster.BootstrapExpect == 5 && o.cluster.CommitTimeout == 4*time.Second &&
				o.cluster.QuorumRestAfter == 2500*time.Millisecond
		}},
		{"the file from the environment", []string{"WARREN_CONFIG_FILE=" + file}, nil, func(o options) bool { return o.user == "file-user" }},
		{"--config=FILE", nil, []string{"--config=" + file}, func(o options) bool { return o.user == "file-user" }},
		{"the environment over the file", []string{"WARREN_DEFAULT_USER=env-user", "WARREN_LISTEN=127.0.0.1:5690", "WARREN_LOG_LEVEL=debug"},
			[]string{"-config", file}, func(o options) bool {
				return o.user == "env-user" && o.pass == "file-pass" && reflect.DeepEqual(o.listen, []string{"127.0.0.1:5690"}) &&
					o.logLevel == zapcore.DebugLevel
			}},
		{"a flag over the environment and the file", []string{"WARREN_DEFAULT_USER=env-user", "WARREN_DATA_DIR=/env"},
			[]string{"--config", file, "--default-user", "flag-user", "--listen", "127.0.0.1:5691,[::1]:5691", "--data-dir", "/flag"}, func(o options) bool {
				return o.user == "flag-user" && o.dataDir == "/flag" && reflect.DeepEqual(o.listen, []string{"127.0.0.1:5691", "[::1]:5691"})
			}},
		{"--listen none", nil, []string{"--listen", "none"}, func(o options) bool { return len(o.listen) == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, envOf(tc.env...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Fatalf("options %+v", o)
			}
		})
	}
}

// TestConfigFileBrokerSettings: the settings only the file has reach the
// broker's configuration with RabbitMQ's meanings.
func TestConfigFileBrokerSettings(t *testing.T) {
	file := writeConf(t, `
listeners.tcp = none
listeners.ssl.default = 127.0.0.1:5671
ssl_options.certfile = /tls/server.pem
ssl_options.keyfile = /tls/server-key.pem
ssl_options.cacertfile = /tls/ca.pem
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.3
ssl_cert_login_from = common_name
auth_mechanisms.1 = EXTERNAL
auth_mechanisms.2 = PLAIN
loopback_users = none
heartbeat = 0
channel_max = 0
frame_max = 65536
consumer_timeout = 60000
collect_statistics_interval = 10000
vm_memory_high_watermark.absolute = 1GiB
default_vhost = prod
default_permissions.write = ^app\.
default_user_tags.monitoring = true
load_definitions = /etc/warren/definitions.json
management.tcp.port = 15673
cluster_name = east
queue_leader_locator = balanced
num_acceptors.tcp = 10
warren.audit_log.file = /var/log/warren/audit.log
warren.audit_log.max_size_mb = 7
warren.audit_log.max_files = 2
`)
	o, err := parseOptions([]string{"--config", file}, envOf(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.brokerConfig(zap.NewNop())
	switch {
	case len(c.Listen) != 0 || !reflect.DeepEqual(c.ListenTLS, []string{"127.0.0.1:5671"}):
		t.Errorf("listeners %v, TLS %v", c.Listen, c.ListenTLS)
	case c.TLS == nil || c.TLS.CertFile != "/tls/server.pem" || c.TLS.KeyFile != "/tls/server-key.pem" || c.TLS.CACertFile != "/tls/ca.pem" ||
		!c.TLS.VerifyPeer || !c.TLS.FailIfNoPeerCert || !reflect.DeepEqual(c.TLS.Versions, []uint16{tls.VersionTLS13}) ||
		c.TLS.LoginFrom != "common_name":
		t.Errorf("TLS %+v", c.TLS)
	case !reflect.DeepEqual(c.AuthMechanisms, []string{"EXTERNAL", "PLAIN"}):
		t.Errorf("mechanisms %v", c.AuthMechanisms)
	case c.LoopbackUsers == nil || len(c.LoopbackUsers) != 0:
		t.Errorf("loopback users %#v, want none", c.LoopbackUsers)
	case c.Heartbeat >= 0 || c.ChannelMax != 65535 || c.FrameMax != 65536 || c.ConsumerTimeout != time.Minute:
		t.Errorf("heartbeat %v, channel_max %d, frame_max %d, consumer timeout %v", c.Heartbeat, c.ChannelMax, c.FrameMax, c.ConsumerTimeout)
	case c.MemoryHighWatermark != 1<<30 || c.DefaultVhost != "prod" || c.LoadDefinitions != "/etc/warren/definitions.json" ||
		c.ManagementListen != ":15673" || c.ClusterName != "east" || c.QueueLeaderLocator != "balanced":
		t.Errorf("config %+v", c)
	case c.Audit != (broker.AuditConfig{File: "/var/log/warren/audit.log", MaxSizeMB: 7, MaxFiles: 2}):
		t.Errorf("audit %+v", c.Audit)
	case c.DefaultPermissions != (broker.Permission{Configure: ".*", Read: ".*", Write: `^app\.`}) ||
		!reflect.DeepEqual(c.DefaultUserTags, []string{"monitoring"}):
		t.Errorf("default permissions %+v, tags %v", c.DefaultPermissions, c.DefaultUserTags)
	case o.statsInterval != 10*time.Second:
		t.Errorf("management API sampling every %v, want collect_statistics_interval's 10s", o.statsInterval)
	}
}

// TestConfigFileErrors: a bad file stops the start with an error naming
// the file, the line and the key; so does a value from the file that the
// node refuses later.
func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		env        []string
		want       string
	}{
		{"unknown key", "heartbeat = 30\nheartbeats = 30\n", nil, ":2: heartbeats: unknown key"},
		{"RabbitMQ key Warren lacks", "max_connections = 10", nil, ":1: max_connections: a RabbitMQ setting that Warren does not implement"},
		{"bad value", "\n# TLS\nssl_options.verify = yes\n", nil, `:3: ssl_options.verify: "yes" is not one of verify_peer, verify_none`},
		{"malformed line", "listeners.tcp.default 5672", nil, `:1: malformed line`},
		{"bad node name from the file", "warren.node_name = a b@c", nil, `:1: warren.node_name: node name "a b@c" has a character`},
		{"empty password from the environment names the variable", "default_pass = x", []string{"WARREN_DEFAULT_PASS="}, "--default-pass (WARREN_DEFAULT_PASS) is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeConf(t, tc.text)
			_, err := parseOptions([]string{"--config", file}, envOf(tc.env...), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !strings.HasPrefix(tc.want, "--") && !strings.HasPrefix(err.Error(), file+":") {
				t.Fatalf("error %q does not start with the file's name", err)
			}
		})
	}
	if _, err := parseOptions([]string{"--config", filepath.Join(t.TempDir(), "missing.conf")}, envOf(), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "missing.conf") {
		t.Fatalf("a missing file: %v", err)
	}
}

// TestRunWithConfigFile: a node started with only a configuration file
// listens where the file says, as the user it names.
func TestRunWithConfigFile(t *testing.T) {
	addr := freeLoopbackAddr(t)
	file := writeConf(t, "listeners.tcp.default = "+addr+"\ndefault_user = ops\ndefault_pass = s3cret\nwarren.data_dir = "+t.TempDir()+"\n")
	logs := &syncBuffer{}
	sig := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- run([]string{"--config", file}, envOf(), logs, sig) }()
	defer func() {
		sig <- os.Interrupt
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for healthCheck(addr, time.Second) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the node does not answer on %s:\n%s", addr, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "configuration file read") {
		t.Errorf("the start does not log the file:\n%s", logs)
	}
}

// freeLoopbackAddr returns a loopback address nobody listens on now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
