package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/warrenmq/warren/broker"
)

// `warren cluster SUBCOMMAND` asks a running cluster node over its
// cluster port, with the cluster secret (WARREN_CLUSTER_SECRET), instead
// of running a node:
//
//	warren cluster status [--cluster-addr ADDR] [--json]
//	warren cluster forget [--cluster-addr ADDR] NODE
//	warren cluster set-disk-free-limit [--cluster-addr ADDR] LIMIT
//	warren cluster quorum-add-member [--cluster-addr ADDR] VHOST QUEUE NODE
//	warren cluster quorum-delete-member [--cluster-addr ADDR] VHOST QUEUE NODE
//	warren cluster quorum-grow [--cluster-addr ADDR] NODE

// clusterUsage is printed for a missing or unknown subcommand.
const clusterUsage = `usage: warren cluster SUBCOMMAND [flags] [ARG...]

Asks a running node over its cluster port, with the cluster secret
(WARREN_CLUSTER_SECRET or --cluster-secret). Flags come before the ARGs.

  status [--json]           the members and their state, the definitions' Raft
                            leader and voters, and each node's queues
  forget NODE               remove a node that is gone for good (it must be
                            stopped), deleting the classic queues homed on it
                            and its quorum queue replicas, as rabbitmqctl
                            forget_cluster_node
  set-disk-free-limit LIMIT set the node's disk free limit until it stops
                            (bytes or 50MB, 1GB, 2GiB ...; 0 disables), as
                            rabbitmqctl set_disk_free_limit
  quorum-add-member VHOST QUEUE NODE
                            add a replica of a quorum queue on NODE, which
                            must be running, as rabbitmq-queues add_member
  quorum-delete-member VHOST QUEUE NODE
                            remove the replica of a quorum queue on NODE (not
                            its last), as rabbitmq-queues delete_member
  quorum-grow NODE          add a replica on NODE to every quorum queue that
                            has none there and fewer than three members, as
                            after a node was forgotten and replaced
`

// clusterTimeout bounds one command; a forget waits for commits.
const clusterTimeout = 60 * time.Second

