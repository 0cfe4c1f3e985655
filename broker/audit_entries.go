package broker

import (
	"encoding/json"
	neturl "net/url"
	"strings"

	"github.com/warrenmq/warren/broker/policy"
)

// The audit entries of the Go API's changes (audit.go): what each sets,
// never a password or a password hash.

// credentials says how a user's password is set, without it.
func credentialsKind(spec UserSpec) string {
	switch {
	case spec.Password != nil && *spec.Password != "":
		return "password"
	case spec.HashSet && len(spec.PasswordHash) > 0:
		return "password_hash"
	}
	return "none"
}

func userPutEntry(spec UserSpec) AuditEntry {
	return AuditEntry{Action: "user.put", User: spec.Name,
		Changes: map[string]any{"tags": nonNil(spec.Tags), "credentials": credentialsKind(spec)}}
}

func permissionEntry(user, vhost string, p Permission) AuditEntry {
	return AuditEntry{Action: "permission.set", User: user, Vhost: vhost,
		Changes: map[string]any{"configure": p.Configure, "write": p.Write, "read": p.Read}}
}

func topicPermissionEntry(user, vhost, exchange, write, read string) AuditEntry {
	return AuditEntry{Action: "topic_permission.set", User: user, Vhost: vhost,
		Changes: map[string]any{"exchange": exchange, "write": write, "read": read}}
}

func vhostPutEntry(name string, m VhostMetadata) AuditEntry {
	return AuditEntry{Action: "vhost.put", Vhost: name, Changes: map[string]any{
		"description": m.Description, "tags": nonNil(m.Tags), "default_queue_type": m.DefaultQueueType}}
}

func limitsChanges(l Limits) map[string]any {
	out := make(map[string]any, len(l))
	for k, v := range l {
		out[k] = v
	}
	return map[string]any{"limits": out}
}

func policyEntry(vhost string, p policy.Policy, operator bool) AuditEntry {
	action := "policy.set"
	if operator {
		action = "operator_policy.set"
	}
	return AuditEntry{Action: action, Vhost: vhost, Name: p.Name, Changes: map[string]any{
		"pattern": p.Pattern, "apply-to": p.ApplyTo, "priority": p.Priority,
		"definition": json.RawMessage(p.Definition.JSON())}}
}

func parameterEntry(vhost, component, name string, value json.RawMessage) AuditEntry {
	return AuditEntry{Action: "parameter.set", Vhost: vhost, Component: component, Name: name,
		Changes: map[string]any{"value": redactValue(value)}}
}

func importEntry(d *Definitions) AuditEntry {
	return AuditEntry{Action: "definitions.import", Changes: map[string]any{
		"users": len(d.Users), "vhosts": len(d.Vhosts), "permissions": len(d.Permissions),
		"topic_permissions": len(d.TopicPermissions), "parameters": len(d.Parameters),
		"global_parameters": len(d.GlobalParameters), "policies": len(d.Policies),
		"exchanges": len(d.Exchanges), "queues": len(d.Queues), "bindings": len(d.Bindings)}}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// redactValue is a parameter's value with what may be a secret hidden: a
// password in a URI's user info (a federation upstream's or a shovel's
// amqp://user:password@host) and the value of any key naming a password
// or secret. A value that is not JSON is kept out entirely.
func redactValue(v json.RawMessage) any {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return "(not JSON)"
	}
	return redact(x)
}

func redact(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || strings.Contains(lk, "passphrase") {
				v[k] = "(redacted)"
				continue
			}
			v[k] = redact(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = redact(e)
		}
		return v
	case string:
		return redactURI(v)
	}
	return x
}

// redactURI hides the password of a URI with one.
func redactURI(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := neturl.Parse(s)
	if err != nil {
		return "(redacted)"
	}
	if u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	u.User = neturl.UserPassword(u.User.Username(), "redacted")
	return u.String()
}
