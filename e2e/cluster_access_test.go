package e2e

import (
	"os"
	"path/filepath"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file checks on three nodes what access control promises across a
// cluster: limits counted over every node.

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
