package mgmt

import (
	"encoding/json"
	"net/http"
)

// The error bodies of RabbitMQ's management plugin: {"error": kind,
// "reason": text} with the status rabbit_mgmt_util answers.

const (
	authRealm = `Basic realm="RabbitMQ Management"`

	reasonNotMgmt        = "Not management user"
	reasonNotAdmin       = "Not administrator user"
	reasonNotMonitor     = "Not monitor user"
	reasonNoVhostAccess  = "User not authorised to access virtual host"
	reasonNoObjectAccess = "User not authorised to access object"
)

// apiError is an answer other than success.
type apiError struct {
	status int
	kind   string
	reason any // a string, or RabbitMQ's term for a few validation errors
}

func (e *apiError) Error() string {
	if s, ok := e.reason.(string); ok {
		return e.kind + ": " + s
	}
	return e.kind
}

func notFound() *apiError {
	return &apiError{status: http.StatusNotFound, kind: "Object Not Found", reason: "Not Found"}
}

func badRequest(reason any) *apiError {
	return &apiError{status: http.StatusBadRequest, kind: "bad_request", reason: reason}
}

func notAuthorised(reason string) *apiError {
	return &apiError{status: http.StatusUnauthorized, kind: "not_authorised", reason: reason}
}

func loginFailed(reason string) *apiError {
	return &apiError{status: http.StatusUnauthorized, kind: "not_authorized", reason: reason}
}

func internalError(reason string) *apiError {
	return &apiError{status: http.StatusInternalServerError, kind: "internal_server_error", reason: reason}
}

// writeError writes e as RabbitMQ does; a failed login also asks for
// basic auth (a refusal by tags or permissions does not).
func writeError(w http.ResponseWriter, e *apiError) {
	if e.kind == "not_authorized" {
		w.Header().Set("WWW-Authenticate", authRealm)
	}
	writeJSON(w, e.status, map[string]any{"error": e.kind, "reason": e.reason})
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "internal_server_error", "reason": err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "accept, accept-encoding, origin")
	w.WriteHeader(status)
	w.Write(b)
}
