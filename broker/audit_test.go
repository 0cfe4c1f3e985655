package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// readAudit returns the entries of the audit log at path.
func readAudit(t *testing.T, path string) []AuditEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []AuditEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestAuditAdminSocket: the policy operations of `warren set_policy` and
// its siblings over the admin socket are written in the name of the OS
// user, as the cli interface, from the socket; a refused one as refused.
func TestAuditAdminSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s := startServer(t, func(c *Config) { c.Audit.File = path; c.NodeName = "sock@test" })
	ctx := context.Background()
	def := json.RawMessage(`{"max-length":10}`)
	cases := []struct {
		op                      PolicyOp
		req                     PolicyRequest
		action, outcome, errTxt string
		changes                 string
	}{
		{PolicySet, PolicyRequest{Vhost: "/", Name: "p", Pattern: "^q", Priority: 2, Definition: def},
			"policy.set", "ok", "", `{"apply-to":"all","definition":{"max-length":10},"pattern":"^q","priority":2}`},
		{PolicySet, PolicyRequest{Operator: true, Vhost: "/", Name: "op", Pattern: ".*", ApplyTo: "queues", Definition: def},
			"operator_policy.set", "ok", "", `{"apply-to":"queues","definition":{"max-length":10},"pattern":".*","priority":0}`},
		{PolicySet, PolicyRequest{Vhost: "/", Name: "bad", Pattern: ".*", Definition: json.RawMessage(`{"max-length":"ten"}`)},
			"policy.set", "refused", "Validation failed", `{"apply-to":"all","definition":{"max-length":"ten"},"pattern":".*","priority":0}`},
		{PolicySet, PolicyRequest{Vhost: "nowhere", Name: "p", Pattern: ".*", Definition: def},
			"policy.set", "refused", "NOT_FOUND", `{"apply-to":"all","definition":{"max-length":10},"pattern":".*","priority":0}`},
		{PolicyClear, PolicyRequest{Vhost: "/", Name: "p"}, "policy.clear", "ok", "", ""},
		{PolicyClear, PolicyRequest{Operator: true, Vhost: "/", Name: "op"}, "operator_policy.clear", "ok", "", ""},
		{PolicyClear, PolicyRequest{Vhost: "/", Name: "p"}, "policy.clear", "refused", "NOT_FOUND", ""},
		{PolicyList, PolicyRequest{Vhost: "/"}, "", "", "", ""},
	}
	seen := 0
	for _, c := range cases {
		name := fmt.Sprintf("%s %s", c.op, c.req.Name)
		_, err := PolicyAt(ctx, s.cfg.DataDir, c.op, c.req)
		if (err != nil) != (c.outcome == "refused") {
			t.Fatalf("%s: %v", name, err)
		}
		lines := readAudit(t, path)[seen:]
		if c.action == "" {
			if len(lines) != 0 {
				t.Errorf("%s: a listing wrote %+v", name, lines)
			}
			continue
		}
		if len(lines) != 1 {
			t.Fatalf("%s: %d new lines %+v; want 1", name, len(lines), lines)
		}
		seen++
		e := lines[0]
		sock := "unix:" + filepath.Join(s.cfg.DataDir, adminSocketFile)
		if e.Who != osUser() || e.Interface != "cli" || e.From != sock || e.Node != "sock@test" ||
			e.Action != c.action || e.Vhost != c.req.Vhost || e.Name != c.req.Name || e.Outcome != c.outcome ||
			!strings.HasPrefix(e.Error, c.errTxt) || (c.errTxt == "") != (e.Error == "") {
			t.Errorf("%s: %+v; want %s by %s over cli from %s, %s %q", name, e, c.action, osUser(), sock, c.outcome, c.errTxt)
		}
		got, _ := json.Marshal(e.Changes)
		if c.changes == "" && e.Changes != nil || c.changes != "" && string(got) != c.changes {
			t.Errorf("%s: changes %s; want %s", name, got, c.changes)
		}
	}
}

