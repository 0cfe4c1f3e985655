// Command warren-perf measures an AMQP 0-9-1 broker (Warren, RabbitMQ or any
// other): throughput, publisher-confirm and end-to-end latency, the broker's
// CPU and memory, and every lost, duplicated, nacked or returned message.
//
//	warren-perf --uri amqp://guest:guest@127.0.0.1:5672/ --producers 2 --consumers 2 --duration 30s
//	warren-perf --persistent --confirm 1000 --queue-args x-queue-type=quorum --json
//	warren-perf --declare-url URL3 --publish-url URL1 --consume-url URL2   # queue, publisher and consumer on three nodes
//	warren-perf suite --uri URL [--compare URL2] --out DIR
//	warren-perf ready --uri URL --queue NAME [--since UNIX_NANOS] [--timeout 30s] [--get] [--json]
//	warren-perf --reconnect --confirm 1000 --publish-url URL1,URL2 --kill-pid PID --kill-after 5s   # failover
//
// A live line goes to stderr once a second; the summary (or --json) to
// stdout. The exit status is 0 when every message was accounted for, 1 when
// the run failed, 2 for bad flags and 3 when the broker refused the scenario.
// The logic lives in package perf; this file only turns flags into its
// configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/warrenmq/warren/cmd/warren-perf/perf"
)

// listFlag collects a repeatable flag; each use may also hold a comma list.
type listFlag []string

// String joins the values, for flag's help text.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds one use of the flag, splitting it at commas.
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// pidsFlag collects process ids, repeated or comma-separated.
type pidsFlag []int

// String joins the ids, for flag's help text.
func (p *pidsFlag) String() string {
	s := make([]string, len(*p))
	for i, pid := range *p {
		s[i] = strconv.Itoa(pid)
	}
	return strings.Join(s, ",")
}

