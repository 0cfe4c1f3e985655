package broker

import (
	"encoding/base64"
	"encoding/json"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
)

// ExportDefinitions returns the node's definitions as a RabbitMQ
// definitions document (JSON), as rabbitmqctl export_definitions writes
// it: users with their password hashes, vhosts with their metadata and
// limits, permissions, topic permissions, parameters, global parameters,
// policies, and the exchanges, queues and bindings clients declared
// (neither the default exchange nor the amq.* ones, nor internal
// exchanges, nor exclusive queues, which belong to a connection).
func (s *Server) ExportDefinitions() ([]byte, error) {
	var d *Definitions
	s.fsm.read(func(st *meta.State) { d = exportState(st) })
	return json.MarshalIndent(d, "", "  ")
}

// exportState builds the document of a state, every list in a stable
// order.
func exportState(st *meta.State) *Definitions {
	d := &Definitions{ProductName: "Warren", ProductVersion: Version}
	for _, u := range st.Users() {
		hash := base64.StdEncoding.EncodeToString(u.PasswordHash)
		d.Users = append(d.Users, DefUser{Name: u.Name, PasswordHash: &hash, HashingAlgorithm: u.Hashing,
			Tags: DefTags(u.Tags), Limits: DefLimits(u.Limits)})
	}
	for _, vh := range st.Vhosts() {
		m := st.VhostMeta(vh)
		d.Vhosts = append(d.Vhosts, DefVhost{Name: vh, Limits: DefLimits(m.Limits),
			Metadata: &DefMetadata{Description: m.Description, Tags: DefTags(m.Tags), DefaultQueueType: m.DefaultQueueType}})
		if len(m.Limits) > 0 {
			v, _ := json.Marshal(DefLimits(m.Limits))
			d.Parameters = append(d.Parameters, DefParameter{Vhost: vh, Component: vhostLimitsComponent, Name: "limits", Value: v})
		}
		exportObjects(d, st, vh)
	}
	for _, p := range st.Permissions() {
		d.Permissions = append(d.Permissions, DefPermission{User: p.User, Vhost: p.Vhost,
			Configure: p.Configure, Write: p.Write, Read: p.Read})
	}
	for _, p := range st.TopicPermissions() {
		d.TopicPermissions = append(d.TopicPermissions, DefTopicPermission{User: p.User, Vhost: p.Vhost,
			Exchange: p.Exchange, Write: p.Write, Read: p.Read})
	}
	for _, p := range st.Parameters() {
		if p.Component == policyComponent {
			var pv policyValue
			if json.Unmarshal(p.Value, &pv) == nil {
				d.Policies = append(d.Policies, DefPolicy{Vhost: p.Vhost, Name: p.Name, Pattern: pv.Pattern,
					ApplyTo: pv.ApplyTo, Definition: pv.Definition, Priority: pv.Priority})
			}
			continue
		}
		d.Parameters = append(d.Parameters, DefParameter{Vhost: p.Vhost, Component: p.Component, Name: p.Name, Value: p.Value})
	}
	for _, p := range st.GlobalParameters() {
		d.GlobalParameters = append(d.GlobalParameters, DefGlobalParameter{Name: p.Name, Value: p.Value})
	}
	emptyLists(d)
	return d
}

// exportObjects adds a vhost's exchanges, queues and bindings.
func exportObjects(d *Definitions, st *meta.State, vh string) {
	for _, x := range st.Exchanges(vh) {
		if x.Name == "" || reservedName(x.Name) || x.Internal {
			continue
		}
		durable := x.Durable
		d.Exchanges = append(d.Exchanges, DefExchange{Name: x.Name, Vhost: vh, Type: x.Kind.String(),
			Durable: &durable, AutoDelete: x.AutoDelete, Arguments: args(x.Args)})
	}
	for _, q := range st.Queues(vh) {
		if q.Exclusive {
			continue
		}
		durable := q.Durable
		d.Queues = append(d.Queues, DefQueue{Name: q.Name, Vhost: vh, Type: q.Type, Durable: &durable,
			AutoDelete: q.AutoDelete, Arguments: args(q.Args)})
	}
	for _, b := range st.Bindings(vh) {
		typ := "queue"
		if b.Destination.Exchange {
			typ = "exchange"
		}
		d.Bindings = append(d.Bindings, DefBinding{Source: b.Source, Vhost: vh, Destination: b.Destination.Name,
			DestinationType: typ, RoutingKey: b.Key, Arguments: args(b.Args)})
	}
}

// args returns t as arguments, {} rather than null when empty.
func args(t protocol.Table) DefArgs {
	if t == nil {
		return DefArgs{}
	}
	return DefArgs(t)
}

// emptyLists makes every list of d [] rather than null, as RabbitMQ
// writes them.
func emptyLists(d *Definitions) {
	if d.Users == nil {
		d.Users = []DefUser{}
	}
	if d.Vhosts == nil {
		d.Vhosts = []DefVhost{}
	}
	if d.Permissions == nil {
		d.Permissions = []DefPermission{}
	}
	if d.TopicPermissions == nil {
		d.TopicPermissions = []DefTopicPermission{}
	}
	if d.Parameters == nil {
		d.Parameters = []DefParameter{}
	}
	if d.GlobalParameters == nil {
		d.GlobalParameters = []DefGlobalParameter{}
	}
	if d.Policies == nil {
		d.Policies = []DefPolicy{}
	}
	if d.Queues == nil {
		d.Queues = []DefQueue{}
	}
	if d.Exchanges == nil {
		d.Exchanges = []DefExchange{}
	}
	if d.Bindings == nil {
		d.Bindings = []DefBinding{}
	}
}
