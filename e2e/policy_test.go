//go:build !e2e_nowarren

package e2e

import (
	"context"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/policy"
)

// policyBroker starts a Warren of its own and returns a channel on it
// and the server, whose policies the tests set as rabbitmqctl set_policy
// would.
func policyBroker(t *testing.T) (*channel, *broker.Server) {
	t.Helper()
	var srv *broker.Server
	url := ownBroker(t, warrenOptions{Started: func(s any) { srv = s.(*broker.Server) }})
	c := dialURL(t, url, amqp.Config{})
	return c.channel(t), srv
}

func setPolicy(t *testing.T, srv *broker.Server, operator bool, name, pattern, applyTo string, prio int64, d policy.Definition) {
	t.Helper()
	p := policy.Policy{Name: name, Pattern: pattern, ApplyTo: applyTo, Priority: prio, Definition: d}
	set := srv.SetPolicy
	if operator {
		set = srv.SetOperatorPolicy
	}
	mustOK(t, set(context.Background(), "/", p), "set policy "+name)
}

// publishN publishes n messages to q through the default exchange, on a
// channel of ch's connection in confirm mode, so that the queue holds
// them when it returns.
func publishN(t *testing.T, ch *channel, q string, n int, prefix string) {
	t.Helper()
	pc := ch.conn.channel(t)
	defer pc.Close()
	mustOK(t, pc.Confirm(false), "confirm.select")
	confirms := pc.NotifyPublish(make(chan amqp.Confirmation, n))
	for i := range n {
		publish(t, pc, "", q, text(prefix+string(rune('a'+i))))
	}
	waitConfirms(t, confirms, n)
}

// TestPolicyOnExistingQueue: a policy set on queues that exist applies at
// once, on a classic and on a quorum queue alike: max-length drops the
// head, dead-lettered to the policy's dead-letter exchange; a changed
// policy's new value applies; a message TTL expires what is published
// after it; clearing the policy lifts the limit.
func TestPolicyOnExistingQueue(t *testing.T) {
	for _, typ := range []string{"classic", "quorum"} {
		t.Run(typ, func(t *testing.T) {
			ch, srv := policyBroker(t)
			q, dead := "pol."+typ, "pol.dead"
			_, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": typ})
			mustOK(t, err, "declare "+q)
			declareQueue(t, ch, dead, nil)
			declareExchange(t, ch, "pol.dlx", "fanout", nil)
			mustOK(t, ch.QueueBind(dead, "", "pol.dlx", false, nil), "bind")
			publishN(t, ch, q, 5, "m")

			setPolicy(t, srv, false, "cap", "^pol\\.(classic|quorum)$", "queues", 0,
				policy.Definition{"max-length": int64(2), "dead-letter-exchange": "pol.dlx"})
			waitMessages(t, ch, q, 2)
			got := getN(t, ch, dead, 3, true)
			equalStrings(t, "dead-lettered", bodies(got), []string{"ma", "mb", "mc"})
			if r := got[0].Headers["x-first-death-reason"]; r != "maxlen" {
				t.Fatalf("x-first-death-reason %v, want maxlen", r)
			}

			setPolicy(t, srv, false, "cap", "^pol\\.(classic|quorum)$", "queues", 0,
				policy.Definition{"max-length": int64(4), "dead-letter-exchange": "pol.dlx"})
			publishN(t, ch, q, 5, "n")
			waitMessages(t, ch, q, 4)
			waitMessages(t, ch, dead, 3)

			_, err = ch.QueuePurge(q, false)
			mustOK(t, err, "purge")
			getN(t, ch, dead, 3, true)
			setPolicy(t, srv, false, "cap", "^pol\\.(classic|quorum)$", "queues", 0,
				policy.Definition{"message-ttl": int64(30), "dead-letter-exchange": "pol.dlx"})
			publishN(t, ch, q, 2, "t")
			waitMessages(t, ch, q, 0)
			got = getN(t, ch, dead, 2, true)
			if r := got[0].Headers["x-first-death-reason"]; r != "expired" {
				t.Fatalf("x-first-death-reason %v, want expired", r)
			}

			mustOK(t, srv.ClearPolicy(context.Background(), "/", "cap"), "clear policy")
			publishN(t, ch, q, 6, "u")
			waitMessages(t, ch, q, 6)
			waitMessages(t, ch, dead, 0)
		})
	}
}

