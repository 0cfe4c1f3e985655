package broker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/warrenmq/warren/protocol"
)

// RabbitMQ's definitions file, as rabbitmqctl export_definitions and the
// management API write it and as load_definitions reads it: the shape of
// rabbit_definitions' maps. Values Warren keeps but does not act on yet
// (parameters, policies, global parameters, vhost tags) are kept as the
// JSON they came as, so that an import followed by an export loses
// nothing. Both 3.x's and 4.x's spellings are read: user tags as a list
// or a comma-separated string, vhost limits as an object or a list of
// [name, value] pairs, vhost tags as a list or a string.

// Definitions is a RabbitMQ definitions document.
type Definitions struct {
	RabbitVersion    string               `json:"rabbit_version,omitempty"`
	RabbitMQVersion  string               `json:"rabbitmq_version,omitempty"`
	ProductName      string               `json:"product_name,omitempty"`
	ProductVersion   string               `json:"product_version,omitempty"`
	Users            []DefUser            `json:"users"`
	Vhosts           []DefVhost           `json:"vhosts"`
	Permissions      []DefPermission      `json:"permissions"`
	TopicPermissions []DefTopicPermission `json:"topic_permissions"`
	Parameters       []DefParameter       `json:"parameters"`
	GlobalParameters []DefGlobalParameter `json:"global_parameters"`
	Policies         []DefPolicy          `json:"policies"`
	Queues           []DefQueue           `json:"queues"`
	Exchanges        []DefExchange        `json:"exchanges"`
	Bindings         []DefBinding         `json:"bindings"`
}

// DefUser is a user: a password hash (base64) and its algorithm, or a
// cleartext password, hashed on import.
type DefUser struct {
	Name             string    `json:"name"`
	PasswordHash     *string   `json:"password_hash,omitempty"`
	Password         *string   `json:"password,omitempty"`
	HashingAlgorithm string    `json:"hashing_algorithm,omitempty"`
	Tags             DefTags   `json:"tags"`
	Limits           DefLimits `json:"limits"`
}

// DefVhost is a vhost with its metadata and limits.
type DefVhost struct {
	Name        string       `json:"name"`
	Description *string      `json:"description,omitempty"`
	Tags        DefTags      `json:"tags,omitempty"`
	Metadata    *DefMetadata `json:"metadata,omitempty"`
	Limits      DefLimits    `json:"limits"`
}

// DefMetadata is a vhost's metadata.
type DefMetadata struct {
	Description      string  `json:"description"`
	Tags             DefTags `json:"tags"`
	DefaultQueueType string  `json:"default_queue_type,omitempty"`
}

// DefPermission is a user's permissions in a vhost.
type DefPermission struct {
	User      string `json:"user"`
	Vhost     string `json:"vhost"`
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// DefTopicPermission is a user's topic permissions on an exchange.
type DefTopicPermission struct {
	User     string `json:"user"`
	Vhost    string `json:"vhost"`
	Exchange string `json:"exchange"`
	Write    string `json:"write"`
	Read     string `json:"read"`
}

// DefParameter is a runtime parameter of a vhost.
type DefParameter struct {
	Vhost     string          `json:"vhost"`
	Component string          `json:"component"`
	Name      string          `json:"name"`
	Value     json.RawMessage `json:"value"`
}

// DefGlobalParameter is a global runtime parameter.
type DefGlobalParameter struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// DefPolicy is a policy, kept as given.
type DefPolicy struct {
	Vhost      string          `json:"vhost"`
	Name       string          `json:"name"`
	Pattern    string          `json:"pattern"`
	ApplyTo    string          `json:"apply-to,omitempty"`
	Definition json.RawMessage `json:"definition"`
	Priority   int64           `json:"priority"`
}

// DefQueue is a queue.
type DefQueue struct {
	Name       string  `json:"name"`
	Vhost      string  `json:"vhost"`
	Type       string  `json:"type,omitempty"`
	Durable    *bool   `json:"durable,omitempty"`
	AutoDelete bool    `json:"auto_delete"`
	Arguments  DefArgs `json:"arguments"`
	Exclusive  bool    `json:"exclusive,omitempty"`
}

// DefExchange is an exchange.
type DefExchange struct {
	Name       string  `json:"name"`
	Vhost      string  `json:"vhost"`
	Type       string  `json:"type"`
	Durable    *bool   `json:"durable,omitempty"`
	AutoDelete bool    `json:"auto_delete"`
	Internal   bool    `json:"internal"`
	Arguments  DefArgs `json:"arguments"`
}

// DefBinding is a binding.
type DefBinding struct {
	Source          string  `json:"source"`
	Vhost           string  `json:"vhost"`
	Destination     string  `json:"destination"`
	DestinationType string  `json:"destination_type"`
	RoutingKey      string  `json:"routing_key"`
	Arguments       DefArgs `json:"arguments"`
}

// DefTags are tags, written as a list and read as a list or a
// comma-separated string (3.x's users, and an empty vhost's "").
type DefTags []string

// UnmarshalJSON implements json.Unmarshaler.
func (t *DefTags) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*t = append(*t, p)
			}
		}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("tags must be a list of strings or a comma-separated string")
	}
	*t = nil
	for _, p := range l {
		if p = strings.TrimSpace(p); p != "" {
			*t = append(*t, p)
		}
	}
	return nil
}

