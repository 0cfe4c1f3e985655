package mgmt

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/policy"
)

// Runtime parameters and global parameters: rabbit_mgmt_wm_parameter(s)
// and rabbit_mgmt_wm_global_parameter(s). Parameters need policymaker
// (and access to the vhost); global ones policymaker. Warren keeps any
// component's parameters as given (RabbitMQ keeps those of the
// components its plugins register). Policies are listed as parameters of
// the "policy" component, as RabbitMQ lists them, but are set and cleared
// only through /api/policies (rabbit_runtime_parameters refuses them);
// operator policies set here are validated as /api/operator-policies
// validates them.

func (s *Server) parameterRoutes() {
	s.on("GET", "/api/parameters", policymaker, s.listParameters)
	s.on("GET", "/api/parameters/{component}", policymaker, s.listParameters)
	s.on("GET", "/api/parameters/{component}/{vhost}", policymaker, s.listParameters)
	s.on("GET", "/api/parameters/{component}/{vhost}/{name}", policymaker, s.getParameter)
	s.on("PUT", "/api/parameters/{component}/{vhost}/{name}", policymaker, s.putParameter)
	s.on("DELETE", "/api/parameters/{component}/{vhost}/{name}", policymaker, s.deleteParameter)
	s.on("GET", "/api/global-parameters", globalPolicymaker, s.listGlobalParameters)
	s.on("GET", "/api/global-parameters/{name}", globalPolicymaker, s.getGlobalParameter)
	s.on("PUT", "/api/global-parameters/{name}", globalPolicymaker, s.putGlobalParameter)
	s.on("DELETE", "/api/global-parameters/{name}", globalPolicymaker, s.deleteGlobalParameter)
}

// The components under which RabbitMQ keeps policies and operator
// policies.
const (
	policyComponent         = "policy"
	operatorPolicyComponent = "operator_policy"
)

func parameterItem(p broker.DefParameter) item {
	return item{"vhost": p.Vhost, "component": p.Component, "name": p.Name, "value": p.Value}
}

