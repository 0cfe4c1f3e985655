package mgmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/broker/policy"
)

// Policies and operator policies: rabbit_mgmt_wm_policies,
// rabbit_mgmt_wm_policy and their operator siblings. The lists are any
// management user's, cut to the vhosts the user may use; one policy is a
// policymaker's (with access to its vhost), one operator policy an
// administrator's. A policy is validated by the broker with RabbitMQ's
// texts and refused with 400 "Validation failed …".

func (s *Server) policyRoutes() {
	for _, k := range []struct {
		path     string
		operator bool
		one      access
	}{{"/api/policies", false, policymaker}, {"/api/operator-policies", true, admin}} {
		s.on("GET", k.path, anyUser, s.listPolicies(k.operator))
		s.on("GET", k.path+"/{vhost}", vhostUser, s.listPolicies(k.operator))
		s.on("GET", k.path+"/{vhost}/{name}", k.one, s.getPolicy(k.operator))
		s.on("PUT", k.path+"/{vhost}/{name}", k.one, s.putPolicy(k.operator))
		s.on("DELETE", k.path+"/{vhost}/{name}", k.one, s.deletePolicy(k.operator))
	}
}

// policyItem is a policy as rabbit_policy:p formats it.
func policyItem(p meta.VhostPolicy) item {
	applyTo := p.ApplyTo
	if applyTo == "" {
		applyTo = policy.ApplyAll
	}
	return item{"vhost": p.Vhost, "name": p.Name, "pattern": p.Pattern, "apply-to": applyTo,
		"definition": json.RawMessage(p.Definition.JSON()), "priority": p.Priority}
}

// policiesIn returns the (operator) policies of vhost ("" for all).
func (s *Server) policiesIn(vhost string, operator bool) []meta.VhostPolicy {
	if operator {
		return s.b.OperatorPolicies(vhost)
	}
	return s.b.Policies(vhost)
}

// findPolicy returns the path's policy.
func (s *Server) findPolicy(r *request, operator bool) (meta.VhostPolicy, bool) {
	if !s.vhostExists(r.path("vhost")) {
		return meta.VhostPolicy{}, false
	}
	for _, p := range s.policiesIn(r.path("vhost"), operator) {
		if p.Name == r.path("name") {
			return p, true
		}
	}
	return meta.VhostPolicy{}, false
}

func (s *Server) listPolicies(operator bool) handlerFunc {
	return func(r *request) (reply, *apiError) {
		vhosts, err := s.vhostsOf(r)
		if err != nil {
			return reply{}, err
		}
		visible := map[string]bool{}
		for _, v := range vhosts {
			visible[v] = true
		}
		out := []item{}
		for _, p := range s.policiesIn(r.path("vhost"), operator) {
			if visible[p.Vhost] {
				out = append(out, policyItem(p))
			}
		}
		return list(r, out, "priority")
	}
}

func (s *Server) getPolicy(operator bool) handlerFunc {
	return func(r *request) (reply, *apiError) {
		p, found := s.findPolicy(r, operator)
		if !found {
			return reply{}, notFound()
		}
		return ok(policyItem(p))
	}
}

// policyBody is a PUT's body: pattern and definition are required.
type policyBody struct {
	Pattern    json.RawMessage `json:"pattern"`
	Definition json.RawMessage `json:"definition"`
	Priority   json.RawMessage `json:"priority"`
	ApplyTo    json.RawMessage `json:"apply-to"`
}

// present reports whether a key was given with a value other than null.
func present(v json.RawMessage) bool { return len(v) > 0 && !bytes.Equal(v, []byte("null")) }

// readPolicy reads a PUT's body into a policy named by the path.
func readPolicy(r *request) (policy.Policy, *apiError) {
	var b policyBody
	if err := r.decode(&b); err != nil {
		return policy.Policy{}, err
	}
	return parsePolicy(r.path("name"), b)
}

