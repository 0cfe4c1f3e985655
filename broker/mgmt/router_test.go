package mgmt

import (
	"net/http"
	"slices"
	"testing"
)

// TestSplitPath: each segment is decoded on its own, so "%2F" is a
// vhost named "/" and never a separator; a bad escape is refused.
func TestSplitPath(t *testing.T) {
	cases := []struct {
		path string
		want []string
		ok   bool
	}{
		{"/api/queues/%2F/q", []string{"api", "queues", "/", "q"}, true},
		{"/api/queues/%2F/q/", []string{"api", "queues", "/", "q"}, true},
		{"/api/vhosts/a%2Fb", []string{"api", "vhosts", "a/b"}, true},
		{"/api/queues/v/a%20b", []string{"api", "queues", "v", "a b"}, true},
		{"/api/queues/v/a+b", []string{"api", "queues", "v", "a+b"}, true},
		{"/api/bindings/%2F/e/x/q/q/k~abc", []string{"api", "bindings", "/", "e", "x", "q", "q", "k~abc"}, true},
		{"/api/queues/%zz", nil, false},
	}
	for _, c := range cases {
		got, ok := splitPath(c.path)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("splitPath(%q) = %q, %v; want %q, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

// TestRouterMatch: the first pattern that matches path and method wins,
// its named segments are returned; a path matched under other methods
// answers those methods; anything else matches nothing.
func TestRouterMatch(t *testing.T) {
	var rt router
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Route", name) })
	}
	rt.handle("GET", "/api/queues/{vhost}/{name}", mark("get-queue"))
	rt.handle("PUT", "/api/queues/{vhost}/{name}", mark("put-queue"))
	rt.handle("GET", "/api/queues/{vhost}/{name}/bindings", mark("queue-bindings"))
	rt.handle("GET", "/api/queues/{vhost}/special", mark("never, an earlier pattern matches"))

	cases := []struct {
		method, path string
		route        string
		vals         pathValues
		allowed      []string
	}{
		{"GET", "/api/queues/%2F/q", "get-queue", pathValues{"vhost": "/", "name": "q"}, nil},
		{"HEAD", "/api/queues/%2F/q", "get-queue", pathValues{"vhost": "/", "name": "q"}, nil},
		{"PUT", "/api/queues/v/q", "put-queue", pathValues{"vhost": "v", "name": "q"}, nil},
		{"GET", "/api/queues/v/special", "get-queue", pathValues{"vhost": "v", "name": "special"}, nil},
		{"GET", "/api/queues/v/q/bindings", "queue-bindings", pathValues{"vhost": "v", "name": "q"}, nil},
		{"DELETE", "/api/queues/v/q", "", nil, []string{"GET", "PUT"}},
		{"GET", "/api/queues/v", "", nil, nil},
		{"GET", "/api/queues/v/q/bindings/x", "", nil, nil},
	}
	for _, c := range cases {
		segs, _ := splitPath(c.path)
		h, vals, allowed := rt.match(c.method, segs)
		route := ""
		if h != nil {
			w := &headerRecorder{h: http.Header{}}
			h.ServeHTTP(w, nil)
			route = w.h.Get("X-Route")
		}
		if route != c.route || !mapsEqual(vals, c.vals) || !slices.Equal(allowed, c.allowed) {
			t.Errorf("%s %s: route %q vals %v allowed %v; want %q %v %v", c.method, c.path, route, vals, allowed, c.route, c.vals, c.allowed)
		}
	}
}

func mapsEqual(a, b pathValues) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// headerRecorder is the least of a ResponseWriter, for handlers that
// only set a header.
type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}