// runCluster runs `warren cluster` with args (after "cluster") and
// returns the exit status: 0 done, 1 failed, 2 a usage error.
func runCluster(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, clusterUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	get := func(key, def string) string {
		if v, ok := env(key); ok {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("warren cluster "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("cluster-addr", get("WARREN_CLUSTER_ADDR", "127.0.0.1:25672"),
		"the cluster address of the node to ask (env WARREN_CLUSTER_ADDR)")
	secret := fs.String("cluster-secret", get("WARREN_CLUSTER_SECRET", ""),
		"the cluster's secret; prefer the environment variable (env WARREN_CLUSTER_SECRET)")
	asJSON := fs.Bool("json", false, "status: print the node's answer as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	admin := broker.AdminClient{Addr: *addr, Secret: *secret}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	var err error
	switch sub {
	case "status":
		err = wantArgs(fs, 0)
		if err == nil {
			err = clusterStatus(ctx, admin, *asJSON, stdout)
		}
	case "forget":
		err = wantArgs(fs, 1)
		if err == nil {
			err = clusterForget(ctx, admin, fs.Arg(0), stdout)
		}
	case "set-disk-free-limit":
		err = wantArgs(fs, 1)
		if err == nil {
			err = clusterSetDiskFreeLimit(ctx, admin, fs.Arg(0), stdout)
		}
	case "quorum-add-member", "quorum-delete-member":
		err = wantArgs(fs, 3)
		if err == nil {
			err = clusterQuorumMember(ctx, admin, sub == "quorum-add-member", fs.Arg(0), fs.Arg(1), fs.Arg(2), stdout)
		}
	case "quorum-grow":
		err = wantArgs(fs, 1)
		if err == nil {
			err = clusterQuorumGrow(ctx, admin, fs.Arg(0), stdout)
		}
	default:
		fmt.Fprintf(stderr, "warren cluster: unknown subcommand %q\n\n%s", sub, clusterUsage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "warren cluster %s: %v\n", sub, err)
		return 2
	}
	fmt.Fprintf(stderr, "warren cluster %s: %v\n", sub, err)
	return 1
}

// wantArgs checks that n arguments follow the flags.
func wantArgs(fs *flag.FlagSet, n int) error {
	if fs.NArg() != n {
		return usageError{fmt.Errorf("want %d argument(s) after the flags, got %d: %q", n, fs.NArg(), fs.Args())}
	}
	return nil
}

// clusterStatus prints the node's status as tables, or as JSON.
func clusterStatus(ctx context.Context, admin broker.AdminClient, asJSON bool, out io.Writer) error {
	st, err := admin.Status(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return printStatus(st, out)
}

// printStatus formats a status as RabbitMQ's cluster_status reads: the
// node asked, the members, the Raft group, the queues.
func printStatus(st broker.ClusterStatus, out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	leader := st.Leader
	if leader == "" {
		leader = "(none: no majority reachable, or an election under way)"
	}
	fmt.Fprintf(w, "Cluster status of node %s\n\n", st.Node)
	fmt.Fprintf(w, "Members\n")
	fmt.Fprintf(w, "NODE\tSTATE\tCLUSTER ADDRESS\tAMQP ADDRESS\tVOTER\tALARMS\n")
	for _, m := range st.Members {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.State, dash(m.ClusterAddr), dash(m.AMQPAddr),
			yesNo(m.Voter), dash(strings.Join(m.Alarms, ",")))
	}
	fmt.Fprintf(w, "\nDefinitions leader: %s\n", leader)
	voters := make([]string, 0, len(st.Voters))
	for _, v := range st.Voters {
		voters = append(voters, fmt.Sprintf("%s (%s)", v.Node, v.Addr))
	}
	fmt.Fprintf(w, "Raft voters: %s\n\n", dash(strings.Join(voters, ", ")))
	fmt.Fprintf(w, "Queues\n")
	if len(st.Queues) == 0 {
		fmt.Fprintf(w, "(none)\n")
		return w.Flush()
	}
	fmt.Fprintf(w, "NODE\tVHOST\tNAME\tTYPE\tDURABLE\n")
	for _, q := range st.Queues {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", q.Node, q.Vhost, q.Name, q.Type, yesNo(q.Durable))
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// clusterForget forgets node and says what went with it.
func clusterForget(ctx context.Context, admin broker.AdminClient, node string, out io.Writer) error {
	res, err := admin.Forget(ctx, node)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "node %s forgotten; %d queue(s) homed on it deleted; removed from %d quorum queue(s)\n",
		res.Node, res.QueuesDeleted, res.QuorumQueuesShrunk)
	return nil
}

// clusterSetDiskFreeLimit sets the node's disk free limit.
func clusterSetDiskFreeLimit(ctx context.Context, admin broker.AdminClient, limit string, out io.Writer) error {
	n, err := broker.ParseSize(limit)
	if err != nil {
		return usageError{err}
	}
	if err := admin.SetDiskFreeLimit(ctx, n); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(out, "disk free limit of %s disabled\n", admin.Addr)
		return nil
	}
	fmt.Fprintf(out, "disk free limit of %s set to %d bytes\n", admin.Addr, n)
	return nil
}

// clusterQuorumMember adds node to, or deletes it from, the members of
// the quorum queue vhost/queue, and says what the members are.
func clusterQuorumMember(ctx context.Context, admin broker.AdminClient, add bool, vhost, queue, node string, out io.Writer) error {
	call, done, nothing := admin.QuorumDeleteMember, "deleted from", "is not a member of"
	if add {
		call, done, nothing = admin.QuorumAddMember, "added to", "is a member already of"
	}
	res, err := call(ctx, vhost, queue, node)
	if err != nil {
		return err
	}
	what := done
	if !res.Changed {
		what = nothing
	}
	fmt.Fprintf(out, "node %s %s quorum queue '%s' in vhost '%s'; members: %s\n",
		node, what, queue, vhost, strings.Join(res.Members, ", "))
	return nil
}

// clusterQuorumGrow adds node to the quorum queues that need it and
// lists them; a queue it could not be added to fails the command.
func clusterQuorumGrow(ctx context.Context, admin broker.AdminClient, node string, out io.Writer) error {
	res, err := admin.QuorumGrow(ctx, node)
	if err != nil {
		return err
	}
	if len(res.Queues) == 0 {
		fmt.Fprintf(out, "no quorum queue to grow onto node %s\n", node)
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "VHOST\tNAME\tMEMBERS\tRESULT\n")
	failed := 0
	for _, q := range res.Queues {
		result := "ok"
		if q.Error != "" {
			result, failed = "error: "+q.Error, failed+1
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", q.Vhost, q.Queue, strings.Join(q.Members, ","), result)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("node %s was not added to %d of %d quorum queue(s)", node, failed, len(res.Queues))
	}
	return nil
}
