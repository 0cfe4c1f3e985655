package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The management API tests talk HTTP to the broker under test: the
// in-process Warren's API (started beside it, warren_test.go), or, with
// WARREN_E2E_MGMT_URL (such as http://127.0.0.1:15673, from
// `RABBIT_MGMT_PORT=15673 e2e/rabbitmq/start.sh`), an external broker's.

// mgmtURLs maps an in-process broker's AMQP address to its API's URL.
var mgmtURLs sync.Map

// mgmtBase returns the API's base URL for the broker at amqpURL, or
// skips the test when there is none.
func mgmtBase(t *testing.T, amqpURL string) string {
	t.Helper()
	if external {
		if u := os.Getenv("WARREN_E2E_MGMT_URL"); u != "" {
			return strings.TrimSuffix(u, "/")
		}
		t.Skip("no WARREN_E2E_MGMT_URL for the external broker")
	}
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := mgmtURLs.Load(u.Host)
	if !ok {
		t.Skip("no management API beside this broker")
	}
	return v.(string)
}

// apiClient calls one broker's API as one user.
type apiClient struct {
	t          *testing.T
	base       string
	user, pass string
}

func newAPI(t *testing.T, base, user, pass string) *apiClient {
	return &apiClient{t: t, base: base, user: user, pass: pass}
}

// as returns a client of the same API for another user.
func (c *apiClient) as(user, pass string) *apiClient {
	return &apiClient{t: c.t, base: c.base, user: user, pass: pass}
}

// do sends a request (body: nil, a string sent as is, or a value sent as
// JSON) and returns the status, headers and body.
func (c *apiClient) do(method, path string, body any) (int, http.Header, []byte) {
	c.t.Helper()
	return c.doWith(method, path, nil, body)
}

// doWith is do with extra request headers.
func (c *apiClient) doWith(method, path string, headers map[string]string, body ...any) (int, http.Header, []byte) {
	c.t.Helper()
	var b any
	if len(body) > 0 {
		b = body[0]
	}
	return c.send(method, path, headers, b)
}

func (c *apiClient) send(method, path string, headers map[string]string, body any) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	cl := &http.Client{Timeout: 20 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// must sends a request and fails the test unless the status is want.
func (c *apiClient) must(want int, method, path string, body any) []byte {
	c.t.Helper()
	status, _, out := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, path, c.user, status, want, out)
	}
	return out
}

// getJSON GETs path (200 expected) and decodes the body into v.
func (c *apiClient) getJSON(path string, v any) {
	c.t.Helper()
	out := c.must(http.StatusOK, "GET", path, nil)
	if err := json.Unmarshal(out, v); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, out)
	}
}

// apiError is an error body.
type apiErrorBody struct {
	Error  string `json:"error"`
	Reason any    `json:"reason"`
}

// expectError checks a refusal's status and body.
func (c *apiClient) expectError(status int, method, path string, body any, kind string, reason any) {
	c.t.Helper()
	got, hdr, out := c.do(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, path, c.user, got, status, out)
	}
	var e apiErrorBody
	if err := json.Unmarshal(out, &e); err != nil {
		c.t.Fatalf("%s %s: error body %q is not JSON: %v", method, path, out, err)
	}
	wantReason, _ := json.Marshal(reason)
	gotReason, _ := json.Marshal(e.Reason)
	if e.Error != kind || string(gotReason) != string(wantReason) {
		c.t.Fatalf("%s %s as %s: body %s, want error %q reason %s", method, path, c.user, out, kind, wantReason)
	}
	// A failed login asks for credentials again; a refusal does not.
	if challenge := hdr.Get("WWW-Authenticate"); (kind == "not_authorized") != (challenge == `Basic realm="RabbitMQ Management"`) {
		c.t.Fatalf("%s %s: %s with challenge %q", method, path, kind, challenge)
	}
}

// mgmtSetup returns an administrator's client (guest) of the suite's
// broker.
func mgmtSetup(t *testing.T) *apiClient {
	t.Helper()
	return newAPI(t, mgmtBase(t, brokerURL), "guest", "guest")
}

// mgmtUser creates a user with tags (a comma-separated string) and
// deletes it when the test ends.
func mgmtUser(t *testing.T, admin *apiClient, name, pass, tags string) {
	t.Helper()
	admin.must(http.StatusCreated, "PUT", "/api/users/"+url.PathEscape(name), map[string]any{"password": pass, "tags": tags})
	t.Cleanup(func() { admin.do("DELETE", "/api/users/"+url.PathEscape(name), nil) })
}

// mgmtVhost creates a vhost and deletes it when the test ends.
func mgmtVhost(t *testing.T, admin *apiClient, name string) {
	t.Helper()
	admin.must(http.StatusCreated, "PUT", "/api/vhosts/"+url.PathEscape(name), map[string]any{})
	t.Cleanup(func() { admin.do("DELETE", "/api/vhosts/"+url.PathEscape(name), nil) })
}

// allPerms is configure, write and read on everything.
var allPerms = map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
