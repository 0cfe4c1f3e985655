package e2e

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Helpers shared by the cluster's fault tests (partition_test.go,
// cluster_leader_test.go): reading a node's view of the definitions
// leader from its log, and AMQP calls that report rather than fail, for
// nodes that may be cut off or gone.

// leaderLine matches what a node logs when the definitions leader it sees
// changes (broker/cluster_leader.go): the leader's name, or none.
var leaderLine = regexp.MustCompile(`no definitions leader|definitions leader\s+\{"leader": "([^"]+)"`)

// leaderIn returns the definitions leader a node's log names last, or ""
// when it names none (yet).
func leaderIn(log string) string {
	m := leaderLine.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// agreedLeader polls the nodes' logs until every one names the same
// leader and returns its index among names.
func agreedLeader(t *testing.T, names []string, logs func(i int) string) int {
	t.Helper()
	leader := -1
	eventually(t, "every node names the same definitions leader", func() bool {
		first := leaderIn(logs(0))
		for i := range names {
			if l := leaderIn(logs(i)); l == "" || l != first {
				return false
			}
		}
		for i, n := range names {
			if n == first {
				leader = i
			}
		}
		return leader >= 0
	})
	return leader
}

// dialQuick connects to url, giving up after 3 s.
func dialQuick(url string) (*amqp.Connection, *amqp.Channel, error) {
	c, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(3 * time.Second)})
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.Channel()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, ch, nil
}

// declareAt declares the durable queue name on a connection of its own.
func declareAt(url, name string) error {
	c, ch, err := dialQuick(url)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = ch.QueueDeclare(name, true, false, false, false, nil)
	return err
}

// declareRetrying declares the durable queue name until it succeeds or
// within passes, on a new connection each time (a refusal closes it).
func declareRetrying(url, name string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := declareAt(url, name)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// existsOn reports whether the node at url has the queue, by a passive
// declare; an error other than 404 is returned.
func existsOn(url, name string) (bool, error) {
	c, ch, err := dialQuick(url)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_, err = ch.QueueDeclarePassive(name, false, false, false, false, nil)
	var ae *amqp.Error
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ae) && ae.Code == amqp.NotFound:
		return false, nil
	}
	return false, err
}

// converge polls every node until each has exactly the queues of want
// that are true and none of those that are false, failing t after within.
func converge(t *testing.T, urls []string, want map[string]bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		wrong := ""
		for i, url := range urls {
			for name, exists := range want {
				got, err := existsOn(url, name)
				if err != nil || got != exists {
					wrong = describeWrong(i, name, exists, got, err)
					break
				}
			}
			if wrong != "" {
				break
			}
		}
		if wrong == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("definitions not the same on every node within %v: %s", within, wrong)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func describeWrong(node int, name string, want, got bool, err error) string {
	switch {
	case err != nil:
		return fmt.Sprintf("node %d: passive declare of %s: %v", node, name, err)
	case want:
		return fmt.Sprintf("node %d lacks %s", node, name)
	}
	return fmt.Sprintf("node %d has %s, which should not exist", node, name)
}
