package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// maxBody bounds what is read of an answer (a definitions export
// included), so that a wrong URL cannot make warrenctl read without end.
const maxBody = 256 << 20

// client calls the management API as one user.
type client struct {
	base       string // such as http://127.0.0.1:15672, no trailing slash
	user, pass string
	timeout    time.Duration
	http       *http.Client
}

// newClient makes the client for the connection flags: the URL's scheme
// decides HTTP or HTTPS, cacert and insecure configure the latter.
func newClient(o *options) (*client, error) {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &usageError{exitUsage, fmt.Sprintf("--url %q is not an http:// or https:// URL", o.url)}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		cfg, err := tlsConfig(o.cacert, o.insecure)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	return &client{base: strings.TrimSuffix(o.url, "/"), user: o.username, pass: o.password, timeout: o.timeout,
		http: &http.Client{Transport: tr, Timeout: o.timeout}}, nil
}

// tlsConfig trusts the CAs of the PEM file cacert (the system's when
// empty), or any certificate with insecure.
func tlsConfig(cacert string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}
	if cacert == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(cacert)
	if err != nil {
		return nil, fail(exitDataErr, "Error: --cacert: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fail(exitDataErr, "Error: --cacert: %s holds no PEM certificate", cacert)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// close releases the client's idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// apiPath joins the segments under /api, each escaped on its own so that
// the vhost "/" is "%2F", as the API wants it.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// response is an answer of the API.
type response struct {
	status int
	body   []byte
}

// ok reports a 2xx status.
func (r response) ok() bool { return r.status >= 200 && r.status < 300 }

// errorBody is the API's {"error": …, "reason": …}.
func (r response) reason() string {
	var e struct {
		Error  string          `json:"error"`
		Reason json.RawMessage `json:"reason"`
	}
	if json.Unmarshal(r.body, &e) != nil {
		return strings.TrimSpace(string(r.body))
	}
	var s string
	if json.Unmarshal(e.Reason, &s) == nil && s != "" {
		return html.UnescapeString(s)
	}
	if len(e.Reason) > 0 && string(e.Reason) != "null" {
		return string(e.Reason)
	}
	return e.Error
}

// request is one call: a method, a path from apiPath with an optional
// query, a body (nil, raw JSON bytes or a value sent as JSON) and headers.
type request struct {
	method, path string
	body         any
	header       map[string]string
}

// do sends a request and reads its answer; it fails only when the API
// cannot be reached or answers too much.
func (c *client) do(ctx context.Context, r request) (response, error) {
	var rd io.Reader
	switch b := r.body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, fail(exitSoftware, "Error: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, rd)
	if err != nil {
		return response{}, fail(exitUsage, "Error: %v", err)
	}
	req.SetBasicAuth(c.user, c.pass)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, c.unreachable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return response{}, c.unreachable(err)
	}
	if len(body) > maxBody {
		return response{}, fail(exitUnavailable, "Error: the answer of %s%s is larger than %d bytes", c.base, r.path, maxBody)
	}
	return response{status: resp.StatusCode, body: body}, nil
}

// unreachable reports a request that got no answer.
func (c *client) unreachable(err error) *cliError {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fail(exitTempFail, "Error: the management API at %s did not answer within %v (--timeout)", c.base, c.timeout)
	}
	return fail(exitUnavailable, "Error: unable to reach the management API at %s: %v", c.base, unwrapURLError(err))
}

// unwrapURLError drops net/url's "Get \"…\":" prefix, which repeats the
// address.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// failure turns an answer that is not 2xx into what rabbitmqctl prints:
// notFound says what a 404 means for this request (nil: the API's
// text).
func (c *client) failure(r response, notFound func() error) error {
	switch {
	case r.status == http.StatusUnauthorized:
		return fail(exitNoPerm, "Error: user %q is not authorised: %s", c.user, r.reason())
	case r.status == http.StatusNotFound && notFound != nil:
		return notFound()
	case r.status == http.StatusNotFound:
		return fail(exitDataErr, "Error:\n%s", r.reason())
	case r.status >= 400 && r.status < 500:
		return fail(exitDataErr, "Error:\n%s", r.reason())
	case r.status >= 500:
		return fail(exitUnavailable, "Error: the management API answered %d:\n%s", r.status, r.reason())
	}
	return fail(exitSoftware, "Error: unexpected answer %d from %s:\n%s", r.status, c.base, r.reason())
}

// call sends a request and fails unless the answer is 2xx.
func (c *client) call(ctx context.Context, r request, notFound func() error) (response, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return resp, err
	}
	if !resp.ok() {
		return resp, c.failure(resp, notFound)
	}
	return resp, nil
}

// get GETs path and decodes the JSON answer into v.
func (c *client) get(ctx context.Context, path string, v any, notFound func() error) error {
	resp, err := c.call(ctx, request{method: http.MethodGet, path: path}, notFound)
	if err != nil {
		return err
	}
	return decodeJSON(resp.body, v, path)
}

// decodeJSON decodes an answer, numbers kept exact.
func decodeJSON(body []byte, v any, path string) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fail(exitSoftware, "Error: the answer of %s is not the JSON expected: %v", path, err)
	}
	return nil
}

// exists reports whether GET path answers 200 (false on 404).
func (c *client) exists(ctx context.Context, path string) (bool, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path})
	if err != nil {
		return false, err
	}
	switch {
	case resp.ok():
		return true, nil
	case resp.status == http.StatusNotFound:
		return false, nil
	}
	return false, c.failure(resp, nil)
}

// vhostOr is a 404's meaning where the vhost or another object may be
// missing: the vhost when it does not exist, otherwise other.
func (c *client) vhostOr(ctx context.Context, vhost string, other func() error) func() error {
	return func() error {
		found, err := c.exists(ctx, apiPath("vhosts", vhost))
		if err != nil {
			return err
		}
		if !found {
			return noSuchVhost(vhost)
		}
		return other()
	}
}
