package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

func def(t *testing.T, js string) Definition {
	t.Helper()
	d, err := ParseDefinition([]byte(js))
	if err != nil {
		t.Fatalf("ParseDefinition(%s): %v", js, err)
	}
	return d
}

func TestParseDefinition(t *testing.T) {
	tests := []struct {
		in      string
		want    Definition
		wantErr string
	}{
		{in: `{"max-length":10,"message-ttl":1.5,"overflow":"drop-head"}`,
			want: Definition{"max-length": int64(10), "message-ttl": 1.5, "overflow": "drop-head"}},
		// RabbitMQ 3.x exports operator policies as [key, value] pairs.
		{in: `[["max-length",100000]]`, want: Definition{"max-length": int64(100000)}},
		{in: `[["max-length",1],["max-length",2]]`, wantErr: `[<<"max-length">>] duplicate keys not allowed`},
		{in: `"x"`, wantErr: `definition must be a dictionary: <<"x">>`},
		{in: `[1,2]`, wantErr: `definition must be a dictionary: [1,2]`},
		{in: `{`, wantErr: "Could not parse JSON document"},
		{in: `{} {}`, wantErr: "Could not parse JSON document"},
	}
	for _, tc := range tests {
		got, err := ParseDefinition([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseDefinition(%s) = %v, want error containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseDefinition(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestDefinitionJSONIsCanonical(t *testing.T) {
	a := def(t, `{"b":1,"a":"x","c":[1,{"z":true,"y":null}]}`)
	b := def(t, `{"c":[1,{"y":null,"z":true}],"a":"x","b":1}`)
	if string(a.JSON()) != string(b.JSON()) || string(a.JSON()) != `{"a":"x","b":1,"c":[1,{"y":null,"z":true}]}` {
		t.Fatalf("JSON: %s and %s", a.JSON(), b.JSON())
	}
}

// TestValidate holds RabbitMQ 4's texts for what rabbitmqctl set_policy
// and set_operator_policy refuse.
func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		p        Policy
		operator bool
		want     string // "" valid; else the reasons after "Validation failed\n\n"
	}{
		{name: "every key type", p: Policy{Pattern: ".*", Definition: Definition{
			"max-length": int64(1), "max-length-bytes": int64(0), "message-ttl": int64(0), "expires": int64(1),
			"overflow": "reject-publish-dlx", "dead-letter-exchange": "dlx", "dead-letter-routing-key": "k",
			"dead-letter-strategy": "at-least-once", "delivery-limit": int64(-1), "alternate-exchange": "ae",
			"queue-mode": "lazy", "queue-version": int64(2), "max-age": "7D", "consumer-timeout": int64(5)}}},
		{name: "bad max-length", p: Policy{Pattern: ".*", Definition: Definition{"max-length": "ten"}},
			want: `<<"ten">> is not a valid maximum length`},
		{name: "negative ttl", p: Policy{Pattern: ".*", Definition: Definition{"message-ttl": int64(-1)}},
			want: `-1 is not a valid message TTL`},
		{name: "float length", p: Policy{Pattern: ".*", Definition: Definition{"max-length": 1.0}},
			want: `1.0 is not a valid maximum length`},
		{name: "zero expires", p: Policy{Pattern: ".*", Definition: Definition{"expires": int64(0)}},
			want: `0 is not a valid queue expiry`},
		{name: "bad overflow", p: Policy{Pattern: ".*", Definition: Definition{"overflow": "drop-tail"}},
			want: `<<"drop-tail">> is not a valid overflow value`},
		{name: "unknown keys", p: Policy{Pattern: ".*", Definition: Definition{"foo": int64(1), "bar": "x", "max-length": int64(1)}},
			want: `[{<<"bar">>,<<"x">>},{<<"foo">>,1}] are not recognised policy settings`},
		{name: "empty", p: Policy{Pattern: ".*", Definition: Definition{}}, want: "no policy provided"},
		{name: "operator key refused", operator: true,
			p:    Policy{Pattern: ".*", Definition: Definition{"dead-letter-exchange": "x", "max-length": int64(5)}},
			want: `[{<<"dead-letter-exchange">>,<<"x">>}] are not recognised policy settings`},
		{name: "operator keys", operator: true, p: Policy{Pattern: ".*", Definition: Definition{
			"max-length": int64(5), "delivery-limit": int64(3), "overflow": "reject-publish", "expires": int64(9)}}},
		{name: "bad apply-to", p: Policy{Pattern: ".*", ApplyTo: "topics", Definition: Definition{"max-length": int64(1)}},
			want: "apply-to 'topics' unrecognised; should be one of: 'queues', 'classic_queues',  'quorum_queues', 'streams', 'exchanges', or 'all'"},
		{name: "bad pattern and definition", p: Policy{Pattern: "(", Definition: Definition{"max-length": int64(-2)}},
			want: "-2 is not a valid maximum length\npattern should be regular expression but is invalid"},
		{name: "ha mode all", p: Policy{Pattern: ".*", Definition: Definition{"ha-mode": "all", "ha-sync-mode": "automatic"}}},
		{name: "ha params without mode", p: Policy{Pattern: ".*", Definition: Definition{"ha-params": int64(2)}},
			want: "ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown"},
		{name: "ha exactly", p: Policy{Pattern: ".*", Definition: Definition{"ha-mode": "exactly", "ha-params": "two"}},
			want: `ha-mode="exactly" takes an integer, <<"two">> given`},
		{name: "ha bad mode", p: Policy{Pattern: ".*", Definition: Definition{"ha-mode": "most"}},
			want: `<<"most">> is not a valid ha-mode value`},
		{name: "max-age", p: Policy{Pattern: ".*", Definition: Definition{"max-age": "7 days"}},
			want: `<<"7 days">> is not a valid max age`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate(tc.operator)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a ValidationError", err)
			}
			if got := strings.TrimPrefix(err.Error(), "Validation failed\n\n"); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("Validate:\n%s\nwant the reasons to begin with\n%s", got, tc.want)
			}
		})
	}
}

