package main

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPolicyCommands: set_policy, list_policies, clear_policy and the
// operator commands reach a running node over its admin socket, as
// rabbitmqctl's do; a bad policy prints RabbitMQ's error and fails.
func TestPolicyCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	startWarren(t, nil, "--listen", "127.0.0.1:0", "--data-dir", data)
	// The admin socket opens after the AMQP listener's log line; its file
	// appears a moment before it accepts, so wait until it does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", filepath.Join(data, "admin.sock"))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admin socket: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	run := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := runPolicy(args[0], append([]string{"--data-dir", data}, args[1:]...), envOf(), &out, &errs)
		return code, out.String(), errs.String()
	}
	if code, _, errs := run("set_policy", "--priority", "2", "--apply-to", "queues", "cap", "^q", `{"max-length":10}`); code != 0 {
		t.Fatalf("set_policy: %d %s", code, errs)
	}
	if code, _, errs := run("set_operator_policy", "-p", "/", "op", ".*", `{"max-length":5}`); code != 0 {
		t.Fatalf("set_operator_policy: %d %s", code, errs)
	}
	code, out, _ := run("list_policies")
	if want := "/\tcap\t^q\tqueues\t{\"max-length\":10}\t2\n"; code != 0 || !strings.HasSuffix(out, want) {
		t.Fatalf("list_policies: %d %q, want a line %q", code, out, want)
	}
	if code, out, _ := run("list_operator_policies"); code != 0 || !strings.Contains(out, "/\top\t.*\tall\t{\"max-length\":5}\t0") {
		t.Fatalf("list_operator_policies: %d %q", code, out)
	}
	code, _, errs := run("set_policy", "bad", ".*", `{"max-length":"ten"}`)
	if want := "Error:\nValidation failed\n\n<<\"ten\">> is not a valid maximum length\n"; code != 1 || errs != want {
		t.Fatalf("a bad policy: %d %q, want %q", code, errs, want)
	}
	for _, c := range [][]string{{"clear_policy", "cap"}, {"clear_operator_policy", "op"}} {
		if code, _, errs := run(c...); code != 0 {
			t.Fatalf("%s: %d %s", c[0], code, errs)
		}
	}
	if code, out, _ := run("list_policies"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("after clear: %q", out)
	}
	if code, _, errs := run("clear_policy", "cap"); code != 1 || !strings.Contains(errs, "Parameter does not exist") {
		t.Fatalf("clearing it again: %d %q", code, errs)
	}
	if code, _, _ := run("set_policy", "only-a-name"); code != 2 {
		t.Fatalf("missing arguments: %d", code)
	}
}