// TestAuditBootAndGoAPI: load_definitions is written as the boot
// interface, from its file, its users and vhosts in the import's one
// entry; a change through the Go API without an actor writes nothing.
func TestAuditBootAndGoAPI(t *testing.T) {
	dir := t.TempDir()
	defs := filepath.Join(dir, "defs.json")
	doc := `{"users":[{"name":"u","password_hash":"kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR","tags":"administrator"}],
		"vhosts":[{"name":"/"}],"permissions":[{"user":"u","vhost":"/","configure":".*","write":".*","read":".*"}]}`
	if err := os.WriteFile(defs, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.log")
	s := startServer(t, func(c *Config) { c.Audit.File = path; c.LoadDefinitions = defs })
	lines := readAudit(t, path)
	if len(lines) != 1 {
		t.Fatalf("%d lines %+v; want the import's one", len(lines), lines)
	}
	e := lines[0]
	if e.Action != "definitions.import" || e.Interface != "boot" || e.From != defs || e.Outcome != "ok" ||
		e.Changes["users"] != float64(1) || e.Changes["vhosts"] != float64(1) || e.Changes["permissions"] != float64(1) {
		t.Errorf("boot entry %+v", e)
	}
	if err := s.AddVhost(context.Background(), "quiet"); err != nil {
		t.Fatal(err)
	}
	if n := len(readAudit(t, path)); n != 1 {
		t.Errorf("a change without an actor wrote a line: %d lines", n)
	}
}

// TestAuditOff: without a file, no audit log is made.
func TestAuditOff(t *testing.T) {
	s := startServer(t)
	ctx := WithActor(context.Background(), Actor{User: "guest", From: "test", Interface: InterfaceHTTP})
	if err := s.AddUser(ctx, "x", "pw", "management"); err != nil {
		t.Fatal(err)
	}
	if s.audit != nil {
		t.Fatal("an audit log is open without a file")
	}
	entries, err := os.ReadDir(s.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "audit") {
			t.Errorf("data dir holds %s", e.Name())
		}
	}
}

// TestAuditRotation: a write that would take the file past its size
// starts a new one, a line is never split, and only the newest rotated
// files are kept.
func TestAuditRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	other := filepath.Join(dir, "audit-notes.log") // not a rotated file: never removed
	if err := os.WriteFile(other, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 99) + "\n") // 100 bytes
	r, err := openRotatingFile(path, 250, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	sizes := func() (cur int64, backups []int64) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := r.backups()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			bi, err := os.Stat(b)
			if err != nil {
				t.Fatal(err)
			}
			backups = append(backups, bi.Size())
		}
		return fi.Size(), backups
	}
	cases := []struct {
		writes  int
		cur     int64
		backups int
	}{
		{2, 200, 0}, // 200 ≤ 250
		{1, 100, 1}, // 300 would pass 250: rotated first
		{2, 100, 2},
		{2, 100, 2}, // the oldest rotated file is removed
	}
	for i, c := range cases {
		for range c.writes {
			if err := r.write(line); err != nil {
				t.Fatal(err)
			}
		}
		cur, backups := sizes()
		if cur != c.cur || len(backups) != c.backups {
			t.Fatalf("step %d: current %d bytes, rotated %v; want %d bytes, %d rotated", i, cur, backups, c.cur, c.backups)
		}
		for _, b := range backups {
			if b != 200 {
				t.Errorf("step %d: a rotated file of %d bytes; want 200 (whole lines)", i, b)
			}
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not a rotated one was removed: %v", err)
	}
}