func pol(name, pattern, applyTo string, prio int64, d Definition) Policy {
	return Policy{Name: name, Pattern: pattern, ApplyTo: applyTo, Priority: prio, Definition: d}
}

func classicQ(name string) Target { return Target{Name: name, QueueType: queue.TypeClassic} }
func quorumQ(name string) Target  { return Target{Name: name, QueueType: queue.TypeQuorum} }

// TestEffective is the effective-policy computation: priority, ties,
// apply-to, keys a queue type does not support, and the operator merge.
func TestEffective(t *testing.T) {
	ml := func(n int64) Definition { return Definition{"max-length": n} }
	tests := []struct {
		name       string
		user, op   []Policy
		target     Target
		wantPolicy string
		wantOp     string
		want       Definition
	}{
		{name: "no match", user: []Policy{pol("p", "^a", "all", 0, ml(1))}, target: classicQ("b")},
		{name: "anywhere in the name", user: []Policy{pol("p", "b", "all", 0, ml(1))}, target: classicQ("abc"),
			wantPolicy: "p", want: ml(1)},
		{name: "highest priority", user: []Policy{pol("low", ".*", "all", 1, ml(1)), pol("high", ".*", "all", 5, ml(5))},
			target: classicQ("q"), wantPolicy: "high", want: ml(5)},
		{name: "negative priority loses", user: []Policy{pol("a", ".*", "all", -1, ml(1)), pol("b", ".*", "all", 0, ml(2))},
			target: classicQ("q"), wantPolicy: "b", want: ml(2)},
		{name: "tie: first name", user: []Policy{pol("zz", ".*", "all", 1, ml(1)), pol("aa", ".*", "all", 1, ml(2))},
			target: classicQ("q"), wantPolicy: "aa", want: ml(2)},
		{name: "exchanges only", user: []Policy{pol("x", ".*", "exchanges", 9, Definition{"alternate-exchange": "ae"}), pol("q", ".*", "queues", 0, ml(1))},
			target: classicQ("q"), wantPolicy: "q", want: ml(1)},
		{name: "exchange", user: []Policy{pol("x", ".*", "exchanges", 0, Definition{"alternate-exchange": "ae"}), pol("q", ".*", "queues", 9, ml(1))},
			target: Target{Name: "x", Exchange: true}, wantPolicy: "x", want: Definition{"alternate-exchange": "ae"}},
		{name: "quorum_queues skips classic", user: []Policy{pol("qq", ".*", "quorum_queues", 9, ml(1)), pol("all", ".*", "all", 0, ml(2))},
			target: classicQ("q"), wantPolicy: "all", want: ml(2)},
		{name: "quorum_queues", user: []Policy{pol("qq", ".*", "quorum_queues", 9, ml(1))},
			target: quorumQ("q"), wantPolicy: "qq", want: ml(1)},
		{name: "classic_queues", user: []Policy{pol("cq", ".*", "classic_queues", 0, ml(1))},
			target: classicQ("q"), wantPolicy: "cq", want: ml(1)},
		{name: "streams match no classic queue", user: []Policy{pol("s", ".*", "streams", 0, Definition{"max-age": "1D"})},
			target: classicQ("q")},
		{name: "delivery-limit keeps a policy off classic queues",
			user:   []Policy{pol("dl", ".*", "all", 9, Definition{"delivery-limit": int64(3), "max-length": int64(1)}), pol("p", ".*", "all", 0, ml(7))},
			target: classicQ("q"), wantPolicy: "p", want: ml(7)},
		{name: "ha-mode keeps a policy off quorum queues",
			user:   []Policy{pol("ha", ".*", "all", 9, Definition{"ha-mode": "all", "max-length": int64(1)})},
			target: quorumQ("q")},
		{name: "operator caps user", user: []Policy{pol("p", ".*", "all", 0, Definition{"max-length": int64(100), "message-ttl": int64(5)})},
			op:     []Policy{pol("op", ".*", "all", 0, Definition{"max-length": int64(10), "message-ttl": int64(50)})},
			target: classicQ("q"), wantPolicy: "p", wantOp: "op", want: Definition{"max-length": int64(10), "message-ttl": int64(5)}},
		{name: "operator alone", op: []Policy{pol("op", ".*", "queues", 0, ml(3))},
			target: classicQ("q"), wantOp: "op", want: ml(3)},
		{name: "operator overflow wins", user: []Policy{pol("p", ".*", "all", 0, Definition{"overflow": "drop-head"})},
			op:     []Policy{pol("op", ".*", "all", 0, Definition{"overflow": "reject-publish"})},
			target: classicQ("q"), wantPolicy: "p", wantOp: "op", want: Definition{"overflow": "reject-publish"}},
		{name: "delivery-limit unlimited vs limit", user: []Policy{pol("p", ".*", "all", 0, Definition{"delivery-limit": int64(-1)})},
			op:     []Policy{pol("op", ".*", "all", 0, Definition{"delivery-limit": int64(5)})},
			target: quorumQ("q"), wantPolicy: "p", wantOp: "op", want: Definition{"delivery-limit": int64(5)}},
		{name: "delivery-limit lower", user: []Policy{pol("p", ".*", "all", 0, Definition{"delivery-limit": int64(3)})},
			op:     []Policy{pol("op", ".*", "all", 0, Definition{"delivery-limit": int64(5)})},
			target: quorumQ("q"), wantPolicy: "p", wantOp: "op", want: Definition{"delivery-limit": int64(3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewSet(tc.user, tc.op).For(tc.target)
			if e.Policy != tc.wantPolicy || e.Operator != tc.wantOp || !reflect.DeepEqual(e.Definition, tc.want) {
				t.Fatalf("For = %+v, want policy %q, operator %q, %v", e, tc.wantPolicy, tc.wantOp, tc.want)
			}
		})
	}
}

// TestQueueArgs is the precedence of a queue's own arguments over or
// under the policy, per key and queue type.
func TestQueueArgs(t *testing.T) {
	classic := func(tbl protocol.Table) queue.Args {
		a, err := queue.ParseArgs(tbl, "q", "/")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	quorum := func(tbl protocol.Table) queue.Args {
		if tbl == nil {
			tbl = protocol.Table{}
		}
		tbl["x-queue-type"] = "quorum"
		return classic(tbl)
	}
	tests := []struct {
		name  string
		args  queue.Args
		d     Definition
		check func(a queue.Args) bool
	}{
		{"max-length from policy", classic(nil), Definition{"max-length": int64(5)},
			func(a queue.Args) bool { return a.HasMaxLength && a.MaxLength == 5 }},
		{"max-length lower argument", classic(protocol.Table{"x-max-length": int32(3)}), Definition{"max-length": int64(5)},
			func(a queue.Args) bool { return a.MaxLength == 3 }},
		{"max-length lower policy", classic(protocol.Table{"x-max-length": int32(30)}), Definition{"max-length": int64(5)},
			func(a queue.Args) bool { return a.MaxLength == 5 }},
		{"max-length-bytes lower", quorum(protocol.Table{"x-max-length-bytes": int32(30)}), Definition{"max-length-bytes": int64(50)},
			func(a queue.Args) bool { return a.HasMaxLengthBytes && a.MaxLengthBytes == 30 }},
		{"message-ttl lower", classic(protocol.Table{"x-message-ttl": int32(1000)}), Definition{"message-ttl": int64(10)},
			func(a queue.Args) bool { return a.HasMessageTTL && a.MessageTTL == 10*time.Millisecond }},
		{"message-ttl zero from policy", classic(nil), Definition{"message-ttl": int64(0)},
			func(a queue.Args) bool { return a.HasMessageTTL && a.MessageTTL == 0 }},
		{"expires lower", quorum(protocol.Table{"x-expires": int32(100)}), Definition{"expires": int64(5000)},
			func(a queue.Args) bool { return a.Expires == 100*time.Millisecond }},
		{"consumer-timeout from policy", classic(nil), Definition{"consumer-timeout": int64(500)},
			func(a queue.Args) bool { return a.HasConsumerTimeout && a.ConsumerTimeout == 500*time.Millisecond }},
		{"consumer-timeout lower argument", quorum(protocol.Table{"x-consumer-timeout": int32(300)}), Definition{"consumer-timeout": int64(500)},
			func(a queue.Args) bool { return a.ConsumerTimeout == 300*time.Millisecond }},
		{"consumer-timeout lower policy", classic(protocol.Table{"x-consumer-timeout": int32(3000)}), Definition{"consumer-timeout": int64(500)},
			func(a queue.Args) bool { return a.ConsumerTimeout == 500*time.Millisecond }},
		{"classic overflow: argument wins", classic(protocol.Table{"x-overflow": "drop-head"}), Definition{"overflow": "reject-publish"},
			func(a queue.Args) bool { return a.Overflow == queue.DropHead }},
		{"classic overflow from policy", classic(nil), Definition{"overflow": "reject-publish"},
			func(a queue.Args) bool { return a.Overflow == queue.RejectPublish && a.HasOverflow }},
		{"quorum overflow: policy wins", quorum(protocol.Table{"x-overflow": "drop-head"}), Definition{"overflow": "reject-publish"},
			func(a queue.Args) bool { return a.Overflow == queue.RejectPublish }},
		{"dlx: argument wins", classic(protocol.Table{"x-dead-letter-exchange": "mine"}), Definition{"dead-letter-exchange": "theirs"},
			func(a queue.Args) bool { return a.DeadLetterExchange == "mine" }},
		{"dlx from policy", quorum(nil), Definition{"dead-letter-exchange": "theirs", "dead-letter-routing-key": "k"},
			func(a queue.Args) bool {
				return a.HasDeadLetterExchange && a.DeadLetterExchange == "theirs" && a.DeadLetterRoutingKey == "k"
			}},
		{"dlrk: argument wins", classic(protocol.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "a"}),
			Definition{"dead-letter-routing-key": "b"}, func(a queue.Args) bool { return a.DeadLetterRoutingKey == "a" }},
		{"dead-letter-strategy: argument wins", quorum(protocol.Table{"x-dead-letter-strategy": "at-most-once"}),
			Definition{"dead-letter-strategy": "at-least-once"}, func(a queue.Args) bool { return a.DeadLetterStrategy == "at-most-once" }},
		{"dead-letter-strategy from policy", quorum(nil), Definition{"dead-letter-strategy": "at-least-once"},
			func(a queue.Args) bool { return a.DeadLetterStrategy == "at-least-once" }},
		{"delivery-limit lower", quorum(protocol.Table{"x-delivery-limit": int32(10)}), Definition{"delivery-limit": int64(4)},
			func(a queue.Args) bool { return a.HasDeliveryLimit && a.DeliveryLimit == 4 }},
		{"delivery-limit: negative takes the higher", quorum(protocol.Table{"x-delivery-limit": int32(-1)}), Definition{"delivery-limit": int64(4)},
			func(a queue.Args) bool { return a.DeliveryLimit == 4 }},
		{"delivery-limit not for classic", classic(nil), Definition{"delivery-limit": int64(4)},
			func(a queue.Args) bool { return !a.HasDeliveryLimit }},
		{"wrong type ignored", classic(nil), Definition{"max-length": "5"},
			func(a queue.Args) bool { return !a.HasMaxLength }},
	}
	for _, tc := range tests {
		if got := QueueArgs(tc.args, tc.d); !tc.check(got) {
			t.Errorf("%s: QueueArgs = %+v", tc.name, got)
		}
	}
}

func TestAlternateExchange(t *testing.T) {
	d := Definition{"alternate-exchange": "pol"}
	if got := AlternateExchange("arg", true, d); got != "arg" {
		t.Errorf("argument: %q", got)
	}
	if got := AlternateExchange("", false, d); got != "pol" {
		t.Errorf("policy: %q", got)
	}
	if got := AlternateExchange("", false, nil); got != "" {
		t.Errorf("none: %q", got)
	}
}
