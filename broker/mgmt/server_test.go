package mgmt

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// startNode starts a broker and its API on loopback; the test closes
// both.
func startNode(t *testing.T) (*broker.Server, *Server) {
	t.Helper()
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	api := New(Config{Broker: b})
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	return b, api
}

// call sends a request as guest over a fresh connection and returns the
// status, headers and body.
func call(t *testing.T, api *Server, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+api.Addr().String()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(out)
}

// TestServerRouting: RabbitMQ's 404 body for an unknown path or object
// (a bad escape, which Go's client will not send, is TestSplitPath's), 405 with Allow for a known path's other methods, and "%2F" as
// the vhost "/".
func TestServerRouting(t *testing.T) {
	_, api := startNode(t)
	const notFound = `{"error":"Object Not Found","reason":"Not Found"}`
	cases := []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/api/no-such-thing", 404, notFound, ""},
		{"GET", "/api/vhosts/no-such-vhost", 404, notFound, ""},
		{"POST", "/api/whoami", 405, "", "GET"},
		{"PATCH", "/api/queues/%2F/q", 405, "", "GET, PUT, DELETE"},
		{"GET", "/api/vhosts/%2F", 200, `"name":"/"`, ""},
		{"GET", "/api/aliveness-test/%2F", 200, `{"status":"ok"}`, ""},
	}
	for _, c := range cases {
		status, hdr, body := call(t, api, c.method, c.path, "")
		if status != c.status || !strings.Contains(body, c.body) || hdr.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d %q Allow %q; want %d %q Allow %q", c.method, c.path, status, body, hdr.Get("Allow"), c.status, c.body, c.allow)
		}
	}
}

// TestServerCloseLeavesNoGoroutine: after requests that open in-process
// AMQP connections, Close leaves no goroutine of the API's behind (nor
// of the broker's connections it opened).
func TestServerCloseLeavesNoGoroutine(t *testing.T) {
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	base := runtime.NumGoroutine()

	api := New(Config{Broker: b})
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/api/queues/%2F/leak-q", `{}`},
		{"POST", "/api/exchanges/%2F/amq.default/publish", `{"routing_key":"leak-q","properties":{},"payload":"m","payload_encoding":"string"}`},
		{"POST", "/api/queues/%2F/leak-q/get", `{"count":1,"ackmode":"ack_requeue_true","encoding":"auto"}`},
		{"DELETE", "/api/queues/%2F/leak-q", ""},
		{"GET", "/api/overview", ""},
	} {
		if status, _, body := call(t, api, r.method, r.path, r.body); status >= 300 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, status, body)
		}
	}
	// An idle keep-alive connection is the server's to close.
	resp, err := http.Get("http://" + api.Addr().String() + "/api/overview")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := api.Close(); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before Start:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
