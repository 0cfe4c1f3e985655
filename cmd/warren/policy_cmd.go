package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/warrenmq/warren/broker"
)

// `warren set_policy`, `clear_policy`, `list_policies`,
// `set_operator_policy`, `clear_operator_policy` and
// `list_operator_policies` do what rabbitmqctl's commands of those names
// do, on a running node reached as `warren definitions export` reaches
// it: a single node over its data dir's admin socket, a cluster node over
// its cluster port with the secret.

const policyUsage = `usage:
  warren set_policy [-p VHOST] [--priority N] [--apply-to WHAT] NAME PATTERN DEFINITION
  warren clear_policy [-p VHOST] NAME
  warren list_policies [-p VHOST]
  warren set_operator_policy [-p VHOST] [--priority N] [--apply-to WHAT] NAME PATTERN DEFINITION
  warren clear_operator_policy [-p VHOST] NAME
  warren list_operator_policies [-p VHOST]

As rabbitmqctl's commands of those names. DEFINITION is a JSON object, such
as '{"max-length":1000,"overflow":"reject-publish"}'; WHAT is all (default),
queues, classic_queues, quorum_queues, streams or exchanges.

  -p, --vhost VHOST    the virtual host (default /)
  --data-dir DIR       a single node's data dir, whose admin socket to ask
                       (default ./data, env WARREN_DATA_DIR)
  --cluster-addr ADDR  ask a cluster node over its cluster port instead, with
                       the secret in WARREN_CLUSTER_SECRET (or --cluster-secret)
`

// policyCommands maps each command to its operation and whether it is
// about operator policies.
var policyCommands = map[string]struct {
	op       broker.PolicyOp
	operator bool
	args     int
}{
	"set_policy":             {broker.PolicySet, false, 3},
	"clear_policy":           {broker.PolicyClear, false, 1},
	"list_policies":          {broker.PolicyList, false, 0},
	"set_operator_policy":    {broker.PolicySet, true, 3},
	"clear_operator_policy":  {broker.PolicyClear, true, 1},
	"list_operator_policies": {broker.PolicyList, true, 0},
}

// isPolicyCommand reports whether name is one of the policy commands.
func isPolicyCommand(name string) bool {
	_, ok := policyCommands[name]
	return ok
}

// runPolicy runs the policy command name with args and returns the exit
// status: 0 done, 1 failed, 2 usage.
func runPolicy(name string, args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd := policyCommands[name]
	get := func(key, def string) string {
		if v, ok := env(key); ok {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("warren "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var req broker.PolicyRequest
	fs.StringVar(&req.Vhost, "p", "/", "the virtual host")
	fs.StringVar(&req.Vhost, "vhost", "/", "the virtual host")
	fs.Int64Var(&req.Priority, "priority", 0, "the policy's priority")
	fs.StringVar(&req.ApplyTo, "apply-to", "all", "what the policy applies to")
	dataDir := fs.String("data-dir", get("WARREN_DATA_DIR", "./data"), "a single node's data dir")
	addr := fs.String("cluster-addr", "", "a cluster node's cluster address")
	secret := fs.String("cluster-secret", get("WARREN_CLUSTER_SECRET", ""), "the cluster's secret")
	if err := fs.Parse(args); err != nil || fs.NArg() != cmd.args {
		if err != nil && err != flag.ErrHelp {
			fmt.Fprintf(stderr, "warren %s: %v\n", name, err)
		}
		fmt.Fprint(stderr, policyUsage)
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	req.Operator = cmd.operator
	switch cmd.op {
	case broker.PolicySet:
		req.Name, req.Pattern, req.Definition = fs.Arg(0), fs.Arg(1), []byte(fs.Arg(2))
	case broker.PolicyClear:
		req.Name = fs.Arg(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), definitionsTimeout)
	defer cancel()
	var infos []broker.PolicyInfo
	var err error
	if *addr != "" {
		infos, err = broker.AdminClient{Addr: *addr, Secret: *secret}.Policy(ctx, cmd.op, req)
	} else {
		infos, err = broker.PolicyAt(ctx, *dataDir, cmd.op, req)
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error:\n%s\n", strings.TrimRight(err.Error(), "\n"))
		return 1
	}
	if cmd.op == broker.PolicyList {
		printPolicies(stdout, infos)
	}
	return 0
}

// printPolicies writes policies as rabbitmqctl list_policies does: a
// header, then one tab-separated line each.
func printPolicies(w io.Writer, ps []broker.PolicyInfo) {
	fmt.Fprintln(w, "vhost\tname\tpattern\tapply-to\tdefinition\tpriority")
	for _, p := range ps {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", p.Vhost, p.Name, p.Pattern, p.ApplyTo, p.Definition, p.Priority)
	}
}