// parsePolicy checks a body's keys and values and returns its policy.
func parsePolicy(name string, b policyBody) (policy.Policy, *apiError) {
	var miss []string
	if !present(b.Pattern) {
		miss = append(miss, "pattern")
	}
	if !present(b.Definition) {
		miss = append(miss, "definition")
	}
	if miss != nil {
		return policy.Policy{}, missing(miss...)
	}
	p := policy.Policy{Name: name, ApplyTo: policy.ApplyAll}
	if err := json.Unmarshal(b.Pattern, &p.Pattern); err != nil {
		return p, validation("pattern", b.Pattern, "should be a string")
	}
	if present(b.ApplyTo) {
		if err := json.Unmarshal(b.ApplyTo, &p.ApplyTo); err != nil {
			return p, validation("apply-to", b.ApplyTo, "should be a string")
		}
	}
	if present(b.Priority) {
		if err := json.Unmarshal(b.Priority, &p.Priority); err != nil {
			return p, validation("priority", b.Priority, "should be a number")
		}
	}
	d, err := policy.ParseDefinition(b.Definition)
	if err != nil {
		return p, policyRefusal(err)
	}
	p.Definition = d
	return p, nil
}

// validation is rabbit_parameter_validation's refusal of a key's value:
// "priority should be a number, actually was <<\"x\">>".
func validation(key string, raw json.RawMessage, what string) *apiError {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return badRequest("not_json")
	}
	return validationFailed([]string{key + " " + what + ", actually was " + policy.ErlangTerm(v)})
}

// validationFailed is rabbit_runtime_parameters' error string:
// "Validation failed", a blank line, then each reason on a line.
func validationFailed(reasons []string) *apiError {
	return badRequest("Validation failed\n\n" + strings.Join(reasons, "\n") + "\n")
}

// policyRefusal answers a broker error of SetPolicy: a validation
// error's reasons as RabbitMQ writes them, anything else as fromBroker.
func policyRefusal(err error) *apiError {
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		return validationFailed(ve.Reasons)
	}
	return fromBroker(err)
}

func (s *Server) putPolicy(operator bool) handlerFunc {
	return func(r *request) (reply, *apiError) {
		if !s.vhostExists(r.path("vhost")) {
			return reply{}, &apiError{status: 404, kind: "not_found", reason: "vhost_not_found"}
		}
		p, aerr := readPolicy(r)
		var rep reply
		if aerr == nil {
			rep, aerr = s.setPolicy(r, p, operator)
		}
		if aerr != nil && !operator {
			aerr = escapeHTML(aerr)
		}
		return rep, aerr
	}
}

// escapeHTML escapes a refusal's text as rabbit_mgmt_wm_policy does
// (rabbit_mgmt_format:escape_html_tags; the operator policies' resource
// does not): "<<\"ten\">>" becomes "&lt;&lt;\"ten\"&gt;&gt;".
func escapeHTML(e *apiError) *apiError {
	if s, ok := e.reason.(string); ok {
		e.reason = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	}
	return e
}

// setPolicy sets p in the path's vhost: 201 when new, 204 when replaced.
func (s *Server) setPolicy(r *request, p policy.Policy, operator bool) (reply, *apiError) {
	_, existed := s.findPolicy(r, operator)
	set := s.b.SetPolicy
	if operator {
		set = s.b.SetOperatorPolicy
	}
	if err := set(r.Context(), r.path("vhost"), p); err != nil {
		return reply{}, policyRefusal(err)
	}
	return createdOrNot(!existed)
}

func (s *Server) deletePolicy(operator bool) handlerFunc {
	return func(r *request) (reply, *apiError) {
		if _, found := s.findPolicy(r, operator); !found {
			return reply{}, notFound()
		}
		clear := s.b.ClearPolicy
		if operator {
			clear = s.b.ClearOperatorPolicy
		}
		if err := clear(r.Context(), r.path("vhost"), r.path("name")); err != nil {
			return reply{}, fromBroker(err)
		}
		return noContent()
	}
}