// parameters returns the parameters matching the path's component and
// vhost, in vhosts the user may use.
func (s *Server) parameters(r *request) []broker.DefParameter {
	visible := map[string]bool{}
	for _, v := range s.loginVhosts(r.user, false) {
		visible[v] = true
	}
	var out []broker.DefParameter
	for _, p := range append(s.policyParameters(), s.b.Snapshot().Parameters...) {
		if (r.path("component") != "" && p.Component != r.path("component")) ||
			(r.path("vhost") != "" && p.Vhost != r.path("vhost")) || (!isAdmin(r.user) && !visible[p.Vhost]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (s *Server) listParameters(r *request) (reply, *apiError) {
	if v := r.path("vhost"); v != "" && !hasVhost(s.b.Snapshot(), v) {
		return reply{}, notFound()
	}
	var out []item
	for _, p := range s.parameters(r) {
		if p.Name == r.path("name") || r.path("name") == "" {
			out = append(out, parameterItem(p))
		}
	}
	return list(r, out, "vhost", "component", "name")
}

func (s *Server) getParameter(r *request) (reply, *apiError) {
	for _, p := range s.parameters(r) {
		if p.Name == r.path("name") {
			return ok(parameterItem(p))
		}
	}
	return reply{}, notFound()
}

// valueBody reads {"value": ...}.
func valueBody(r *request) (json.RawMessage, *apiError) {
	var b struct {
		Value json.RawMessage `json:"value"`
	}
	if err := r.decode(&b); err != nil {
		return nil, err
	}
	if len(b.Value) == 0 || bytes.Equal(b.Value, []byte("null")) {
		return nil, missing("value")
	}
	return b.Value, nil
}

func (s *Server) putParameter(r *request) (reply, *apiError) {
	v, aerr := valueBody(r)
	if aerr != nil {
		return reply{}, aerr
	}
	comp, vhost, name := r.path("component"), r.path("vhost"), r.path("name")
	if comp == policyComponent {
		return reply{}, badRequest("policies may not be set using this method")
	}
	if !hasVhost(s.b.Snapshot(), vhost) {
		return reply{}, notFound()
	}
	if comp == operatorPolicyComponent {
		p, aerr := operatorPolicyValue(name, v)
		rep := reply{}
		if aerr == nil {
			rep, aerr = s.setPolicy(r, p, true)
		}
		if aerr != nil {
			// rabbit_mgmt_wm_parameter escapes its refusals.
			aerr = escapeHTML(aerr)
		}
		return rep, aerr
	}
	_, gerr := s.getParameter(r)
	if err := s.b.SetParameter(r.Context(), vhost, comp, name, v); err != nil {
		return reply{}, fromBroker(err)
	}
	return createdOrNot(gerr != nil)
}

func (s *Server) deleteParameter(r *request) (reply, *apiError) {
	if _, err := s.getParameter(r); err != nil {
		return reply{}, err
	}
	switch r.path("component") {
	case policyComponent:
		return reply{}, badRequest("policies may not be cleared using this method")
	case operatorPolicyComponent:
		return s.deletePolicy(true)(r)
	}
	if err := s.b.ClearParameter(r.Context(), r.path("vhost"), r.path("component"), r.path("name")); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}

// policyParameters are the policies as parameters of the "policy"
// component, their value as RabbitMQ stores it.
func (s *Server) policyParameters() []broker.DefParameter {
	var out []broker.DefParameter
	for _, p := range s.b.Policies("") {
		it := policyItem(p)
		v, _ := json.Marshal(item{"pattern": it["pattern"], "definition": it["definition"],
			"priority": it["priority"], "apply-to": it["apply-to"]})
		out = append(out, broker.DefParameter{Vhost: p.Vhost, Component: policyComponent, Name: p.Name, Value: v})
	}
	return out
}

// operatorPolicyValue reads an operator_policy parameter's value as
// rabbit_policy validates it (rabbit_parameter_validation:proplist):
// an object with pattern, definition and priority, and maybe apply-to.
func operatorPolicyValue(name string, v json.RawMessage) (policy.Policy, *apiError) {
	var fields map[string]json.RawMessage
	var b policyBody
	if json.Unmarshal(v, &fields) != nil || fields == nil || json.Unmarshal(v, &b) != nil {
		var term any
		json.Unmarshal(v, &term)
		return policy.Policy{}, validationFailed([]string{name + " not a list " + policy.ErlangTerm(term)})
	}
	var miss []string
	for _, k := range []string{"pattern", "definition", "priority"} {
		if !present(fields[k]) {
			miss = append(miss, fmt.Sprintf("Key %q not found in %s", k, name))
		}
	}
	if miss != nil {
		return policy.Policy{}, validationFailed(miss)
	}
	return parsePolicy(name, b)
}

func (s *Server) listGlobalParameters(r *request) (reply, *apiError) {
	var out []item
	for _, p := range s.b.Snapshot().GlobalParameters {
		out = append(out, item{"name": p.Name, "value": p.Value})
	}
	return list(r, out, "name")
}

func (s *Server) findGlobal(name string) (broker.DefGlobalParameter, bool) {
	for _, p := range s.b.Snapshot().GlobalParameters {
		if p.Name == name {
			return p, true
		}
	}
	return broker.DefGlobalParameter{}, false
}

func (s *Server) getGlobalParameter(r *request) (reply, *apiError) {
	p, found := s.findGlobal(r.path("name"))
	if !found {
		return reply{}, notFound()
	}
	return ok(item{"name": p.Name, "value": p.Value})
}

func (s *Server) putGlobalParameter(r *request) (reply, *apiError) {
	v, aerr := valueBody(r)
	if aerr != nil {
		return reply{}, aerr
	}
	_, existed := s.findGlobal(r.path("name"))
	if err := s.b.SetGlobalParameter(r.Context(), r.path("name"), v); err != nil {
		return reply{}, fromBroker(err)
	}
	return createdOrNot(!existed)
}

func (s *Server) deleteGlobalParameter(r *request) (reply, *apiError) {
	if _, found := s.findGlobal(r.path("name")); !found {
		return reply{}, notFound()
	}
	if err := s.b.ClearGlobalParameter(r.Context(), r.path("name")); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}