// MarshalJSON implements json.Marshaler: always a list.
func (t DefTags) MarshalJSON() ([]byte, error) {
	if t == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(t))
}

// DefLimits are limits, written as an object and read as an object or a
// list of [name, value] pairs (3.x's vhosts).
type DefLimits map[string]int64

// UnmarshalJSON implements json.Unmarshaler.
func (l *DefLimits) UnmarshalJSON(b []byte) error {
	var m map[string]json.Number
	if err := json.Unmarshal(b, &m); err == nil {
		return l.set(m)
	}
	var pairs [][]json.RawMessage
	if err := json.Unmarshal(b, &pairs); err != nil {
		return errors.New("limits must be an object or a list of [name, value] pairs")
	}
	m = make(map[string]json.Number, len(pairs))
	for _, p := range pairs {
		var name string
		var v json.Number
		if len(p) != 2 || json.Unmarshal(p[0], &name) != nil || json.Unmarshal(p[1], &v) != nil {
			return errors.New("a limit pair must be [name, integer]")
		}
		m[name] = v
	}
	return l.set(m)
}

func (l *DefLimits) set(m map[string]json.Number) error {
	*l = nil
	for k, v := range m {
		n, err := v.Int64()
		if err != nil {
			return fmt.Errorf("limit '%s' must be an integer, not %s", k, v)
		}
		if *l == nil {
			*l = make(DefLimits, len(m))
		}
		(*l)[k] = n
	}
	return nil
}

// MarshalJSON implements json.Marshaler: always an object.
func (l DefLimits) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]int64(l))
}

// DefArgs are AMQP arguments as JSON: numbers become long integers (or
// doubles when not whole), objects tables, arrays arrays.
type DefArgs protocol.Table

// UnmarshalJSON implements json.Unmarshaler.
func (a *DefArgs) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*a = nil
		return nil
	case []any:
		if len(v) == 0 { // Erlang's empty proplist
			*a = nil
			return nil
		}
	case map[string]any:
		t, err := jsonToTable(v, 0)
		*a = DefArgs(t)
		return err
	}
	return errors.New("arguments must be an object")
}

// MarshalJSON implements json.Marshaler.
func (a DefArgs) MarshalJSON() ([]byte, error) {
	return json.Marshal(tableToJSON(protocol.Table(a)))
}

// maxArgDepth bounds the nesting of imported arguments.
const maxArgDepth = 32

func jsonToTable(m map[string]any, depth int) (protocol.Table, error) {
	t := make(protocol.Table, len(m))
	for k, v := range m {
		fv, err := jsonToField(v, depth+1)
		if err != nil {
			return nil, fmt.Errorf("argument '%s': %w", k, err)
		}
		t[k] = fv
	}
	return t, nil
}

func jsonToField(v any, depth int) (any, error) {
	if depth > maxArgDepth {
		return nil, errors.New("nested too deep")
	}
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s out of range", v)
		}
		return f, nil
	case map[string]any:
		return jsonToTable(v, depth)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			fv, err := jsonToField(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = fv
		}
		return out, nil
	}
	return v, nil // string, bool, nil
}

// tableToJSON renders a field table's values as JSON values.
func tableToJSON(t protocol.Table) map[string]any {
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = fieldToJSON(v)
	}
	return out
}

func fieldToJSON(v any) any {
	switch v := v.(type) {
	case protocol.Table:
		return tableToJSON(v)
	case map[string]any:
		return tableToJSON(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = fieldToJSON(e)
		}
		return out
	case []byte:
		return string(v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil
		}
	case protocol.Decimal:
		return fmt.Sprint(v)
	}
	return v
}

// ParseDefinitions reads a definitions document. A document that is not
// JSON of this shape is an error; the values are checked by the import.
func ParseDefinitions(b []byte) (*Definitions, error) {
	var d Definitions
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("definitions: %w", err)
	}
	return &d, nil
}

// passwordHash decodes a user's hash, or hashes its cleartext password.
// Neither, or an empty hash, is a user without a password.
func (u *DefUser) passwordHash() ([]byte, string, error) {
	alg := u.HashingAlgorithm
	if alg == "" {
		alg = "rabbit_password_hashing_sha256"
	}
	switch {
	case u.Password != nil && u.PasswordHash != nil:
		return nil, "", fmt.Errorf("user '%s': both password and password_hash are given", u.Name)
	case u.Password != nil:
		if *u.Password == "" {
			return nil, alg, nil
		}
		return hashPassword(*u.Password), "rabbit_password_hashing_sha256", nil
	case u.PasswordHash == nil || *u.PasswordHash == "":
		return nil, alg, nil
	}
	h, err := base64.StdEncoding.DecodeString(*u.PasswordHash)
	if err != nil {
		return nil, "", fmt.Errorf("user '%s': password_hash is not base64: %w", u.Name, err)
	}
	return h, alg, nil
}