// Set adds one use of the flag, splitting it at commas.
func (p *pidsFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || pid <= 0 {
			return fmt.Errorf("bad process id %q", v)
		}
		*p = append(*p, pid)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	switch {
	case len(os.Args) > 1 && os.Args[1] == "suite":
		code = suiteMain(ctx, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "ready":
		code = readyMain(ctx, time.Now(), os.Args[2:])
	default:
		code = runMain(ctx, os.Args[1:])
	}
	stop()
	os.Exit(code)
}

// runMain runs one scenario from flags.
func runMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("warren-perf", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: warren-perf [flags]   (one scenario)\n       warren-perf suite --help (the standard scenarios, one or two brokers)\n       warren-perf ready --help (wait until a broker serves a queue)")
		fs.PrintDefaults()
	}
	c := perf.DefaultConfig()
	var uris, publishURIs, consumeURIs, routingKeys, bindingKeys listFlag
	var queueArgs string
	var asJSON bool
	fs.Var(&uris, "uri", "broker `URL`; repeat (or comma-separate) to spread connections over several brokers (default amqp://guest:guest@127.0.0.1:5672/)")
	fs.Var(&publishURIs, "publish-url", "broker `URL` producers connect to instead of --uri; repeatable (e.g. one node of a cluster)")
	fs.Var(&consumeURIs, "consume-url", "broker `URL` consumers connect to instead of --uri; repeatable")
	fs.StringVar(&c.DeclareURI, "declare-url", "", "broker `URL` the queues, exchange and bindings are declared and deleted on instead of the first --uri (with client-local placement, the node the queues live on); the run waits until the other URLs see them")
	fs.StringVar(&c.Name, "name", c.Name, "scenario name for the reports")
	fs.IntVar(&c.Producers, "producers", c.Producers, "number of producers (one connection each)")
	fs.IntVar(&c.Consumers, "consumers", c.Consumers, "number of consumers per queue (one connection each)")
	fs.IntVar(&c.Size, "size", c.Size, "message body size in `bytes` (at least 16, the stamp)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "length of the measured window (0: until --count)")
	fs.Int64Var(&c.Count, "count", 0, "messages per producer (0: unbounded)")
	fs.Float64Var(&c.Rate, "rate", 0, "messages a second per producer (0: as fast as possible)")
	fs.BoolVar(&c.Persistent, "persistent", false, "publish persistent messages into durable queues")
	fs.IntVar(&c.ConfirmWindow, "confirm", 0, "use publisher confirms with at most `N` unconfirmed messages per producer (0: no confirms)")
	fs.IntVar(&c.Prefetch, "prefetch", c.Prefetch, "consumer prefetch count (basic.qos; 0: unlimited)")
	fs.IntVar(&c.MultiAckEvery, "multi-ack-every", 0, "acknowledge every `N` deliveries with multiple=true (0 or 1: ack each)")
	fs.BoolVar(&c.AutoAck, "auto-ack", false, "consume without acknowledgements")
	fs.IntVar(&c.Queues, "queues", c.Queues, "number of queues")
	fs.StringVar(&c.QueuePrefix, "queue-prefix", "", "name queues PREFIX-0, PREFIX-1, ... and keep them (default: generated names, deleted afterwards)")
	fs.StringVar(&queueArgs, "queue-args", "", "queue arguments as `k=v,k=v`, e.g. x-queue-type=quorum or x-max-length=1000")
	fs.StringVar(&c.ExchangeType, "exchange-type", c.ExchangeType, "exchange type: direct, fanout, topic or headers")
	fs.StringVar(&c.Exchange, "exchange", "", "exchange name (default: the default exchange for plain direct runs, else a generated one)")
	fs.Var(&routingKeys, "routing-key", "routing `key` producers cycle through; repeatable (default: generated, one per binding)")
	fs.Var(&bindingKeys, "binding-key", "binding `key` for every queue; repeatable (default: the routing keys, or generated)")
	fs.IntVar(&c.BindingsPerQueue, "bindings-per-queue", c.BindingsPerQueue, "generated bindings per queue, cycled through by producers")
	fs.BoolVar(&c.Mandatory, "mandatory", false, "publish with the mandatory flag (unroutable messages come back as returns)")
	var oneInFlight bool
	fs.IntVar(&c.MaxInFlight, "max-in-flight", 0, "each producer keeps at most `N` messages published but not yet consumed (0: unbounded)")
	fs.BoolVar(&oneInFlight, "one-in-flight", false, "same as --max-in-flight 1: each message is consumed before the next is published (latency)")
	fs.IntVar(&c.IdleConnections, "idle-connections", 0, "extra idle connections (one channel each) held through the window")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "after the window, how long to wait without progress for confirms and deliveries")
	var pids pidsFlag
	fs.Var(&pids, "broker-pid", "broker process `id` for CPU and RSS from /proc (RabbitMQ: the beam.smp pid); repeat or comma-separate for a broker of several processes, such as a cluster's nodes, whose figures are added")
	fs.DurationVar(&c.Heartbeat, "heartbeat", c.Heartbeat, "AMQP heartbeat interval")
	fs.BoolVar(&c.Reconnect, "reconnect", false, "producers and consumers that lose their connection reconnect to the next URL of their list, producers publishing again what was unconfirmed; lost then means confirmed and never consumed, and duplicates do not fail the run (needs --confirm)")
	fs.IntVar(&c.KillPID, "kill-pid", 0, "kill this process `id` with SIGKILL (kill -9) --kill-after into the window, e.g. a cluster node's, and report how confirms and deliveries went on around it")
	fs.DurationVar(&c.KillAfter, "kill-after", 0, "when to kill --kill-pid, from the window's start")
	fs.BoolVar(&asJSON, "json", false, "print the summary as one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "warren-perf: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if oneInFlight {
		c.MaxInFlight = 1
	}
	if len(uris) > 0 {
		c.URIs = uris
	}
	c.PublishURIs, c.ConsumeURIs = publishURIs, consumeURIs
	if len(pids) > 0 {
		c.BrokerPID, c.OtherBrokerPIDs = pids[0], pids[1:]
	}
	c.RoutingKeys, c.BindingKeys = routingKeys, bindingKeys
	var err error
	if c.QueueArgs, err = perf.ParseQueueArgs(queueArgs); err != nil {
		fmt.Fprintln(os.Stderr, "warren-perf:", err)
		return 2
	}
	res, err := perf.Run(ctx, c, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "warren-perf:", err)
		return 2
	}
	if asJSON {
		err = res.WriteJSON(os.Stdout)
	} else {
		res.WriteSummary(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "warren-perf:", err)
		return 1
	}
	return exitCode(res.Status)
}