// TestOperatorPolicyCaps: an operator policy's max-length caps both a
// user policy's higher one and the queue's own x-max-length; a queue
// declared after the policies starts under them.
func TestOperatorPolicyCaps(t *testing.T) {
	ch, srv := policyBroker(t)
	setPolicy(t, srv, false, "user", "^capped", "all", 0, policy.Definition{"max-length": int64(8)})
	setPolicy(t, srv, true, "op", ".*", "queues", 0, policy.Definition{"max-length": int64(3)})
	for _, typ := range []string{"classic", "quorum"} {
		q := "capped." + typ
		_, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": typ, "x-max-length": int32(10)})
		mustOK(t, err, "declare "+q)
		publishN(t, ch, q, 6, "m")
		waitMessages(t, ch, q, 3)
		equalStrings(t, q, bodies(getN(t, ch, q, 3, true)), []string{"md", "me", "mf"})
	}
	mustOK(t, srv.ClearOperatorPolicy(context.Background(), "/", "op"), "clear operator policy")
	publishN(t, ch, "capped.classic", 9, "n")
	waitMessages(t, ch, "capped.classic", 8)
}

// TestConsumerTimeoutPolicy: a policy's consumer-timeout holds a
// consumer that starts under it, as RabbitMQ 4's does: the channel that
// keeps a delivery past it is closed with 406 and the message returns.
func TestConsumerTimeoutPolicy(t *testing.T) {
	ch, srv := policyBroker(t)
	q := "timed.by.policy"
	declareQueue(t, ch, q, nil)
	setPolicy(t, srv, false, "ct", "^timed\\.", "queues", 0, policy.Definition{"consumer-timeout": int64(500)})
	expectConsumerTimeout(t, ch, ch.conn.channel(t), q, 500)
}

// TestAlternateExchangePolicy: an exchange's alternate exchange can come
// from a policy, and its own alternate-exchange argument wins over it.
func TestAlternateExchangePolicy(t *testing.T) {
	ch, srv := policyBroker(t)
	declareExchange(t, ch, "ae.x", "direct", nil)
	declareExchange(t, ch, "ae.own", "direct", amqp.Table{"alternate-exchange": "ae.other"})
	declareExchange(t, ch, "ae.fallback", "fanout", nil)
	declareExchange(t, ch, "ae.other", "fanout", nil)
	declareQueue(t, ch, "ae.unrouted", nil)
	declareQueue(t, ch, "ae.other.q", nil)
	mustOK(t, ch.QueueBind("ae.unrouted", "", "ae.fallback", false, nil), "bind")
	mustOK(t, ch.QueueBind("ae.other.q", "", "ae.other", false, nil), "bind")
	setPolicy(t, srv, false, "ae", "^ae\\.(x|own)$", "exchanges", 0, policy.Definition{"alternate-exchange": "ae.fallback"})
	publish(t, ch, "ae.x", "nowhere", text("lost?"))
	publish(t, ch, "ae.own", "nowhere", text("mine"))
	equalStrings(t, "via the policy", bodies(getN(t, ch, "ae.unrouted", 1, true)), []string{"lost?"})
	equalStrings(t, "via the argument", bodies(getN(t, ch, "ae.other.q", 1, true)), []string{"mine"})
	mustOK(t, srv.ClearPolicy(context.Background(), "/", "ae"), "clear")
	publish(t, ch, "ae.x", "nowhere", text("dropped"))
	publish(t, ch, "ae.own", "nowhere", text("still mine"))
	equalStrings(t, "argument after clear", bodies(getN(t, ch, "ae.other.q", 1, true)), []string{"still mine"})
	waitMessages(t, ch, "ae.unrouted", 0)
}

// TestBadPolicy: a policy RabbitMQ refuses is refused with its text, and
// sets nothing.
func TestBadPolicy(t *testing.T) {
	_, srv := policyBroker(t)
	ctx := context.Background()
	tests := []struct {
		operator bool
		p        policy.Policy
		want     string
	}{
		{false, policy.Policy{Name: "p", Pattern: ".*", Definition: policy.Definition{"max-length": "ten"}},
			"Validation failed\n\n<<\"ten\">> is not a valid maximum length"},
		{false, policy.Policy{Name: "p", Pattern: ".*", Definition: policy.Definition{"max-lenght": int64(1)}},
			"Validation failed\n\n[{<<\"max-lenght\">>,1}] are not recognised policy settings"},
		{true, policy.Policy{Name: "p", Pattern: ".*", Definition: policy.Definition{"dead-letter-exchange": "x"}},
			"Validation failed\n\n[{<<\"dead-letter-exchange\">>,<<\"x\">>}] are not recognised policy settings"},
	}
	for _, tc := range tests {
		set := srv.SetPolicy
		if tc.operator {
			set = srv.SetOperatorPolicy
		}
		if err := set(ctx, "/", tc.p); err == nil || err.Error() != tc.want {
			t.Errorf("set %+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	if len(srv.Policies("")) != 0 || len(srv.OperatorPolicies("")) != 0 {
		t.Fatal("a refused policy was set")
	}
	err := srv.ClearPolicy(ctx, "/", "nope")
	if err == nil || !strings.Contains(err.Error(), "Parameter does not exist") {
		t.Fatalf("clear of a missing policy: %v", err)
	}
}
