package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/warrenmq/warren/broker"
)

// TestClusterCommandUsage: a command that cannot run says why and exits
// 2 before dialling anything; help exits 0.
func TestClusterCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "usage: warren cluster"},
		{[]string{"help"}, 0, "usage: warren cluster"},
		{[]string{"reboot"}, 2, `unknown subcommand "reboot"`},
		{[]string{"forget"}, 2, "want 1 argument(s)"},
		{[]string{"status", "extra"}, 2, "want 0 argument(s)"},
		{[]string{"status", "--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"set-disk-free-limit", "lots"}, 2, `invalid size "lots"`},
		{[]string{"quorum-add-member", "/", "qq"}, 2, "want 3 argument(s)"},
		{[]string{"quorum-delete-member", "/", "qq", "n1@h", "n2@h"}, 2, "want 3 argument(s)"},
		{[]string{"quorum-grow"}, 2, "want 1 argument(s)"},
	} {
		var out, errOut bytes.Buffer
		env := func(string) (string, bool) { return "", false }
		code := runCluster(tc.args, env, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.says) {
			t.Errorf("warren cluster %q: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errOut.String(), tc.code, tc.says)
		}
	}
}

// TestClusterCommandUnreachable: a node that does not answer is an error
// (exit 1) naming the address.
func TestClusterCommandUnreachable(t *testing.T) {
	var out, errOut bytes.Buffer
	env := func(k string) (string, bool) {
		if k == "WARREN_CLUSTER_ADDR" {
			return "127.0.0.1:1", true
		}
		return "", false
	}
	if code := runCluster([]string{"status"}, env, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "127.0.0.1:1") {
		t.Fatalf("exit %d, stderr %q: want 1 naming the address", code, errOut.String())
	}
}

// TestPrintStatus: the table shows every member with its state, addresses,
// voter flag and alarms, the leader, the voters and each node's queues.
func TestPrintStatus(t *testing.T) {
	st := broker.ClusterStatus{
		Node:   "n1@h",
		Leader: "n2@h",
		Voters: []broker.ClusterVoter{{Node: "n1@h", Addr: "10.0.0.1:25672"}, {Node: "n2@h", Addr: "10.0.0.2:25672"}},
		Members: []broker.ClusterMember{
			{Name: "n1@h", State: "alive", ClusterAddr: "10.0.0.1:25672", AMQPAddr: "10.0.0.1:5672", Voter: true},
			{Name: "n2@h", State: "failed", ClusterAddr: "10.0.0.2:25672", Voter: true, Alarms: []string{"memory", "disk"}},
		},
		Queues: []broker.ClusterQueue{{Node: "n2@h", Vhost: "/", Name: "orders", Type: "classic", Durable: true}},
	}
	var out bytes.Buffer
	if err := printStatus(st, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Cluster status of node n1@h",
		"n1@h  alive   10.0.0.1:25672   10.0.0.1:5672  yes    -",
		"n2@h  failed  10.0.0.2:25672   -              yes    memory,disk",
		"Definitions leader: n2@h",
		"Raft voters: n1@h (10.0.0.1:25672), n2@h (10.0.0.2:25672)",
		"n2@h  /      orders  classic  yes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status table lacks %q:\n%s", want, got)
		}
	}
	out.Reset()
	if err := printStatus(broker.ClusterStatus{Node: "n1@h"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Definitions leader: (none") || !strings.Contains(out.String(), "(none)") {
		t.Errorf("status without a leader or queues:\n%s", out.String())
	}
}
