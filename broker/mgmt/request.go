package mgmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/warrenmq/warren/broker"
)

// request is one API call being answered: who sends it, with which
// password (for the node's own AMQP connection, direct.go) and the
// path's values.
type request struct {
	*http.Request
	w        http.ResponseWriter
	user     broker.UserInfo
	password string
	vals     pathValues
}

// reply is a handler's answer: a status (0 is 200) and a body to encode
// as JSON (none when nil).
type reply struct {
	status int
	body   any
}

// handlerFunc answers a request.
type handlerFunc func(*request) (reply, *apiError)

// ok is a 200 with body.
func ok(body any) (reply, *apiError) { return reply{body: body}, nil }

// noContent is RabbitMQ's answer to a change: 204.
func noContent() (reply, *apiError) { return reply{status: http.StatusNoContent}, nil }

// createdOrNot is 201 for something created, 204 for something changed.
func createdOrNot(created bool) (reply, *apiError) {
	if created {
		return reply{status: http.StatusCreated}, nil
	}
	return noContent()
}

// path returns a named segment of the request's path.
func (r *request) path(name string) string { return r.vals[name] }

// on registers a handler with the access it needs.
func (s *Server) on(method, pattern string, a access, h handlerFunc) {
	s.rt.handle(method, pattern, http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		vals, _ := hr.Context().Value(pathKey{}).(pathValues)
		u, pass, err := s.login(hr)
		if err == nil {
			err = s.authorise(u, a, vals["vhost"])
		}
		if err != nil {
			if err.kind == "" {
				w.Header().Set("WWW-Authenticate", authRealm)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			writeError(w, err)
			return
		}
		hr = hr.WithContext(broker.WithActor(hr.Context(),
			broker.Actor{User: u.Name, From: hr.RemoteAddr, Interface: broker.InterfaceHTTP}))
		rep, aerr := h(&request{Request: hr, w: w, user: u, password: pass, vals: vals})
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		switch {
		case rep.status == 0:
			writeJSON(w, http.StatusOK, applyColumns(hr, rep.body))
		case rep.body != nil:
			writeJSON(w, rep.status, rep.body)
		default:
			w.WriteHeader(rep.status)
		}
	}))
}

// decode reads the request's JSON object into v; an empty body is {}.
// The errors are RabbitMQ's: "not_json", or the doubly-encoded string.
func (r *request) decode(v any) *apiError {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return badRequest("Exceeded HTTP request body size limit")
		}
		return badRequest("not_json")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" || string(b) == "undefined" {
		b = []byte("{}")
	}
	if b[0] == '"' {
		return badRequest("invalid payload: the request body JSON-decoded to a string. Is the input doubly-JSON-encoded?")
	}
	if b[0] != '{' {
		return badRequest("not_json")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("not_json")
	}
	return nil
}

// missing is RabbitMQ's reason for keys a body lacks, as Erlang's ~p
// prints the list: "[{key_missing,write},{key_missing,read}]" on one
// line when it fits in 80 columns, else one element a line.
func missing(keys ...string) *apiError {
	elems := make([]string, len(keys))
	for i, k := range keys {
		elems[i] = "{key_missing," + k + "}"
	}
	s := "[" + strings.Join(elems, ",") + "]"
	if len(s)+1 > 80 {
		s = "[" + strings.Join(elems, ",\n ") + "]"
	}
	return badRequest(s)
}
