// Command warren runs a Warren broker node: an AMQP 0-9-1 message broker
// that behaves as RabbitMQ does.
//
// Settings come from flags, which win over the environment variables,
// which win over a configuration file in rabbitmq.conf's format (--config
// or WARREN_CONFIG_FILE, config_file.go; it also holds the settings that
// have no flag: TLS listeners, protocol limits, mechanisms …), which wins
// over the defaults. The variables are WARREN_LISTEN, WARREN_DATA_DIR,
// WARREN_DISK_FREE_LIMIT, WARREN_NODE_NAME, WARREN_DEFAULT_USER,
// WARREN_DEFAULT_PASS, WARREN_LOG_LEVEL, WARREN_LOG_FORMAT and, for a
// cluster node, WARREN_CLUSTER_LISTEN, WARREN_CLUSTER_ADVERTISE,
// WARREN_JOIN, WARREN_BOOTSTRAP_EXPECT, WARREN_CLUSTER_SECRET and
// WARREN_DEFINITIONS_TIMEOUT; a variable set to the empty
// string counts as set. warren refuses to start without a data dir it can
// write to, rather than run a node that keeps nothing. SIGINT or SIGTERM
// closes the broker gracefully; durable queues and definitions survive any
// stop, kill -9 included.
//
// `warren --health-check` checks instead that a node answers AMQP on the
// listen address and exits 0 if it does, 1 if not (for container health
// checks, where there is no shell or curl).
//
// `warren cluster status|forget|set-disk-free-limit` asks a running
// cluster node over its cluster port instead (cluster_cmd.go); `warren
// set_policy` and its siblings (policy_cmd.go) set, clear and list
// policies on a running node, as rabbitmqctl's commands of those names.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/mgmt"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "cluster" {
		os.Exit(runCluster(os.Args[2:], os.LookupEnv, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "definitions" {
		os.Exit(runDefinitions(os.Args[2:], os.LookupEnv, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && isPolicyCommand(os.Args[1]) {
		os.Exit(runPolicy(os.Args[1], os.Args[2:], os.LookupEnv, os.Stdout, os.Stderr))
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	err := run(os.Args[1:], os.LookupEnv, os.Stderr, sig)
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2) // the flag package has printed the error and the usage
	default:
		fmt.Fprintln(os.Stderr, "warren:", err)
		os.Exit(1)
	}
}

// run runs the node configured by args and the environment until a signal
// arrives, logging to stderr, or runs the health check.
func run(args []string, env func(string) (string, bool), stderr io.Writer, signals <-chan os.Signal) error {
	o, err := parseOptions(args, env, stderr)
	if err != nil {
		return err
	}
	if o.healthCheck {
		if len(o.listen) == 0 {
			return errors.New("health check: no plain AMQP listener to check (--listen none)")
		}
		return healthCheck(o.listen[0], healthCheckTimeout)
	}
	log := newLogger(o.logLevel, o.logFormat, stderr)
	defer log.Sync()
	o.logFile(log)
	mgmtTLS, err := o.managementTLS(log.Named("mgmt"))
	if err != nil {
		return err
	}

	srv, err := broker.NewServer(o.brokerConfig(log))
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		return err
	}
	var api *mgmt.Server
	if o.mgmtListen != "" || o.mgmtSSLListen != "" {
		api = mgmt.New(mgmt.Config{Broker: srv, Logger: log.Named("mgmt"), StatsInterval: o.statsInterval})
	}
	if o.mgmtSSLListen != "" {
		if err := api.StartTLS(o.mgmtSSLListen, mgmtTLS); err != nil {
			api.Close()
			srv.Close()
			return fmt.Errorf("management API (HTTPS): %w", err)
		}
	}
	if o.mgmtListen != "" {
		if err := api.Start(o.mgmtListen); err != nil {
			if !o.mgmtDefault {
				api.Close()
				srv.Close()
				return fmt.Errorf("management API: %w", err)
			}
			// Not asked for: the node runs on without it.
			log.Warn("HTTP management API not started: its default address is taken; set --management-listen",
				zap.String("addr", o.mgmtListen), zap.Error(err))
			if o.mgmtSSLListen == "" {
				api.Close()
				api = nil
			}
		}
	}
	prom, err := o.startPrometheus(srv, log)
	if err != nil {
		if api != nil {
			api.Close()
		}
		srv.Close()
		return err
	}
	s := <-signals
	log.Info("shutting down", zap.String("signal", s.String()))
	if prom != nil {
		prom.Close()
	}
	if api != nil {
		api.Close()
	}
	return srv.Close()
}
