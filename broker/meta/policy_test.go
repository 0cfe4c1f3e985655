package meta

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/exchange"
)

func maxLen(name, pattern string, prio, n int64) policy.Policy {
	return policy.Policy{Name: name, Pattern: pattern, ApplyTo: "queues", Priority: prio,
		Definition: policy.Definition{"max-length": n}}
}

// policyEffects renders the policy effects of a command as
// "queue q1 p/op {json}".
func policyEffects(es []Effect) []string {
	var out []string
	for _, e := range es {
		switch e.Kind {
		case QueuePolicyChanged:
			out = append(out, fmt.Sprintf("queue %s %s/%s %s", e.Queue.Name, e.Policy.Policy, e.Policy.Operator, e.Policy.Definition.JSON()))
		case ExchangePolicyChanged:
			out = append(out, fmt.Sprintf("exchange %s %s/%s %s", e.Exchange.Name, e.Policy.Policy, e.Policy.Operator, e.Policy.Definition.JSON()))
		}
	}
	return out
}

func policyState(t *testing.T) *State {
	t.Helper()
	s := NewState()
	qq := qdef("qq", 3)
	qq.Type = "quorum"
	applyAll(s, []Command{
		AddVhost{Name: "/"},
		AddVhost{Name: "other"},
		DeclareQueue{Vhost: "/", Queue: qdef("q1", 1)},
		DeclareQueue{Vhost: "/", Queue: qdef("other-q", 2)},
		DeclareQueue{Vhost: "/", Queue: qq},
		DeclareQueue{Vhost: "other", Queue: qdef("q1", 4)},
		DeclareExchange{Vhost: "/", Exchange: xdef("qx", exchange.Fanout)},
	})
	return s
}

// TestPolicyApply: setting, changing and clearing policies and operator
// policies tells exactly the queues and exchanges whose effective policy
// changed, and a queue declared later starts with its policy.
func TestPolicyApply(t *testing.T) {
	s := policyState(t)
	steps := []struct {
		name string
		cmd  Command
		want []string
		err  string
	}{
		{"set", SetPolicy{Vhost: "/", Policy: maxLen("cap", "^q", 0, 10)},
			[]string{`queue q1 cap/ {"max-length":10}`, `queue qq cap/ {"max-length":10}`}, ""},
		{"same again", SetPolicy{Vhost: "/", Policy: maxLen("cap", "^q", 0, 10)}, nil, ""},
		{"change", SetPolicy{Vhost: "/", Policy: maxLen("cap", "^q", 0, 20)},
			[]string{`queue q1 cap/ {"max-length":20}`, `queue qq cap/ {"max-length":20}`}, ""},
		{"lower priority changes nothing", SetPolicy{Vhost: "/", Policy: maxLen("low", ".*", -1, 1)},
			[]string{`queue other-q low/ {"max-length":1}`}, ""},
		{"operator caps", SetPolicy{Vhost: "/", Operator: true, Policy: maxLen("op", "^q1$", 0, 5)},
			[]string{`queue q1 cap/op {"max-length":5}`}, ""},
		{"exchange policy", SetPolicy{Vhost: "/", Policy: policy.Policy{Name: "ae", Pattern: "x$", ApplyTo: "exchanges",
			Definition: policy.Definition{"alternate-exchange": "amq.fanout"}}},
			[]string{`exchange qx ae/ {"alternate-exchange":"amq.fanout"}`}, ""},
		{"clear", ClearPolicy{Vhost: "/", Name: "cap"},
			[]string{`queue q1 low/op {"max-length":1}`, `queue qq low/ {"max-length":1}`}, ""},
		{"clear missing", ClearPolicy{Vhost: "/", Name: "cap"}, nil, "NOT_FOUND - Parameter does not exist"},
		{"clear operator as user", ClearPolicy{Vhost: "/", Name: "op"}, nil, "NOT_FOUND - Parameter does not exist"},
		{"missing vhost", SetPolicy{Vhost: "nope", Policy: maxLen("cap", ".*", 0, 1)}, nil, "NOT_FOUND - no vhost 'nope'"},
	}
	for _, st := range steps {
		r, es := s.Apply(s.Applied()+1, st.cmd)
		if st.err != "" {
			if r.Err == nil || r.Err.Error() != st.err || len(es) != 0 {
				t.Fatalf("%s: %v, %v; want %s", st.name, r.Err, es, st.err)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("%s: %v", st.name, r.Err)
		}
		if got := policyEffects(es); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s: effects\n%q\nwant\n%q", st.name, got, st.want)
		}
	}
	_, es := applyAll(s, []Command{DeclareQueue{Vhost: "/", Queue: qdef("q1b", 9)}})
	if len(es[0]) != 1 || es[0][0].Kind != QueueStarted || es[0][0].Policy.Policy != "low" ||
		es[0][0].Policy.Definition["max-length"] != int64(1) {
		t.Fatalf("declare effects: %+v", es[0])
	}
	if got := s.Policies("/", false); len(got) != 2 || got[0].Name != "ae" || got[1].Name != "low" {
		t.Fatalf("Policies: %+v", got)
	}
	if got := s.Policies("", true); len(got) != 1 || got[0].Name != "op" || got[0].Definition["max-length"] != int64(5) {
		t.Fatalf("operator policies: %+v", got)
	}
}

