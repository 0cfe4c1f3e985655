package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

// envOf returns a lookup over vars ("KEY=value"), as os.LookupEnv.
func envOf(vars ...string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		for _, kv := range vars {
			if k, v, _ := strings.Cut(kv, "="); k == key {
				return v, true
			}
		}
		return "", false
	}
}

// TestOptions: each setting comes from its flag, else its environment
// variable (set to nothing counts as set), else the default; invalid or
// empty values are refused with an error naming the flag and variable.
func TestOptions(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	for _, tc := range []struct {
		name    string
		env     []string
		args    []string
		check   func(options) bool
		wantErr string
	}{
		{name: "defaults", check: func(o options) bool {
			return strings.Join(o.listen, ",") == "127.0.0.1:5672" && o.dataDir == "./data" && o.user == "guest" && o.pass == "guest" &&
				o.diskFreeLimit == 50_000_000 && o.logLevel == zapcore.InfoLevel && o.logFormat == "console" && !o.healthCheck &&
				o.nodeName == "warren@"+host
		}},
		{name: "node name env", env: []string{"WARREN_NODE_NAME=rabbit@box-2"}, check: func(o options) bool { return o.nodeName == "rabbit@box-2" }},
		{name: "node name without host", args: []string{"--node-name", "w1"}, check: func(o options) bool { return o.nodeName == "w1@"+host }},
		{name: "node name without name", args: []string{"--node-name", "@box"}, wantErr: `--node-name (WARREN_NODE_NAME): node name "@box" is not name@host`},
		{name: "node name with a space", env: []string{"WARREN_NODE_NAME=a b@c"}, wantErr: `--node-name (WARREN_NODE_NAME): node name "a b@c" has a character`},
		{name: "node name too long", args: []string{"--node-name", strings.Repeat("n", 125) + "@box"}, wantErr: "is longer than 128 octets"},
		{name: "log flags", args: []string{"--log-level", "debug", "--log-format", "json"}, check: func(o options) bool {
			return o.logLevel == zapcore.DebugLevel && o.logFormat == "json"
		}},
		{name: "log environment", env: []string{"WARREN_LOG_LEVEL=warn", "WARREN_LOG_FORMAT=json"}, check: func(o options) bool {
			return o.logLevel == zapcore.WarnLevel && o.logFormat == "json"
		}},
		{name: "flag wins", env: []string{"WARREN_LOG_LEVEL=warn", "WARREN_DATA_DIR=/env"},
			args: []string{"--log-level", "error", "--data-dir", "/flag"}, check: func(o options) bool {
				return o.logLevel == zapcore.ErrorLevel && o.dataDir == "/flag"
			}},
		{name: "single node by default", check: func(o options) bool { return o.cluster == nil }},
		{name: "cluster flags", args: []string{"--cluster-listen", "127.0.0.1:25672", "--join", "127.0.0.1:25673, 127.0.0.1:25674,",
			"--bootstrap-expect", "3"}, env: []string{"WARREN_CLUSTER_SECRET=s3"}, check: func(o options) bool {
			c := o.cluster
			return c != nil && c.Listen == "127.0.0.1:25672" && c.BootstrapExpect == 3 && c.Secret == "s3" &&
				strings.Join(c.Join, " ") == "127.0.0.1:25673 127.0.0.1:25674"
		}},
		{name: "cluster environment", env: []string{"WARREN_CLUSTER_LISTEN=0.0.0.0:25672", "WARREN_CLUSTER_ADVERTISE=n1:25672",
			"WARREN_JOIN=n2:25672", "WARREN_BOOTSTRAP_EXPECT=1"}, check: func(o options) bool {
			c := o.cluster
			return c != nil && c.Advertise == "n1:25672" && c.BootstrapExpect == 1 && len(c.Join) == 1
		}},
		{name: "definitions timeout by default", args: []string{"--cluster-listen", ":25672"}, check: func(o options) bool {
			return o.cluster.CommitTimeout == 15*time.Second
		}},
		{name: "definitions timeout flag", args: []string{"--cluster-listen", ":25672", "--definitions-timeout", "3s"},
			env: []string{"WARREN_DEFINITIONS_TIMEOUT=9s"}, check: func(o options) bool { return o.cluster.CommitTimeout == 3*time.Second }},
		{name: "definitions timeout env", args: []string{"--cluster-listen", ":25672"},
			env: []string{"WARREN_DEFINITIONS_TIMEOUT=1500ms"}, check: func(o options) bool { return o.cluster.CommitTimeout == 1500*time.Millisecond }},
		{name: "definitions timeout not a duration", args: []string{"--cluster-listen", ":25672", "--definitions-timeout", "3"},
			wantErr: `--definitions-timeout (WARREN_DEFINITIONS_TIMEOUT) "3": want a positive duration`},
		{name: "definitions timeout zero", args: []string{"--cluster-listen", ":25672"}, env: []string{"WARREN_DEFINITIONS_TIMEOUT=0s"},
			wantErr: `--definitions-timeout (WARREN_DEFINITIONS_TIMEOUT) "0s": want a positive duration`},
		{name: "join without a cluster port", args: []string{"--join", "n2:25672"}, wantErr: "--join (WARREN_JOIN) needs --cluster-listen"},
		{name: "bootstrap-expect zero", args: []string{"--cluster-listen", ":25672", "--bootstrap-expect", "0"},
			wantErr: "--bootstrap-expect (WARREN_BOOTSTRAP_EXPECT) 0: want 1 or more"},
		{name: "audit log off by default", check: func(o options) bool { return o.auditLog == "" }},
		{name: "audit log env", env: []string{"WARREN_AUDIT_LOG=/env/audit.log"}, check: func(o options) bool { return o.auditLog == "/env/audit.log" }},
		{name: "audit log flag wins", env: []string{"WARREN_AUDIT_LOG=/env/audit.log"}, args: []string{"--audit-log", "/flag/audit.log"},
			check: func(o options) bool { return o.auditLog == "/flag/audit.log" }},
		{name: "disk limit off", args: []string{"--disk-free-limit", "0"}, check: func(o options) bool { return o.diskFreeLimit < 0 }},
		{name: "bad level", args: []string{"--log-level", "verbose"}, wantErr: `--log-level (WARREN_LOG_LEVEL) "verbose": want debug, info, warn or error`},
		{name: "bad level env", env: []string{"WARREN_LOG_LEVEL=INFO"}, wantErr: `--log-level (WARREN_LOG_LEVEL) "INFO"`},
		{name: "bad format", env: []string{"WARREN_LOG_FORMAT=text"}, wantErr: `--log-format (WARREN_LOG_FORMAT) "text": want console or json`},
		{name: "empty data dir flag", args: []string{"--data-dir", ""}, wantErr: "--data-dir (WARREN_DATA_DIR) is empty"},
		{name: "empty data dir env", env: []string{"WARREN_DATA_DIR="}, wantErr: "--data-dir (WARREN_DATA_DIR) is empty"},
		{name: "empty listen", env: []string{"WARREN_LISTEN="}, wantErr: "--listen (WARREN_LISTEN) is empty"},
		{name: "empty user", env: []string{"WARREN_DEFAULT_USER="}, wantErr: "--default-user (WARREN_DEFAULT_USER) is empty"},
		{name: "empty password", args: []string{"--default-pass="}, wantErr: "--default-pass (WARREN_DEFAULT_PASS) is empty"},
		{name: "bad size", args: []string{"--disk-free-limit", "lots"}, wantErr: "--disk-free-limit: invalid size"},
		{name: "argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
		{name: "health check ignores the node's settings", env: []string{"WARREN_DATA_DIR=", "WARREN_LOG_LEVEL=x"},
			args: []string{"--health-check"}, check: func(o options) bool { return o.healthCheck && strings.Join(o.listen, ",") == "127.0.0.1:5672" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, envOf(tc.env...), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Fatalf("options %+v", o)
			}
		})
	}
}

// TestUnknownFlag: an unknown flag is a usage error (exit status 2, the
// flag package prints it with the usage); --help is not an error.
func TestUnknownFlag(t *testing.T) {
	var ue usageError
	if _, err := parseOptions([]string{"--nope"}, envOf(), io.Discard); !errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		t.Fatalf("unknown flag: %v, want a usage error", err)
	}
	if _, err := parseOptions([]string{"--help"}, envOf(), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}
