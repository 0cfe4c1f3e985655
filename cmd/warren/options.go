package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/warrenmq/warren/broker"
)

// options is the node's configuration from flags and the environment.
type options struct {
	listen, dataDir, user, pass string
	nodeName                    string // complete: name@host
	diskFreeLimit               int64  // for broker.Config: negative disables the check
	logLevel                    zapcore.Level
	logFormat                   string
	healthCheck                 bool
	cluster                     *broker.ClusterConfig // nil: a single node
	loadDefinitions             string                // a definitions file imported at start
}

// usageError is a command-line error the flag package has already
// reported, with the usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// logLevels are the values --log-level accepts.
var logLevels = map[string]zapcore.Level{
	"debug": zapcore.DebugLevel, "info": zapcore.InfoLevel, "warn": zapcore.WarnLevel, "error": zapcore.ErrorLevel,
}

// parseOptions reads the command line and the environment (env, as
// os.LookupEnv) and checks them. Flag errors and the usage go to out.
func parseOptions(args []string, env func(string) (string, bool), out io.Writer) (options, error) {
	get := func(key, def string) string {
		if v, ok := env(key); ok {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("warren", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", get("WARREN_LISTEN", "127.0.0.1:5672"), "AMQP listen address (env WARREN_LISTEN)")
	dataDir := fs.String("data-dir", get("WARREN_DATA_DIR", "./data"),
		"data directory, created if missing; required: warren will not run a node that keeps nothing (env WARREN_DATA_DIR)")
	diskLimit := fs.String("disk-free-limit", get("WARREN_DISK_FREE_LIMIT", "50MB"),
		"block publishers below this much free disk on the data dir: bytes or a unit such as 50MB, 1GB, 2GiB; 0 disables (env WARREN_DISK_FREE_LIMIT)")
	user := fs.String("default-user", get("WARREN_DEFAULT_USER", "guest"),
		"the user clients log in as; the user named guest may connect only from loopback, as in RabbitMQ (env WARREN_DEFAULT_USER)")
	pass := fs.String("default-pass", get("WARREN_DEFAULT_PASS", "guest"), "that user's password (env WARREN_DEFAULT_PASS)")
	node := fs.String("node-name", get("WARREN_NODE_NAME", ""),
		"this node's name, name@host as RabbitMQ's rabbit@host; empty means warren@<short hostname>, and a name without @host gets the short hostname (env WARREN_NODE_NAME)")
	level := fs.String("log-level", get("WARREN_LOG_LEVEL", "info"), "least severe log level written: debug, info, warn or error (env WARREN_LOG_LEVEL)")
	format := fs.String("log-format", get("WARREN_LOG_FORMAT", "console"), "log encoding: console or json (env WARREN_LOG_FORMAT)")
	clusterListen := fs.String("cluster-listen", get("WARREN_CLUSTER_LISTEN", ""),
		"the cluster port (Raft, gossip and forwarding between nodes), such as 0.0.0.0:25672; empty runs a single node (env WARREN_CLUSTER_LISTEN)")
	advertise := fs.String("cluster-advertise", get("WARREN_CLUSTER_ADVERTISE", ""),
		"the address other nodes reach this one's cluster port at; empty means --cluster-listen's (env WARREN_CLUSTER_ADVERTISE)")
	join := fs.String("join", get("WARREN_JOIN", ""),
		"comma-separated cluster addresses of other nodes, tried until one answers, so nodes may start in any order (env WARREN_JOIN)")
	expect := fs.Int("bootstrap-expect", intOr(get("WARREN_BOOTSTRAP_EXPECT", ""), 3),
		"how many nodes form a new cluster: a new node waits for that many before the cluster forms (env WARREN_BOOTSTRAP_EXPECT)")
	secret := fs.String("cluster-secret", get("WARREN_CLUSTER_SECRET", ""),
		"secret shared by the cluster's nodes, as RabbitMQ's Erlang cookie; prefer the environment variable (env WARREN_CLUSTER_SECRET)")
	defsTimeout := fs.String("definitions-timeout", get("WARREN_DEFINITIONS_TIMEOUT", "15s"),
		"how long a cluster node waits for the cluster to commit a definitions change (a declare, bind or delete) before refusing it with 541, such as 15s or 3s (env WARREN_DEFINITIONS_TIMEOUT)")
	loadDefs := fs.String("load-definitions", get("WARREN_LOAD_DEFINITIONS", ""),
		"a RabbitMQ definitions file (JSON) imported at every start, as RabbitMQ's load_definitions; the default user and vhost are then not created (env WARREN_LOAD_DEFINITIONS)")
	health := fs.Bool("health-check", false,
		"instead of running a node, check that one answers AMQP on --listen (a wildcard host is checked on loopback); exit 0 if it does, 1 if not")
	if err := fs.Parse(args); err != nil {
		return options{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q: warren takes flags only (see --help)", fs.Arg(0))
	}
	o := options{listen: *listen, dataDir: *dataDir, user: *user, pass: *pass, nodeName: *node,
		logFormat: *format, healthCheck: *health, loadDefinitions: *loadDefs}
	if o.listen == "" {
		return options{}, errors.New("--listen (WARREN_LISTEN) is empty: give an address such as 127.0.0.1:5672")
	}
	if o.healthCheck {
		return o, nil // nothing else matters to the check
	}
	if *clusterListen != "" {
		o.cluster = &broker.ClusterConfig{Listen: *clusterListen, Advertise: *advertise, Join: splitList(*join),
			BootstrapExpect: *expect, Secret: *secret}
		if *expect < 1 {
			return options{}, fmt.Errorf("--bootstrap-expect (WARREN_BOOTSTRAP_EXPECT) %d: want 1 or more", *expect)
		}
		d, err := time.ParseDuration(*defsTimeout)
		if err != nil || d <= 0 {
			return options{}, fmt.Errorf("--definitions-timeout (WARREN_DEFINITIONS_TIMEOUT) %q: want a positive duration such as 15s", *defsTimeout)
		}
		o.cluster.CommitTimeout = d
	} else if *join != "" {
		return options{}, errors.New("--join (WARREN_JOIN) needs --cluster-listen (WARREN_CLUSTER_LISTEN)")
	}
	return o, o.check(*diskLimit, *level)
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// intOr parses s, or returns def when s is empty or not a number (the
// flag package then reports a bad flag value itself).
func intOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// check validates and converts the settings a node needs.
func (o *options) check(diskLimit, level string) error {
	switch {
	case o.dataDir == "":
		return errors.New("--data-dir (WARREN_DATA_DIR) is empty: warren needs a directory for its definitions and messages, and will not run a node that keeps nothing")
	case o.user == "":
		return errors.New("--default-user (WARREN_DEFAULT_USER) is empty")
	case o.pass == "":
		return errors.New("--default-pass (WARREN_DEFAULT_PASS) is empty: as in RabbitMQ, a blank password cannot log in")
	}
	limit, err := broker.ParseSize(diskLimit)
	if err != nil {
		return fmt.Errorf("--disk-free-limit: %w", err)
	}
	if limit == 0 {
		limit = -1 // disabled
	}
	o.diskFreeLimit = limit
	if o.nodeName, err = broker.NodeName(o.nodeName); err != nil {
		return fmt.Errorf("--node-name (WARREN_NODE_NAME): %w", err)
	}
	lv, ok := logLevels[level]
	if !ok {
		return fmt.Errorf("--log-level (WARREN_LOG_LEVEL) %q: want debug, info, warn or error", level)
	}
	o.logLevel = lv
	if o.logFormat != "console" && o.logFormat != "json" {
		return fmt.Errorf("--log-format (WARREN_LOG_FORMAT) %q: want console or json", o.logFormat)
	}
	return nil
}
