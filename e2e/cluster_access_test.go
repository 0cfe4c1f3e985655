//go:build !e2e_nowarren

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file checks on three nodes what access control and policies
// promise across a cluster: limits counted over every node, a policy set
// on one node applied to the queues of every node, and a definition
// visible on every node once its change is done.

// clusterLimitDefinitions are loaded by every node: vhost tiny admits one
// connection; user lim one connection, user chans three connections with
// two channels between them.
const clusterLimitDefinitions = `{
  "users": [
    {"name": "guest", "password": "guest", "tags": "administrator"},
    {"name": "lim", "password": "lim-pw", "tags": [], "limits": {"max-connections": 1}},
    {"name": "chans", "password": "chans-pw", "tags": [], "limits": {"max-connections": 3, "max-channels": 2}}
  ],
  "vhosts": [{"name": "/"}, {"name": "tiny", "limits": {"max-connections": 1}}],
  "permissions": [
    {"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "guest", "vhost": "tiny", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "lim", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "chans", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
  ]
}`

// TestClusterLimits: a vhost's and a user's max-connections and a user's
// max-channels hold across the cluster, as RabbitMQ counts them: the
// connection or channel past the limit is refused on another node with
// RabbitMQ's code and text, and admitted again once one is closed.
func TestClusterLimits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "definitions.json")
	mustOK(t, os.WriteFile(file, []byte(clusterLimitDefinitions), 0o644), "write definitions")
	c := startClusterWith(t, 3, "--load-definitions", file)
	addr := func(i int) string { return c.nodes[i].addr }
	// Each node imports the file as it starts; guest's access, which
	// startCluster waits for, may be in place before the rest is.
	for i := range c.nodes {
		api := newAPI(t, "http://"+c.nodes[i].mgmt, "guest", "guest")
		eventually(t, fmt.Sprint("node ", i+1, " has imported the limits and permissions"), func() bool {
			for _, path := range []string{"/api/permissions/%2F/lim", "/api/permissions/%2F/chans", "/api/vhost-limits/tiny"} {
				if status, _, body := api.do("GET", path, nil); status != 200 || string(body) == "[]" {
					return false
				}
			}
			return true
		})
	}

	tiny := dialAs(t, addr(0), "guest", "guest", "tiny")
	_, err := amqp.Dial(amqpURL(addr(1), "guest", "guest", "tiny"))
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - access to vhost 'tiny' refused for user 'guest': connection limit (1) is reached")
	tiny.Close()
	eventually(t, "a connection to tiny on node 2 once node 1's closed", func() bool {
		c2, err := amqp.Dial(amqpURL(addr(2), "guest", "guest", "tiny"))
		if err == nil {
			c2.Close()
		}
		return err == nil
	})

	lim := dialAs(t, addr(1), "lim", "lim-pw", "/")
	_, err = amqp.Dial(amqpURL(addr(2), "lim", "lim-pw", "/"))
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - connection refused for user 'lim': user connection limit (1) is reached")
	lim.Close()

	a := dialAs(t, addr(0), "chans", "chans-pw", "/")
	b := dialAs(t, addr(1), "chans", "chans-pw", "/")
	d := dialAs(t, addr(2), "chans", "chans-pw", "/")
	a.channel(t)
	b.channel(t)
	if _, err := d.Channel(); err == nil {
		t.Fatal("a third channel of chans opened on node 3")
	}
	expectConnClose(t, d, codeNotAllowed,
		"NOT_ALLOWED - number of channels opened for user 'chans' has reached the maximum allowed user limit of 2")
	a.Close()
	eventually(t, "a channel of chans on node 3 once node 1's connection closed", func() bool {
		e, err := amqp.Dial(amqpURL(addr(2), "chans", "chans-pw", "/"))
		if err != nil {
			return false
		}
		defer e.Close()
		_, err = e.Channel()
		return err == nil
	})
}

