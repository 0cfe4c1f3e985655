package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBadInput: every kind of bad input ends in a clear error on stderr
// and rabbitmqctl's exit code, never a panic or a zero status.
func TestBadInput(t *testing.T) {
	closed := freeAddr(t) // nothing listens there
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		text string
	}{
		{"no verb", nil, nil, exitUsage, "Usage:"},
		{"unknown verb", nil, []string{"list_quues"}, exitUsage, `unknown command "list_quues"`},
		{"unknown flag", nil, []string{"list_queues", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"missing argument", nil, []string{"delete_user"}, exitUsage, "Error (argument validation): not enough arguments.\nArguments given:\n\tdelete_user\n\nUsage:\n\nwarrenctl delete_user <username>"},
		{"extra argument", nil, []string{"purge_queue", "a", "b"}, exitUsage, "too many arguments."},
		{"bad formatter", nil, []string{"--formatter", "xml", "list_users"}, exitUsage, `--formatter "xml" is not one of table, json`},
		{"bad timeout", nil, []string{"--timeout", "soon", "list_users"}, exitUsage, `"soon" is not a number of seconds or a duration`},
		{"bad url", nil, []string{"--url", "ftp://x", "list_users"}, exitUsage, `--url "ftp://x" is not an http:// or https:// URL`},
		{"wrong password", map[string]string{"WARRENCTL_PASSWORD": "wrong"}, []string{"list_users"}, exitNoPerm, `Error: user "guest" is not authorised: Login failed`},
		{"unknown user", nil, []string{"--username", "nobody", "status"}, exitNoPerm, "not authorised"},
		{"nothing listening", nil, []string{"--url", "http://" + closed, "list_users"}, exitUnavailable, "Error: unable to reach the management API at http://" + closed},
		{"one-line explanation", nil, []string{"close_connection", "c", "two\nlines"}, exitDataErr, "the explanation must be one line"},
		{"missing cacert", nil, []string{"--url", "https://127.0.0.1:1", "--cacert", "/no/such/ca.pem", "list_users"}, exitDataErr, "--cacert"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"WARRENCTL_URL": apiURL}
			for k, v := range c.env {
				env[k] = v
			}
			r := ctlEnv(env, "", c.args...)
			if r.code != c.code || !strings.Contains(r.errOut, c.text) {
				t.Fatalf("exit %d, stderr %q; want exit %d with %q", r.code, r.errOut, c.code, c.text)
			}
		})
	}
}

// TestEnvironmentAndFlags: the connection flags' environment variables
// are their defaults, and a flag wins over its variable.
func TestEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{"WARRENCTL_URL": "http://" + freeAddr(t), "WARRENCTL_USERNAME": "nobody", "WARRENCTL_PASSWORD": "x"}
	if r := ctlEnv(env, "", "list_users"); r.code != exitUnavailable {
		t.Fatalf("WARRENCTL_URL not used: exit %d %s", r.code, r.errOut)
	}
	env["WARRENCTL_URL"] = apiURL
	if r := ctlEnv(env, "", "list_users"); r.code != exitNoPerm {
		t.Fatalf("WARRENCTL_USERNAME not used: exit %d %s", r.code, r.errOut)
	}
	if r := ctlEnv(env, "", "--username", "guest", "--password", "guest", "-q", "list_users"); r.code != 0 || !strings.Contains(r.out, "guest") {
		t.Fatalf("flags over the environment: exit %d %s", r.code, r.errOut)
	}
}

// TestTimeout: an API that does not answer within --timeout ends the
// verb with exit 75.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	start := time.Now()
	r := ctlEnv(map[string]string{"WARRENCTL_URL": ts.URL}, "", "--timeout", "0.2", "list_users")
	if r.code != exitTempFail || !strings.Contains(r.errOut, "did not answer within 200ms") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v with --timeout 0.2", d)
	}
}

// TestHTTPS: an https:// API is trusted through --cacert, refused
// without it, and accepted unverified with --insecure.
func TestHTTPS(t *testing.T) {
	target, _ := url.Parse(apiURL)
	ts := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WARRENCTL_URL": ts.URL}
	if r := ctlEnv(env, "", "--cacert", ca, "-q", "list_users"); r.code != 0 || !strings.Contains(r.out, "guest") {
		t.Fatalf("--cacert: exit %d %s", r.code, r.errOut)
	}
	if r := ctlEnv(env, "", "list_users"); r.code != exitUnavailable || !strings.Contains(r.errOut, "certificate") {
		t.Fatalf("without --cacert: exit %d %s", r.code, r.errOut)
	}
	if r := ctlEnv(env, "", "--insecure", "-q", "list_users"); r.code != 0 {
		t.Fatalf("--insecure: exit %d %s", r.code, r.errOut)
	}
}

// TestNoGoroutineLeft: a run leaves no goroutine behind (its HTTP
// connections are closed when it returns).
func TestNoGoroutineLeft(t *testing.T) {
	base := runtime.NumGoroutine()
	for range 5 {
		mustCtl(t, "-q", "list_queues")
		mustCtl(t, "status")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after the runs, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
