package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefinitionVerbs: export_definitions to a file and to stdout, and
// import_definitions from a file and from stdin, checked through the
// API; bad files are refused with rabbitmqctl's texts.
func TestDefinitionVerbs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "defs.json")
	mustCtl(t, "export_definitions", file)
	var defs struct {
		Users  []struct{ Name string } `json:"users"`
		Vhosts []struct{ Name string } `json:"vhosts"`
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &defs); err != nil || len(defs.Users) == 0 || len(defs.Vhosts) == 0 {
		t.Fatalf("exported file: %v %s", err, b)
	}
	out := mustCtl(t, "export_definitions", "-")
	if !json.Valid([]byte(out)) || !strings.Contains(out, `"guest"`) {
		t.Fatalf("export_definitions -: %q", out)
	}

	t.Cleanup(func() { warrenctl("delete_vhost", "imp-vh"); warrenctl("delete_vhost", "imp-stdin") })
	doc := `{"vhosts":[{"name":"imp-vh"}],"queues":[{"name":"imp-q","vhost":"imp-vh","durable":true,"auto_delete":false,"arguments":{}}],
		"permissions":[{"user":"guest","vhost":"imp-vh","configure":".*","write":".*","read":".*"}]}`
	imp := filepath.Join(dir, "import.json")
	if err := os.WriteFile(imp, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCtl(t, "import_definitions", imp)
	if apiGet(t, "/api/queues/imp-vh/imp-q", nil) != 200 {
		t.Fatal("import_definitions: the imported queue is missing")
	}
	r := ctlEnv(map[string]string{"WARRENCTL_URL": apiURL}, `{"vhosts":[{"name":"imp-stdin"}]}`, "import_definitions", "-")
	if r.code != 0 || apiGet(t, "/api/vhosts/imp-stdin", nil) != 200 {
		t.Fatalf("import_definitions -: %d %s", r.code, r.errOut)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"vhosts": [`), 0o600)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, nil, 0o600)
	wantFail(t, exitDataErr, "Failed to deserialise input (format: JSON)", "import_definitions", bad)
	wantFail(t, exitDataErr, "is zero-sized", "import_definitions", empty)
	wantFail(t, exitDataErr, "does not exist", "import_definitions", filepath.Join(dir, "missing.json"))
	wantFail(t, exitDataErr, "Directory "+filepath.Join(dir, "no-dir")+" does not exist", "export_definitions", filepath.Join(dir, "no-dir", "x.json"))
}
