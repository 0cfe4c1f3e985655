package mgmt

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// router matches a request's path segment by segment, each segment
// percent-decoded on its own, so that "%2F" is the vhost "/" and never a
// separator (net/http's ServeMux cleans such paths). A pattern segment
// "{name}" matches any segment, literal ones match exactly; the first
// pattern registered that matches wins.
type router struct {
	routes []route
}

type route struct {
	method string
	segs   []string
	h      http.Handler
}

// handle registers h for method and pattern ("/api/queues/{vhost}/{name}").
func (rt *router) handle(method, pattern string, h http.Handler) {
	rt.routes = append(rt.routes, route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), h: h})
}

// pathValues are a matched request's named segments.
type pathValues map[string]string

// match returns the handler and values for a request; allowed lists the
// methods of the patterns that matched the path when none matched the
// method.
func (rt *router) match(method string, segs []string) (http.Handler, pathValues, []string) {
	var allowed []string
	for _, r := range rt.routes {
		vals, ok := r.matches(segs)
		if !ok {
			continue
		}
		if r.method == method || (method == http.MethodHead && r.method == http.MethodGet) {
			return r.h, vals, nil
		}
		if !slices.Contains(allowed, r.method) {
			allowed = append(allowed, r.method)
		}
	}
	return nil, nil, allowed
}

func (r *route) matches(segs []string) (pathValues, bool) {
	if len(segs) != len(r.segs) {
		return nil, false
	}
	var vals pathValues
	for i, p := range r.segs {
		if strings.HasPrefix(p, "{") {
			if vals == nil {
				vals = pathValues{}
			}
			vals[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return vals, true
}

// splitPath returns the percent-decoded segments of an escaped path; ok
// is false for a malformed escape.
func splitPath(escaped string) ([]string, bool) {
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(escaped, "/"), "/"), "/")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		parts[i] = s
	}
	return parts, true
}