// TestAuditRotationThroughServer: the node's log rotates at its size in
// MiB and keeps max_files rotated files.
func TestAuditRotationThroughServer(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a MiB of audit entries")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	s := startServer(t, func(c *Config) { c.Audit = AuditConfig{File: path, MaxSizeMB: 1, MaxFiles: 1} })
	ctx := WithActor(context.Background(), Actor{User: "guest", From: "test", Interface: InterfaceHTTP})
	long := strings.Repeat("p", 8000)
	// Each refused permission change (a pattern RE2 refuses, so nothing
	// is proposed) writes a line of about 16 KB.
	for i := range 200 {
		err := s.SetPermissions(ctx, "nobody", "/", Permission{Configure: "(?=" + long, Write: long, Read: fmt.Sprint(i)})
		if err == nil {
			t.Fatal("a lookahead pattern accepted")
		}
	}
	bs, err := s.audit.f.backups()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || fi.Size() > 1<<20 {
		t.Errorf("rotated files %v, current %d bytes; want one rotated file and at most 1 MiB", bs, fi.Size())
	}
	for _, e := range append(readAudit(t, bs[0]), readAudit(t, path)...) {
		if e.Action != "permission.set" || e.Outcome != "refused" {
			t.Fatalf("entry %+v", e)
		}
	}
}

// TestAuditCluster: in a cluster the node that takes a change writes its
// entry, once; a node closing its own connections because another node
// deleted their vhost writes each close as the cluster interface.
func TestAuditCluster(t *testing.T) {
	dir := t.TempDir()
	logOf := func(i int) string { return filepath.Join(dir, fmt.Sprintf("audit%d.log", i)) }
	nodes := startTestCluster(t, 3, func(i int, c *Config) { c.Audit.File = logOf(i) })
	count := func(i int) int { return len(readAudit(t, logOf(i))) }

	_, err := nodes[1].admin(testSecret).Policy(ctxFor(t, 10*time.Second), PolicySet,
		PolicyRequest{Vhost: "/", Name: "p", Pattern: ".*", Definition: json.RawMessage(`{"max-length":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "every node has the policy", func() bool {
		for _, n := range nodes {
			if len(n.s.Policies("/")) != 1 {
				return false
			}
		}
		return true
	})
	if count(0) != 0 || count(1) != 1 || count(2) != 0 {
		t.Fatalf("lines per node %d %d %d; want 0 1 0", count(0), count(1), count(2))
	}
	e := readAudit(t, logOf(1))[0]
	if e.Action != "policy.set" || e.Interface != InterfaceCLI || e.Who != osUser() || e.Node != nodes[1].name || !strings.HasPrefix(e.From, "127.0.0.1:") {
		t.Errorf("entry %+v", e)
	}

	ctx := WithActor(ctxFor(t, 10*time.Second), Actor{User: "ops", From: "test", Interface: InterfaceHTTP})
	if err := nodes[0].s.AddVhost(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	all := Permission{Configure: ".*", Write: ".*", Read: ".*"}
	if err := nodes[0].s.SetPermissions(ctxFor(t, 10*time.Second), "guest", "v", all); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node 3 lets guest into v", func() bool { return nodes[2].s.CanAccessVhost("guest", "v") })
	c, err := amqp.Dial("amqp://guest:guest@" + nodes[2].s.Addr().String() + "/v")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := c.NotifyClose(make(chan *amqp.Error, 1))
	if err := nodes[0].s.DeleteVhost(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	<-closed
	// The close reaches the client before the node writes its entry.
	waitFor(t, 5*time.Second, "node 3 writes the close", func() bool { return count(2) > 0 })
	got := readAudit(t, logOf(2))
	if len(got) != 1 || got[0].Action != "connection.close" || got[0].Interface != InterfaceCluster || got[0].Who != "" ||
		got[0].Vhost != "v" || got[0].Changes["reason"] != "vhost 'v' is deleted" {
		t.Fatalf("node 3 wrote %+v; want its connection's close, as the cluster", got)
	}
	if first := readAudit(t, logOf(0)); len(first) != 2 || first[0].Action != "vhost.put" || first[1].Action != "vhost.delete" {
		t.Fatalf("node 1 wrote %+v; want vhost.put and vhost.delete", first)
	}
}
