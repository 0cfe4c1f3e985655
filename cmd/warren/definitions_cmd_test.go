package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestDefinitionsExportAndLoad: a node started with --load-definitions
// serves the file's users; `warren definitions export` writes its
// definitions through the data dir's admin socket, and the export loads
// into another node whose users then log in.
func TestDefinitionsExportAndLoad(t *testing.T) {
	dir := t.TempDir()
	defs := filepath.Join(dir, "defs.json")
	doc := `{"users":[{"name":"app","password":"app-pw","tags":["monitoring"]}],"vhosts":[{"name":"v"}],
		"permissions":[{"user":"app","vhost":"v","configure":".*","write":".*","read":".*"}],
		"queues":[{"name":"jobs","vhost":"v","durable":true,"auto_delete":false,"arguments":{"x-max-length":10}}]}`
	if err := os.WriteFile(defs, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "a")
	addr := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", data, "--load-definitions", defs)
	conn, err := amqp.Dial("amqp://app:app-pw@" + addr + "/v")
	if err != nil {
		t.Fatalf("the loaded user: %v", err)
	}
	conn.Close()

	var out, errs bytes.Buffer
	if code := runDefinitions([]string{"export", "--data-dir", data}, envOf(), &out, &errs); code != 0 {
		t.Fatalf("export: %d %s", code, errs.String())
	}
	var d struct {
		Users  []struct{ Name, PasswordHash string } `json:"users"`
		Queues []struct{ Name string }               `json:"queues"`
	}
	if err := json.Unmarshal(out.Bytes(), &d); err != nil || len(d.Users) != 1 || d.Users[0].Name != "app" ||
		len(d.Queues) != 1 || d.Queues[0].Name != "jobs" {
		t.Fatalf("exported %s (%v)", out.String(), err)
	}
	exported := filepath.Join(dir, "exported.json")
	if code := runDefinitions([]string{"export", "--data-dir", data, exported}, envOf(), &out, &errs); code != 0 {
		t.Fatalf("export to a file: %d %s", code, errs.String())
	}
	addr2 := startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "b"), "--load-definitions", exported)
	conn, err = amqp.Dial("amqp://app:app-pw@" + addr2 + "/v")
	if err != nil {
		t.Fatalf("the exported user on the second node: %v", err)
	}
	conn.Close()

	errs.Reset()
	if code := runDefinitions([]string{"export", "--data-dir", filepath.Join(dir, "none")}, envOf(), &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "no node answers") {
		t.Errorf("export from a data dir no node runs: %d %s", code, errs.String())
	}
	if code := runDefinitions(nil, envOf(), &out, &errs); code != 2 {
		t.Errorf("no subcommand: %d", code)
	}
}