// TestPolicyParameters: policies are the runtime parameters RabbitMQ
// keeps them as, so a SetParameter of component "policy" committed before
// policies were applied acts as one; one RabbitMQ would not have taken is
// kept and applies to nothing.
func TestPolicyParameters(t *testing.T) {
	s := policyState(t)
	v := []byte(`{"apply-to":"queues","definition":{"message-ttl":100},"pattern":"^other","priority":1}`)
	_, es := applyAll(s, []Command{SetParameter{Vhost: "/", Component: "policy", Name: "old", Value: v}})
	if got := policyEffects(es[0]); !reflect.DeepEqual(got, []string{`queue other-q old/ {"message-ttl":100}`}) {
		t.Fatalf("effects %q", got)
	}
	_, es = applyAll(s, []Command{SetParameter{Vhost: "/", Component: "policy", Name: "junk", Value: []byte(`"x"`)}})
	if len(es[0]) != 0 || len(s.Policies("/", false)) != 1 || len(s.Parameters()) != 2 {
		t.Fatalf("junk: %+v %+v", es, s.Parameters())
	}
}

// TestPolicySnapshot: policies survive a snapshot and keep applying; the
// diff to a state whose policies changed tells the queues and exchanges
// concerned, and a queue added carries its policy.
func TestPolicySnapshot(t *testing.T) {
	s := policyState(t)
	applyAll(s, []Command{
		SetPolicy{Vhost: "/", Policy: maxLen("cap", "^q", 0, 10)},
		SetPolicy{Vhost: "/", Operator: true, Policy: maxLen("op", ".*", 0, 3)},
	})
	r, err := Restore(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	q1 := qdef("q1", 1)
	if got, want := r.QueuePolicy("/", &q1), s.QueuePolicy("/", &q1); !reflect.DeepEqual(got, want) || got.Definition["max-length"] != int64(3) {
		t.Fatalf("restored policy %+v, want %+v", got, want)
	}
	if d := Diff(s, r); d != nil {
		t.Fatalf("diff of a restored state: %+v", d)
	}
	to, _ := Restore(s.Snapshot())
	applyAll(to, []Command{ClearPolicy{Vhost: "/", Name: "op", Operator: true}, DeclareQueue{Vhost: "/", Queue: qdef("q9", 9)}})
	var got []string
	for _, e := range Diff(s, to) {
		switch e.Kind {
		case QueueStarted:
			got = append(got, fmt.Sprintf("start %s %s", e.Queue.Name, e.Policy.Definition.JSON()))
		case QueuePolicyChanged, ExchangePolicyChanged:
			got = append(got, policyEffects([]Effect{e})...)
		}
	}
	want := []string{`start q9 {"max-length":10}`, `queue other-q / {}`, `queue q1 cap/ {"max-length":10}`,
		`queue qq cap/ {"max-length":10}`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diff\n%q\nwant\n%q", got, want)
	}
}

// TestDeleteVhostDropsPolicies: a vhost deleted and added again has no
// policies.
func TestDeleteVhostDropsPolicies(t *testing.T) {
	s := policyState(t)
	applyAll(s, []Command{SetPolicy{Vhost: "other", Policy: maxLen("cap", ".*", 0, 1)}, DeleteVhost{Name: "other"},
		AddVhost{Name: "other"}})
	q := qdef("q1", 5)
	_, es := applyAll(s, []Command{DeclareQueue{Vhost: "other", Queue: q}})
	if !es[0][0].Policy.None() || len(s.Policies("other", false)) != 0 {
		t.Fatalf("policy after the vhost was deleted: %+v", es[0][0].Policy)
	}
}