// suiteMain runs the standard scenarios.
func suiteMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("warren-perf suite", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: warren-perf suite --uri URL [--compare URL2] --out DIR [flags]")
		fmt.Fprintln(fs.Output(), "scenarios:", strings.Join(perf.ScenarioNames(), ", "))
		fs.PrintDefaults()
	}
	s := perf.DefaultSuite()
	var only listFlag
	fs.StringVar(&s.Ours.URI, "uri", s.Ours.URI, "broker `URL` under test")
	fs.StringVar(&s.Ours.Label, "label", s.Ours.Label, "name of the broker under test in the table")
	fs.IntVar(&s.Ours.PID, "broker-pid", 0, "pid of the broker under test, for CPU and RSS")
	fs.StringVar(&s.Theirs.URI, "compare", "", "second broker `URL`, run in alternation with the first")
	fs.StringVar(&s.Theirs.Label, "compare-label", s.Theirs.Label, "name of the second broker in the table")
	fs.IntVar(&s.Theirs.PID, "compare-pid", 0, "pid of the second broker, for CPU and RSS")
	fs.StringVar(&s.Out, "out", s.Out, "folder for results.md, results.json and one SVG per scenario")
	fs.DurationVar(&s.Duration, "duration", s.Duration, "measured window of each scenario")
	fs.IntVar(&s.IdleConnections, "idle-connections", s.IdleConnections, "connections in the idle-connections scenario")
	fs.DurationVar(&s.DrainTimeout, "drain-timeout", s.DrainTimeout, "per-scenario wait without progress for confirms and deliveries")
	fs.Var(&only, "scenarios", "comma list of scenarios to run (default: all)")
	fs.StringVar(&s.Command, "command", "", "command line to record in results.md (default: this one)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "warren-perf suite: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	s.Only = only
	if s.Command == "" {
		s.Command = "warren-perf suite " + strings.Join(redactArgs(args), " ")
	}
	results, err := s.Run(ctx, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "warren-perf suite:", err)
		return 2
	}
	for _, r := range results {
		r.WriteSummary(os.Stdout)
	}
	fmt.Fprintf(os.Stdout, "results written to %s\n", s.Out)
	code := 0
	for _, r := range results {
		if r.Status == perf.StatusFailed {
			code = 1
		}
	}
	return code
}

// readyMain waits until a broker serves a queue (a passive queue.declare
// succeeds) and prints how long that took since --since, or since start.
func readyMain(ctx context.Context, start time.Time, args []string) int {
	fs := flag.NewFlagSet("warren-perf ready", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: warren-perf ready --uri URL --queue NAME [--since UNIX_NANOS] [--timeout 30s] [--get] [--json]")
		fmt.Fprintln(fs.Output(), "Dials and passively declares the queue until it succeeds (with --get, until a basic.get returns a message); prints the time since --since and the queue's message count.")
		fs.PrintDefaults()
	}
	c := perf.DefaultReadyConfig()
	var since int64
	var asJSON bool
	fs.StringVar(&c.URI, "uri", c.URI, "broker `URL`")
	fs.StringVar(&c.Queue, "queue", "", "queue `name` to declare passively (required)")
	fs.Int64Var(&since, "since", 0, "measure from this instant, in `unix nanoseconds` (e.g. $(date +%s%N) before starting the broker; default: this command's start)")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "give up (exit 1) after this long")
	fs.DurationVar(&c.DialTimeout, "dial-timeout", c.DialTimeout, "timeout of each connection attempt")
	fs.DurationVar(&c.Interval, "interval", c.Interval, "pause between failed attempts")
	fs.BoolVar(&c.Get, "get", false, "once the declare succeeds, go on until a basic.get returns a message (given back with a requeue) and print that time too")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "warren-perf ready: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	c.Since = start
	if since != 0 {
		c.Since = time.Unix(0, since)
	}
	if err := c.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "warren-perf ready:", err)
		return 2
	}
	res, err := perf.WaitReady(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "warren-perf ready:", err)
	}
	if asJSON {
		if werr := res.WriteJSON(os.Stdout); werr != nil {
			fmt.Fprintln(os.Stderr, "warren-perf ready:", werr)
			return 1
		}
	} else if err == nil {
		res.WriteText(os.Stdout)
	}
	if err != nil {
		return 1
	}
	return 0
}

// redactArgs hides passwords in URL arguments for the recorded command.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.Contains(v, "://") {
			out[i] = k + "=" + perf.RedactURI(v)
		} else if strings.Contains(a, "://") {
			out[i] = perf.RedactURI(a)
		} else {
			out[i] = a
		}
	}
	return out
}

// exitCode maps a run status to the process exit status.
func exitCode(status string) int {
	switch status {
	case perf.StatusOK:
		return 0
	case perf.StatusUnsupported:
		return 3
	default:
		return 1
	}
}
