package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/mgmt"
)

// The tests run warrenctl in process (run, with its streams captured)
// against a real node and its management API on loopback, started once
// for the package, and check each verb's effect through the API or AMQP.

var (
	apiURL   string // the suite's management API
	amqpURL  string // the suite's AMQP listener, as guest
	nodeName string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	dir, err := os.MkdirTemp("", "warrenctl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: dir, Logger: zap.NewNop()})
	if err == nil {
		err = b.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer b.Close()
	api := mgmt.New(mgmt.Config{Broker: b})
	if err := api.Start("127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer api.Close()
	apiURL = "http://" + api.Addr().String()
	amqpURL = "amqp://guest:guest@" + b.Addr().String() + "/"
	nodeName = b.NodeName()
	return m.Run()
}

// result is one run of warrenctl.
type result struct {
	code        int
	out, errOut string
}

// ctlEnv runs warrenctl with an environment and standard input.
func ctlEnv(env map[string]string, stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// warrenctl runs warrenctl against the suite's API.
func warrenctl(args ...string) result {
	return ctlEnv(map[string]string{"WARRENCTL_URL": apiURL}, "", args...)
}

// mustCtl runs warrenctl and fails the test unless it exits 0.
func mustCtl(t *testing.T, args ...string) string {
	t.Helper()
	r := warrenctl(args...)
	if r.code != 0 {
		t.Fatalf("warrenctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.errOut)
	}
	return r.out
}

// wantFail runs warrenctl and checks its exit code and that stderr holds
// text.
func wantFail(t *testing.T, code int, text string, args ...string) {
	t.Helper()
	r := warrenctl(args...)
	if r.code != code || !strings.Contains(r.errOut, text) {
		t.Fatalf("warrenctl %s: exit %d, stderr %q; want exit %d with %q", strings.Join(args, " "), r.code, r.errOut, code, text)
	}
}

// parseTable reads an aligned table (printed with -q): the header names
// the columns, each starting where its name does.
func parseTable(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	names := strings.Fields(header)
	starts := make([]int, len(names))
	from := 0
	for i, n := range names {
		starts[i] = from + strings.Index(header[from:], n)
		from = starts[i] + len(n)
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		r := map[string]string{}
		for i, n := range names {
			end := len(l)
			if i+1 < len(starts) && starts[i+1] < end {
				end = starts[i+1]
			}
			if starts[i] < end {
				r[n] = strings.TrimSpace(l[starts[i]:end])
			} else {
				r[n] = ""
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// findRow returns the row whose column key is value.
func findRow(rows []map[string]string, key, value string) (map[string]string, bool) {
	for _, r := range rows {
		if r[key] == value {
			return r, true
		}
	}
	return nil, false
}

// tableRow runs a quiet listing and returns the row whose key is value.
func tableRow(t *testing.T, key, value string, args ...string) (map[string]string, bool) {
	t.Helper()
	return findRow(parseTable(t, mustCtl(t, append([]string{"-q"}, args...)...)), key, value)
}

// jsonRows runs a listing with --formatter json and decodes it.
func jsonRows(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out := mustCtl(t, append([]string{"--formatter", "json"}, args...)...)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %v in %s", args, err, out)
	}
	return rows
}

// apiGet GETs an API path as guest and decodes it; it returns the status.
func apiGet(t *testing.T, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest("GET", apiURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// queueMessages is a queue's message count as the API reports it.
func queueMessages(t *testing.T, vhostPath, name string) int {
	t.Helper()
	var q struct {
		Messages int `json:"messages"`
	}
	if st := apiGet(t, "/api/queues/"+vhostPath+"/"+name, &q); st != 200 {
		t.Fatalf("GET queue %s: %d", name, st)
	}
	return q.Messages
}

// dial connects over AMQP and closes the connection when the test ends.
func dial(t *testing.T, url string) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// channel opens a channel as guest.
func channel(t *testing.T) *amqp.Channel {
	t.Helper()
	ch, err := dial(t, amqpURL).Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// publishConfirmed publishes n messages to a queue and waits for their
// confirms.
func publishConfirmed(t *testing.T, ch *amqp.Channel, queue string, n int) {
	t.Helper()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirm("", queue, false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Wait() {
			t.Fatalf("message %d to %s nacked", i, queue)
		}
	}
}

// eventually polls cond until it holds, failing after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadline is a channel that fires after 10 s.
func deadline(t *testing.T) <-chan time.Time {
	t.Helper()
	return time.After(10 * time.Second)
}
