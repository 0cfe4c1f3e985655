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
	"github.com/warrenmq/warren/broker/conf"
)

// options is the node's configuration from flags, the environment and
// the configuration file.
type options struct {
	listen              []string // plain AMQP listeners; empty with --listen none
	dataDir, user, pass string
	nodeName            string // complete: name@host
	diskFreeLimit       int64  // for broker.Config: negative disables the check
	logLevel            zapcore.Level
	logFormat           string
	healthCheck         bool
	cluster             *broker.ClusterConfig // nil: a single node
	file                *conf.Config          // the configuration file; empty without one
	fileName            string
	explicit            map[string]bool // flags given on the command line
	env                 func(string) (string, bool)
	diskLimit, level    string
	loadDefinitions     string        // a definitions file imported at start
	mgmtListen          string        // the HTTP management API's address; empty with --management-listen none
	mgmtDefault         bool          // mgmtListen is the default, not asked for: failing to bind it is not fatal
	auditLog            string        // the audit log's file; empty when off
	statsInterval       time.Duration // the management API's sampling interval (collect_statistics_interval); 0 for its default
	mgmtSSLListen       string        // the management API's HTTPS address; empty for none
	promListen          string        // the Prometheus endpoint's address; empty with --prometheus-listen none
	promDefault         bool          // promListen is the default, not asked for: failing to bind it is not fatal
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

// parseOptions reads the configuration file (--config or
// WARREN_CONFIG_FILE), the command line and the environment (env, as
// os.LookupEnv) and checks them: a flag wins over its variable, which
// wins over the file, which wins over the default. Flag errors and the
// usage go to out.
func parseOptions(args []string, env func(string) (string, bool), out io.Writer) (options, error) {
	o := options{env: env}
	if err := o.readFile(args); err != nil {
		return options{}, err
	}
	f := o.file
	get := func(key, def string) string {
		if v, ok := env(key); ok {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("warren", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.String("config", get("WARREN_CONFIG_FILE", ""),
		"a configuration file in rabbitmq.conf's format; flags and environment variables win over it (env WARREN_CONFIG_FILE)")
	listen := fs.String("listen", get("WARREN_LISTEN", fileListen(f)),
		"comma-separated AMQP listen addresses, such as 127.0.0.1:5672,[::1]:5672, or none (env WARREN_LISTEN)")
	dataDir := fs.String("data-dir", get("WARREN_DATA_DIR", or(f.Warren.DataDir, "./data")),
		"data directory, created if missing; required: warren will not run a node that keeps nothing (env WARREN_DATA_DIR)")
	diskLimit := fs.String("disk-free-limit", get("WARREN_DISK_FREE_LIMIT", fileDiskLimit(f)),
		"block publishers below this much free disk on the data dir: bytes or a unit such as 50MB, 1GB, 2GiB; 0 disables (env WARREN_DISK_FREE_LIMIT)")
	user := fs.String("default-user", get("WARREN_DEFAULT_USER", or(f.DefaultUser, "guest")),
		"the user clients log in as; the user named guest may connect only from loopback, as in RabbitMQ (env WARREN_DEFAULT_USER)")
	pass := fs.String("default-pass", get("WARREN_DEFAULT_PASS", or(f.DefaultPass, "guest")), "that user's password (env WARREN_DEFAULT_PASS)")
	node := fs.String("node-name", get("WARREN_NODE_NAME", f.Warren.NodeName),
		"this node's name, name@host as RabbitMQ's rabbit@host; empty means warren@<short hostname>, and a name without @host gets the short hostname (env WARREN_NODE_NAME)")
	level := fs.String("log-level", get("WARREN_LOG_LEVEL", or(fileLogLevel(f.LogLevel), "info")),
		"least severe log level written: debug, info, warn or error (env WARREN_LOG_LEVEL)")
	format := fs.String("log-format", get("WARREN_LOG_FORMAT", or(f.Warren.LogFormat, "console")), "log encoding: console or json (env WARREN_LOG_FORMAT)")
	clusterListen := fs.String("cluster-listen", get("WARREN_CLUSTER_LISTEN", f.Warren.ClusterListen),
		"the cluster port (Raft, gossip and forwarding between nodes), such as 0.0.0.0:25672; empty runs a single node (env WARREN_CLUSTER_LISTEN)")
	advertise := fs.String("cluster-advertise", get("WARREN_CLUSTER_ADVERTISE", f.Warren.ClusterAdvertise),
		"the address other nodes reach this one's cluster port at; empty means --cluster-listen's (env WARREN_CLUSTER_ADVERTISE)")
	join := fs.String("join", get("WARREN_JOIN", strings.Join(f.Warren.ClusterJoin, ",")),
		"comma-separated cluster addresses of other nodes, tried until one answers, so nodes may start in any order (env WARREN_JOIN)")
	expect := fs.Int("bootstrap-expect", intOr(get("WARREN_BOOTSTRAP_EXPECT", ""), intOr(strconv.Itoa(f.Warren.BootstrapExpect), 3, 1)),
		"how many nodes form a new cluster: a new node waits for that many before the cluster forms (env WARREN_BOOTSTRAP_EXPECT)")
	secret := fs.String("cluster-secret", get("WARREN_CLUSTER_SECRET", f.Warren.ClusterSecret),
		"secret shared by the cluster's nodes, as RabbitMQ's Erlang cookie; prefer the environment variable (env WARREN_CLUSTER_SECRET)")
	defsTimeout := fs.String("definitions-timeout", get("WARREN_DEFINITIONS_TIMEOUT", fileDuration(f.Warren.DefinitionsTimeout, "15s")),
		"how long a cluster node waits for the cluster to commit a definitions change (a declare, bind or delete) before refusing it with 541, such as 15s or 3s (env WARREN_DEFINITIONS_TIMEOUT)")
	restAfter := fs.String("quorum-rest-after", get("WARREN_QUORUM_REST_AFTER", fileDuration(f.Warren.QuorumRestAfter, "10s")),
		"how long a cluster's quorum queue stays idle (no consumer, nothing in flight) before its replicas rest, stopping their Raft until the queue is used, such as 10s (env WARREN_QUORUM_REST_AFTER)")
	loadDefs := fs.String("load-definitions", get("WARREN_LOAD_DEFINITIONS", f.LoadDefinitions),
		"a RabbitMQ definitions file (JSON) imported at every start, as RabbitMQ's load_definitions; the default user and vhost are then not created (env WARREN_LOAD_DEFINITIONS)")
	mgmtListen := fs.String("management-listen", get("WARREN_MANAGEMENT_LISTEN", fileManagementListen(f)),
		"the HTTP management API's address (RabbitMQ's management.tcp.ip and .port), or none; default: the first AMQP listener's host, its port + 10000 (127.0.0.1:15672) (env WARREN_MANAGEMENT_LISTEN)")
	mgmtSSLListen := fs.String("management-ssl-listen", get("WARREN_MANAGEMENT_SSL_LISTEN", fileManagementSSLListen(f)),
		"the management API's HTTPS address (RabbitMQ's management.ssl.ip and .port, with the certificate in management.ssl.certfile and .keyfile), or none; with it and no --management-listen or management.tcp.*, the API serves HTTPS only (env WARREN_MANAGEMENT_SSL_LISTEN)")
	auditLog := fs.String("audit-log", get("WARREN_AUDIT_LOG", f.Warren.AuditLog.File),
		"a file to write the audit log to: one JSON line per change of users, permissions, vhosts, limits, parameters, policies or definitions, and per forced connection close; empty (the default) for none (env WARREN_AUDIT_LOG)")
	promListen := fs.String("prometheus-listen", get("WARREN_PROMETHEUS_LISTEN", filePrometheusListen(f)),
		"the Prometheus endpoint's address (RabbitMQ's prometheus.tcp.ip and .port), or none; default: the first AMQP listener's host, its port + 10020 (127.0.0.1:15692) (env WARREN_PROMETHEUS_LISTEN)")
	health := fs.Bool("health-check", false,
		"instead of running a node, check that one answers AMQP on the first --listen address (a wildcard host is checked on loopback); exit 0 if it does, 1 if not")
	if err := fs.Parse(args); err != nil {
		return options{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q: warren takes flags only (see --help)", fs.Arg(0))
	}
	o.explicit = make(map[string]bool)
	fs.Visit(func(fl *flag.Flag) { o.explicit[fl.Name] = true })
	o.dataDir, o.user, o.pass, o.nodeName, o.logFormat, o.healthCheck = *dataDir, *user, *pass, *node, *format, *health
	o.diskLimit, o.level, o.loadDefinitions, o.auditLog = *diskLimit, *level, *loadDefs, *auditLog
	o.statsInterval = f.StatsInterval
	if *listen == "" {
		return options{}, errors.New("--listen (WARREN_LISTEN) is empty: give an address such as 127.0.0.1:5672, or none")
	}
	if *listen != "none" {
		o.listen = splitList(*listen)
	}
	if *mgmtSSLListen != "none" {
		o.mgmtSSLListen = *mgmtSSLListen
	}
	switch *mgmtListen {
	case "none":
	case "":
		if o.mgmtSSLListen == "" { // HTTPS alone, as RabbitMQ with management.ssl.* only
			o.mgmtListen, o.mgmtDefault = defaultManagementListen(o.listen), true
		}
	default:
		o.mgmtListen = *mgmtListen
	}
	switch *promListen {
	case "none":
	case "":
		o.promListen, o.promDefault = defaultPrometheusListen(o.listen), true
	default:
		o.promListen = *promListen
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
		if d, err = time.ParseDuration(*restAfter); err != nil || d <= 0 {
			return options{}, fmt.Errorf("--quorum-rest-after (WARREN_QUORUM_REST_AFTER) %q: want a positive duration such as 10s", *restAfter)
		}
		o.cluster.QuorumRestAfter = d
	} else if *join != "" {
		return options{}, errors.New("--join (WARREN_JOIN) needs --cluster-listen (WARREN_CLUSTER_LISTEN)")
	}
	return o, o.check()
}

// or returns v, or def when v is empty.
func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
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

// intOr parses s, or returns def when s is empty, not a number (the
// flag package then reports a bad flag value itself) or below least.
func intOr(s string, def int, least ...int) int {
	if n, err := strconv.Atoi(s); err == nil && (len(least) == 0 || n >= least[0]) {
		return n
	}
	return def
}

// check validates and converts the settings a node needs. An error names
// where the value came from: the flag and its variable, or the file's
// line and key.
func (o *options) check() error {
	switch {
	case o.dataDir == "":
		return fmt.Errorf("%s is empty: warren needs a directory for its definitions and messages, and will not run a node that keeps nothing",
			o.origin("data-dir", "WARREN_DATA_DIR", "warren.data_dir"))
	case o.user == "":
		return fmt.Errorf("%s is empty", o.origin("default-user", "WARREN_DEFAULT_USER", "default_user"))
	case o.pass == "":
		return fmt.Errorf("%s is empty: as in RabbitMQ, a blank password cannot log in", o.origin("default-pass", "WARREN_DEFAULT_PASS", "default_pass"))
	}
	limit, err := broker.ParseSize(o.diskLimit)
	if err != nil {
		return fmt.Errorf("--disk-free-limit: %w", err)
	}
	if limit == 0 {
		limit = -1 // disabled
	}
	o.diskFreeLimit = limit
	if o.nodeName, err = broker.NodeName(o.nodeName); err != nil {
		return fmt.Errorf("%s: %w", o.origin("node-name", "WARREN_NODE_NAME", "warren.node_name"), err)
	}
	lv, ok := logLevels[o.level]
	if !ok {
		return fmt.Errorf("--log-level (WARREN_LOG_LEVEL) %q: want debug, info, warn or error", o.level)
	}
	o.logLevel = lv
	if o.logFormat != "console" && o.logFormat != "json" {
		return fmt.Errorf("--log-format (WARREN_LOG_FORMAT) %q: want console or json", o.logFormat)
	}
	return nil
}

// origin names where a setting came from: "--flag (VARIABLE)" unless
// neither was given and the file set it, then "file:line: key".
func (o *options) origin(flagName, envKey, fileKey string) string {
	_, fromEnv := o.env(envKey)
	if o.explicit[flagName] || fromEnv || !o.file.Has(fileKey) {
		return "--" + flagName + " (" + envKey + ")"
	}
	return fmt.Sprintf("%s:%d: %s", o.fileName, o.file.Line(fileKey), fileKey)
}