// TestClusterPolicy: a policy set through one node's cluster port
// (`warren set_policy --cluster-addr`) applies to a classic queue homed
// on another node and to a quorum queue on all three, as soon as it is
// committed; clearing it lifts the limit again.
func TestClusterPolicy(t *testing.T) {
	c := startCluster(t, 3)
	ch := c.channel(t, 0)
	for _, q := range []struct {
		name string
		args amqp.Table
	}{{"pol.c", nil}, {"pol.q", amqp.Table{"x-queue-type": "quorum"}}} {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			t.Fatalf("declare %s: %v", q.name, err)
		}
		publishConfirmedOn(t, c, 1, q.name, 0, 5)
	}
	clusterAddr := c.nodes[2].args[slices.Index(c.nodes[2].args, "--cluster-listen")+1]
	warrenCmd := func(verb string, args ...string) {
		t.Helper()
		args = append([]string{verb, "--cluster-addr", clusterAddr, "--cluster-secret", "e2e-secret"}, args...)
		cmd := exec.Command(c.nodes[0].bin, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("warren %v: %v\n%s", args, err, out)
		}
	}
	depth := func(i int, q string) int {
		conn, err := amqp.Dial(c.nodes[i].url())
		mustOK(t, err, "dial")
		defer conn.Close()
		ch, err := conn.Channel()
		mustOK(t, err, "channel")
		st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		mustOK(t, err, "passive declare "+q)
		return st.Messages
	}
	warrenCmd("set_policy", "--apply-to", "queues", "cap", `^pol\.`, `{"max-length":2}`)
	for i := range 3 {
		for _, q := range []string{"pol.c", "pol.q"} {
			eventually(t, q+" holds 2 messages seen from node "+string(rune('1'+i)), func() bool { return depth(i, q) == 2 })
		}
	}
	publishConfirmedOn(t, c, 2, "pol.q", 5, 3)
	if n := depth(1, "pol.q"); n != 2 {
		t.Fatalf("pol.q holds %d messages after 3 more under max-length 2, want 2", n)
	}
	warrenCmd("clear_policy", "cap")
	eventually(t, "pol.q takes messages past 2 once the policy is cleared", func() bool {
		publishConfirmedOn(t, c, 1, "pol.q", 8, 1)
		return depth(0, "pol.q") > 2
	})
}

// TestClusterDeclareVisibleAtOnce: a queue declared through one node is
// there on every other node the moment declare-ok arrives, as RabbitMQ's
// cluster-wide transactions make it, so a publish through another node
// right after the declare is routed to it (not confirmed and dropped as
// unroutable).
func TestClusterDeclareVisibleAtOnce(t *testing.T) {
	c := startCluster(t, 3)
	ch := c.channel(t, 0)
	others := []*amqp.Channel{c.channel(t, 1), c.channel(t, 2)}
	const n = 50
	begin := time.Now()
	for i := range n {
		name := fmt.Sprint("vis.", i)
		if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
			t.Fatalf("declare %s: %v", name, err)
		}
		for j, o := range others {
			if _, err := o.QueueDeclarePassive(name, true, false, false, false, nil); err != nil {
				t.Fatalf("%s declared on node 1 is not on node %d at declare-ok: %v", name, j+2, err)
			}
		}
	}
	t.Logf("%d declares, each checked on two other nodes, in %v", n, time.Since(begin))
}

// TestClusterQuorumCritical: the management API's node-is-quorum-critical
// check passes while every member of a quorum queue runs, and names the
// queue with 503 once a member's node is down, since stopping this node
// too would lose the queue its quorum.
func TestClusterQuorumCritical(t *testing.T) {
	c := startCluster(t, 3)
	ch := c.channel(t, 0)
	if _, err := ch.QueueDeclare("qc", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	check := func() (int, map[string]any) {
		api := newAPI(t, "http://"+c.nodes[0].mgmt, "guest", "guest")
		status, _, body := api.do("GET", "/api/health/checks/node-is-quorum-critical", nil)
		var got map[string]any
		mustOK(t, json.Unmarshal(body, &got), "decode "+string(body))
		return status, got
	}
	if status, got := check(); status != 200 || got["status"] != "ok" {
		t.Fatalf("all nodes up: %d %v, want 200 status ok", status, got)
	}
	c.nodes[2].kill()
	var got map[string]any
	eventually(t, "node 1 is quorum critical once node 3 is down", func() bool {
		var status int
		status, got = check()
		return status == 503
	})
	queues, _ := got["queues"].([]any)
	if got["status"] != "failed" || len(queues) != 1 {
		t.Fatalf("critical: %v, want status failed and one queue", got)
	}
	q := queues[0].(map[string]any)
	if q["name"] != "qc" || q["virtual_host"] != "/" || q["readable_name"] != "queue 'qc' in vhost '/'" {
		t.Fatalf("critical queue %v, want qc in /", q)
	}
}
