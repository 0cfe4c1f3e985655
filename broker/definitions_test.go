package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// rabbit310 is a definitions file exported by RabbitMQ 3.10.8 (see
// testdata): users with SHA-256 hashes, vhost metadata and limits,
// permissions, topic permissions, policies, an operator policy, a global
// parameter, queues of both types, exchanges and bindings.
func rabbit310(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "rabbitmq-3.10-definitions.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportRabbitMQ310: the 3.10 export imports; its users log in with
// their passwords (and the one without a password with none), and its
// permissions, limits, metadata, queues and bindings are there.
func TestImportRabbitMQ310(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if err := s.ImportDefinitions(ctx, rabbit310(t)); err != nil {
		t.Fatal(err)
	}
	logins := map[string]string{"guest": "guest", "alice": "alice-s3cret", "bob": "b0b-pass",
		"carol": "c@rol pass with spaces", "monitor": "mon-pw"}
	for user, pass := range logins {
		if why := s.authenticate(user, pass); why != "" {
			t.Errorf("%s: %s", user, why)
		}
		if why := s.authenticate(user, pass+"x"); why != "user '"+user+"' - invalid credentials" {
			t.Errorf("%s with a wrong password: %q", user, why)
		}
	}
	if why := s.authenticate("certonly", "tmp"); why == "" || !s.userExists("certonly") {
		t.Errorf("the user without a password logged in (%q) or is missing", why)
	}
	bob := s.access.load().user("bob")
	if !bob.hasTag("policymaker") || bob.def.Limits["max-channels"] != 50 {
		t.Errorf("bob: %+v", bob.def)
	}
	for _, c := range []struct {
		perm permKind
		name string
		want bool
	}{
		{permConfigure, "bob-q", true}, {permConfigure, "orders", false},
		{permWrite, "amq.default", true}, {permWrite, "amq.default2", false},
		{permRead, "orders", true},
	} {
		if got := bob.allows("orders", c.perm, c.name); got != c.want {
			t.Errorf("bob %s %q: %v, want %v", c.perm, c.name, got, c.want)
		}
	}
	if !bob.allowsTopic("orders", "amq.topic", permWrite, "bob.bob.x") || bob.allowsTopic("orders", "amq.topic", permWrite, "bob.eve.x") {
		t.Error("bob's topic write permission with {username}")
	}
	if l := s.vhost("staging").limits(); l["max-connections"] != 10 || l["max-queues"] != 20 {
		t.Errorf("staging's limits: %v", l)
	}
	if m := s.vhost("orders").meta.Load(); m == nil || m.Description != "Order processing" || m.DefaultQueueType != "quorum" {
		t.Errorf("orders' metadata: %+v", m)
	}
	orders := s.vhost("orders")
	for _, q := range []string{"orders", "bob-work", "orders.dead"} {
		if orders.queues[q] == nil {
			t.Errorf("queue %s not imported", q)
		}
	}
	if orders.queues["bob-work"].def.Type != "quorum" || len(s.fsm.state.Bindings("orders")) != 3 {
		t.Error("bob-work's type or the bindings")
	}
	// Importing again changes nothing and fails nothing.
	before, _ := s.ExportDefinitions()
	if err := s.ImportDefinitions(ctx, rabbit310(t)); err != nil {
		t.Fatal(err)
	}
	after, _ := s.ExportDefinitions()
	if !bytes.Equal(before, after) {
		t.Error("a second import changed the definitions")
	}
}

// TestExportRoundTrip: an export imported into a new node exports the
// same document, and keeps everything the 3.10 file had: its policy and
// operator policy (real ones on both nodes, applied to the queues they
// match), global parameters.
func TestExportRoundTrip(t *testing.T) {
	a := startServer(t)
	ctx := context.Background()
	if err := a.ImportDefinitions(ctx, rabbit310(t)); err != nil {
		t.Fatal(err)
	}
	exported, err := a.ExportDefinitions()
	if err != nil {
		t.Fatal(err)
	}
	b := startServer(t, func(c *Config) { c.DefaultUser, c.DefaultPass = "other", "pw" })
	if err := b.ImportDefinitions(ctx, exported); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteUser(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	again, _ := b.ExportDefinitions()
	if !bytes.Equal(exported, again) {
		t.Fatalf("round trip differs:\n%s\n---\n%s", exported, again)
	}
	for _, srv := range []*Server{a, b} {
		ps, ops := srv.Policies("orders"), srv.OperatorPolicies("")
		if len(ps) != 1 || ps[0].Name != "ttl-policy" || ps[0].ApplyTo != "queues" || ps[0].Definition["message-ttl"] != int64(60000) {
			t.Errorf("policies: %+v", ps)
		}
		if len(ops) != 1 || ops[0].Name != "op-cap" || ops[0].Vhost != "orders" || ops[0].Definition["max-length"] != int64(100000) {
			t.Errorf("operator policies: %+v", ops)
		}
		if e, ok := srv.QueuePolicy("orders", "orders"); !ok || e.Policy != "" || e.Operator != "op-cap" {
			t.Errorf("policy of queue orders: %+v %v", e, ok)
		}
	}
	d, _ := ParseDefinitions(exported)
	if len(d.Policies) != 1 || d.Policies[0].Name != "ttl-policy" || d.Policies[0].Priority != 1 {
		t.Errorf("policies: %+v", d.Policies)
	}
	var op, limits bool
	for _, p := range d.Parameters {
		op = op || (p.Component == "operator_policy" && strings.Contains(string(p.Value), "100000"))
		limits = limits || (p.Component == "vhost-limits" && p.Vhost == "staging")
	}
	var global bytes.Buffer
	if len(d.GlobalParameters) == 1 {
		json.Compact(&global, d.GlobalParameters[0].Value)
	}
	if !op || !limits || global.String() != `[["region","eu"]]` {
		t.Errorf("parameters %+v, global %+v", d.Parameters, d.GlobalParameters)
	}
	var raw map[string]any
	if err := json.Unmarshal(exported, &raw); err != nil {
		t.Fatal(err)
	}
	users := raw["users"].([]any)
	if u := users[0].(map[string]any); u["hashing_algorithm"] != "rabbit_password_hashing_sha256" {
		t.Errorf("exported user %v", u)
	}
}

// TestImportRefusesBadValues: a document with a bad value is an error
// naming it, and the node goes on.
func TestImportRefusesBadValues(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"not json":        {`{"users": [`, "unexpected end"},
		"tags of numbers": {`{"users":[{"name":"u","tags":[1]}]}`, "tags must be"},
		"bad base64":      {`{"users":[{"name":"u","password_hash":"!!","tags":[]}]}`, "not base64"},
		"short hash":      {`{"users":[{"name":"u","password_hash":"AAAA","tags":[]}]}`, "not a salt and a"},
		"unknown hashing": {`{"users":[{"name":"u","password_hash":"AAAAAAAA","hashing_algorithm":"rot13","tags":[]}]}`, "unknown password hashing"},
		"nameless user":   {`{"users":[{"tags":[]}]}`, "user name must not be empty"},
		"unknown limit":   {`{"users":[{"name":"u","tags":[],"limits":{"max-queues":1}}]}`, "unknown limit"},
		"limit not int":   {`{"vhosts":[{"name":"v","limits":{"max-queues":1.5}}]}`, "must be an integer"},
		"bad regexp":      {`{"permissions":[{"user":"guest","vhost":"/","configure":"(","write":"","read":""}]}`, "is invalid"},
		"missing vhost":   {`{"permissions":[{"user":"guest","vhost":"nope","configure":"","write":"","read":""}]}`, "no vhost 'nope'"},
		"bad queue type":  {`{"vhosts":[{"name":"v","metadata":{"default_queue_type":"lifo"}}]}`, "lifo is not a valid queue type"},
		"exchange type":   {`{"exchanges":[{"name":"x","vhost":"/","type":"nope"}]}`, "nope"},
		"queue argument":  {`{"queues":[{"name":"q","vhost":"/","arguments":{"x-max-length":"many"}}]}`, "x-max-length"},
		"queue vhost":     {`{"queues":[{"name":"q","vhost":"nope"}]}`, "prior to importing"},
		"binding dest":    {`{"bindings":[{"source":"amq.direct","vhost":"/","destination":"q","destination_type":"x"}]}`, "neither queue nor exchange"},
		"binding missing": {`{"bindings":[{"source":"amq.direct","vhost":"/","destination":"q","destination_type":"queue"}]}`, "no queue 'q'"},
		"policy nameless": {`{"policies":[{"vhost":"/","pattern":".*","definition":{}}]}`, "undefined name"},
		"arguments array": {`{"exchanges":[{"name":"x","vhost":"/","type":"direct","arguments":[1]}]}`, "must be an object"},
	}
	s := startServer(t)
	for name, c := range cases {
		err := s.ImportDefinitions(context.Background(), []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	if why := s.authenticate("guest", "guest"); why != "" {
		t.Errorf("after the refusals: %s", why)
	}
}

// TestLoadDefinitionsAtBoot: Config.LoadDefinitions imports the file at
// start, seeding nothing (no guest unless the file has it); a file that
// cannot be imported stops the start.
func TestLoadDefinitionsAtBoot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "defs.json")
	doc := `{"users":[{"name":"app","password":"pw","tags":"monitoring"}],"vhosts":[{"name":"v"}],
		"permissions":[{"user":"app","vhost":"v","configure":".*","write":".*","read":".*"}]}`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(c *Config) { c.LoadDefinitions = file })
	if why := s.authenticate("app", "pw"); why != "" {
		t.Fatal(why)
	}
	if s.userExists("guest") || s.vhost("/") != nil || !s.access.load().user("app").hasTag("monitoring") {
		t.Errorf("seeded despite load_definitions, or tags lost: guest %v, / %v", s.userExists("guest"), s.vhost("/") != nil)
	}
	if err := os.WriteFile(file, []byte(`{"vhosts":[{"name":""}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewServer(Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop(), LoadDefinitions: file})
	if err == nil || !strings.Contains(err.Error(), "vhost name") {
		t.Fatalf("a bad file: %v", err)
	}
}

// FuzzImportDefinitions: any document either imports or is an error;
// nothing panics, and the node still answers.
func FuzzImportDefinitions(f *testing.F) {
	f.Add(rabbit310(f))
	f.Add([]byte(`{"users":[{"name":"u","password_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","tags":"a,b"}]}`))
	f.Add([]byte(`{"vhosts":[{"name":"v","limits":[["max-queues",1]]}],"queues":[{"name":"q","vhost":"v","arguments":{"a":[{"b":1e300}]}}]}`))
	f.Add([]byte(`{"exchanges":[{"name":"x","vhost":"/","type":"topic","arguments":{"alternate-exchange":7}}]}`))
	s, err := NewServer(Config{Listen: []string{"127.0.0.1:0"}, InMemory: true, Logger: zap.NewNop()})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := s.ImportDefinitions(context.Background(), doc)
		if err != nil && !strings.HasPrefix(err.Error(), "definitions: ") {
			t.Fatalf("error without context: %v", err)
		}
		if _, err := s.ExportDefinitions(); err != nil {
			t.Fatalf("export after an import: %v", err)
		}
	})
}
