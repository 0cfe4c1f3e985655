package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// An import is a sequence of definitions commands, in rabbit_definitions'
// order: users, vhosts (and their limits), permissions, exchanges, topic
// permissions, global parameters, policies, parameters, queues, then
// bindings. It is idempotent: users, vhosts and permissions are put
// (created or replaced), exchanges and queues that exist are left as
// they are, and a binding that exists changes nothing. The first value
// that cannot be imported stops it with an error naming it; what was
// imported before stays, as in RabbitMQ.

// maxDefinitionsFile bounds a definitions file read at boot.
const maxDefinitionsFile = 64 << 20

// ImportDefinitions imports a RabbitMQ definitions document (JSON), as
// rabbitmqctl import_definitions does.
func (s *Server) ImportDefinitions(ctx context.Context, doc []byte) error {
	d, err := ParseDefinitions(doc)
	if err != nil {
		s.audited(ctx, AuditEntry{Action: "definitions.import"}, &err)
		return err
	}
	return s.importDefinitions(ctx, d)
}

// importDefinitions imports d, writing one audit entry for the whole of
// it in the name of ctx's actor.
func (s *Server) importDefinitions(ctx context.Context, d *Definitions) (err error) {
	defer s.audited(ctx, importEntry(d), &err)
	ctx = withoutActor(ctx)
	start := time.Now()
	steps := []func(context.Context, *Definitions) error{
		s.importUsers, s.importVhosts, s.importPermissions, s.importExchanges, s.importTopicPermissions,
		s.importGlobalParameters, s.importPolicies, s.importParameters, s.importQueues, s.importBindings,
	}
	for _, step := range steps {
		if err := step(ctx, d); err != nil {
			return fmt.Errorf("definitions: %w", err)
		}
	}
	s.log.Info("definitions imported", zap.Int("users", len(d.Users)), zap.Int("vhosts", len(d.Vhosts)),
		zap.Int("permissions", len(d.Permissions)), zap.Int("exchanges", len(d.Exchanges)),
		zap.Int("queues", len(d.Queues)), zap.Int("bindings", len(d.Bindings)), zap.Duration("took", time.Since(start)))
	return nil
}

// propose commits one command of an import.
func (s *Server) propose(ctx context.Context, cmd meta.Command) error {
	_, err := s.proposeVhost(ctx, cmd, "")
	return err
}

func (s *Server) importUsers(ctx context.Context, d *Definitions) error {
	for i := range d.Users {
		du := &d.Users[i]
		hash, alg, err := du.passwordHash()
		if err != nil {
			return err
		}
		u := meta.UserDef{Name: du.Name, PasswordHash: hash, Hashing: alg, Tags: du.Tags, Limits: meta.Limits(du.Limits)}
		if err := checkUser(&u); err != nil {
			return err
		}
		if err := s.propose(ctx, meta.PutUser{User: u}); err != nil {
			return fmt.Errorf("user '%s': %w", u.Name, err)
		}
	}
	return nil
}

func (s *Server) importVhosts(ctx context.Context, d *Definitions) error {
	for _, dv := range d.Vhosts {
		var m meta.VhostMeta
		if dv.Metadata != nil {
			m = meta.VhostMeta{Description: dv.Metadata.Description, Tags: dv.Metadata.Tags,
				DefaultQueueType: dv.Metadata.DefaultQueueType}
		}
		if dv.Description != nil {
			m.Description = *dv.Description
		}
		if dv.Tags != nil {
			m.Tags = dv.Tags
		}
		if err := s.PutVhost(ctx, dv.Name, m); err != nil {
			return fmt.Errorf("vhost '%s': %w", dv.Name, err)
		}
		if len(dv.Limits) > 0 {
			if err := s.SetVhostLimits(ctx, dv.Name, Limits(dv.Limits)); err != nil {
				return fmt.Errorf("limits of vhost '%s': %w", dv.Name, err)
			}
		}
	}
	return nil
}

func (s *Server) importPermissions(ctx context.Context, d *Definitions) error {
	for _, p := range d.Permissions {
		perm := Permission{Configure: p.Configure, Write: p.Write, Read: p.Read}
		if err := s.SetPermissions(ctx, p.User, p.Vhost, perm); err != nil {
			return fmt.Errorf("permissions of user '%s' in vhost '%s': %w", p.User, p.Vhost, err)
		}
	}
	return nil
}

func (s *Server) importTopicPermissions(ctx context.Context, d *Definitions) error {
	for _, p := range d.TopicPermissions {
		if err := s.SetTopicPermissions(ctx, p.User, p.Vhost, p.Exchange, p.Write, p.Read); err != nil {
			return fmt.Errorf("topic permissions of user '%s' in vhost '%s': %w", p.User, p.Vhost, err)
		}
	}
	return nil
}

// rawValue checks that a parameter's value is JSON and returns it
// compacted.
func rawValue(v json.RawMessage, what string) ([]byte, error) {
	var b bytes.Buffer
	if len(v) == 0 || json.Compact(&b, v) != nil || b.String() == "null" {
		return nil, fmt.Errorf("%s has no value", what)
	}
	return b.Bytes(), nil
}

func (s *Server) importGlobalParameters(ctx context.Context, d *Definitions) error {
	for _, p := range d.GlobalParameters {
		what := fmt.Sprintf("global parameter '%s'", p.Name)
		v, err := rawValue(p.Value, what)
		if err != nil {
			return err
		}
		if p.Name == "" {
			return fmt.Errorf("a global parameter has no name")
		}
		if err := s.propose(ctx, meta.SetGlobalParameter{Name: p.Name, Value: v}); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// policyComponent is the component RabbitMQ keeps policies under.
const policyComponent = meta.ComponentPolicy

// policyValue is a policy as kept in its parameter.
type policyValue struct {
	Pattern    string          `json:"pattern"`
	ApplyTo    string          `json:"apply-to"`
	Definition json.RawMessage `json:"definition"`
	Priority   int64           `json:"priority"`
}

func (s *Server) importPolicies(ctx context.Context, d *Definitions) error {
	for _, p := range d.Policies {
		if p.Name == "" {
			return fmt.Errorf("policy in virtual host '%s' has undefined name", p.Vhost)
		}
		v, _ := json.Marshal(policyValue{Pattern: p.Pattern, ApplyTo: p.ApplyTo, Definition: p.Definition, Priority: p.Priority})
		if err := s.importPolicy(ctx, p.Vhost, p.Name, v, false); err != nil {
			return err
		}
	}
	return nil
}

// importPolicy validates and sets the policy (or operator policy) name of
// vhost from its parameter value, whose definition may be an object or,
// as RabbitMQ 3.x exports operator policies, a list of [key, value]
// pairs.
func (s *Server) importPolicy(ctx context.Context, vhost, name string, value []byte, operator bool) error {
	what := fmt.Sprintf("policy '%s' in vhost '%s'", name, vhost)
	if operator {
		what = "operator " + what
	}
	var pv policyValue
	if err := json.Unmarshal(value, &pv); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	def, err := policy.ParseDefinition(pv.Definition)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	p := policy.Policy{Name: name, Pattern: pv.Pattern, ApplyTo: pv.ApplyTo, Priority: pv.Priority, Definition: def}
	if err := s.setPolicy(ctx, vhost, p, operator); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// vhostLimitsComponent is the parameter component RabbitMQ keeps vhost
// limits under (name "limits").
const vhostLimitsComponent = "vhost-limits"

func (s *Server) importParameters(ctx context.Context, d *Definitions) error {
	for _, p := range d.Parameters {
		what := fmt.Sprintf("parameter '%s' of component '%s' in vhost '%s'", p.Name, p.Component, p.Vhost)
		v, err := rawValue(p.Value, what)
		if err != nil {
			return err
		}
		if p.Component == vhostLimitsComponent {
			var l DefLimits
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if err := s.SetVhostLimits(ctx, p.Vhost, Limits(l)); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			continue
		}
		if p.Component == "" || p.Name == "" {
			return fmt.Errorf("%s: a parameter needs a component and a name", what)
		}
		if p.Component == meta.ComponentPolicy || p.Component == meta.ComponentOperatorPolicy {
			if err := s.importPolicy(ctx, p.Vhost, p.Name, v, p.Component == meta.ComponentOperatorPolicy); err != nil {
				return err
			}
			continue
		}
		if err := s.propose(ctx, meta.SetParameter{Vhost: p.Vhost, Component: p.Component, Name: p.Name, Value: v}); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// importVhost returns the vhost of an imported object, which must exist.
func (s *Server) importVhost(name string) (*vhost, error) {
	v := s.vhost(name)
	if v == nil {
		return nil, fmt.Errorf("please create virtual host \"%s\" prior to importing definitions", name)
	}
	return v, nil
}

func (s *Server) importExchanges(ctx context.Context, d *Definitions) error {
	for _, dx := range d.Exchanges {
		if dx.Name == "" || reservedName(dx.Name) {
			s.log.Warn("not importing the default exchange or an amq.* exchange", zap.String("exchange", dx.Name))
			continue
		}
		v, err := s.importVhost(dx.Vhost)
		if err != nil {
			return err
		}
		if v.exchange(dx.Name) != nil {
			continue
		}
		if err := s.importExchange(ctx, v, &dx); err != nil {
			return fmt.Errorf("exchange '%s' in vhost '%s': %w", dx.Name, dx.Vhost, err)
		}
	}
	return nil
}

func (s *Server) importExchange(ctx context.Context, v *vhost, dx *DefExchange) error {
	kind, err := exchange.ParseKind(dx.Type)
	if err != nil {
		return err
	}
	args := protocol.Table(dx.Arguments)
	alt, err := exchange.AlternateArg(v.name, dx.Name, args)
	if err != nil {
		return err
	}
	def := exchangeDef{Name: dx.Name, Kind: kind, Durable: dx.Durable == nil || *dx.Durable,
		AutoDelete: dx.AutoDelete, Internal: dx.Internal, Args: args, Alternate: alt}
	_, err = v.applyCtx(ctx, meta.DeclareExchange{Vhost: v.name, Exchange: def})
	return err
}

func (s *Server) importQueues(ctx context.Context, d *Definitions) error {
	for _, dq := range d.Queues {
		if reservedName(dq.Name) || dq.Name == "" {
			s.log.Warn("not importing a queue whose name begins with 'amq.'", zap.String("queue", dq.Name))
			continue
		}
		v, err := s.importVhost(dq.Vhost)
		if err != nil {
			return err
		}
		v.mu.RLock()
		exists := v.queues[dq.Name] != nil
		v.mu.RUnlock()
		if exists {
			continue
		}
		if err := s.importQueue(ctx, v, &dq); err != nil {
			return fmt.Errorf("queue '%s' in vhost '%s': %w", dq.Name, dq.Vhost, err)
		}
	}
	return nil
}

func (s *Server) importQueue(ctx context.Context, v *vhost, dq *DefQueue) error {
	args := protocol.Table(dq.Arguments)
	if _, ok := args["x-queue-type"]; !ok && dq.Type != "" && dq.Type != queue.TypeClassic {
		if args == nil {
			args = protocol.Table{}
		}
		args["x-queue-type"] = dq.Type
	}
	parsed, err := s.parseQueueArgs(args, dq.Name, v.name)
	if err != nil {
		return err
	}
	def := queueDef{Name: dq.Name, Durable: dq.Durable == nil || *dq.Durable, AutoDelete: dq.AutoDelete,
		Args: args, Type: parsed.Type, Home: s.cfg.NodeName, Life: s.life}
	if parsed.Type == queue.TypeQuorum && s.cluster != nil {
		def.Members = s.cluster.quorumMembers(v.name, &def, parsed.InitialGroupSize)
	}
	if err := checkDeclarable(s.types.Lookup(parsed.Type), parsed.Type, def, v.name); err != nil {
		return err
	}
	def.Incarnation = newIncarnation()
	_, err = v.declareQueue(ctx, def)
	return err
}

func (s *Server) importBindings(ctx context.Context, d *Definitions) error {
	for _, db := range d.Bindings {
		v, err := s.importVhost(db.Vhost)
		if err != nil {
			return err
		}
		dest := exchange.Destination{Name: db.Destination}
		switch db.DestinationType {
		case "queue":
		case "exchange":
			dest.Exchange = true
		default:
			return fmt.Errorf("binding from '%s' in vhost '%s': destination_type '%s' is neither queue nor exchange",
				db.Source, db.Vhost, db.DestinationType)
		}
		if db.Source == "" {
			return fmt.Errorf("binding to '%s' in vhost '%s': %w", db.Destination, db.Vhost, defaultExchangeRefused())
		}
		b := exchange.Binding{Source: db.Source, Destination: dest, Key: db.RoutingKey, Args: protocol.Table(db.Arguments)}
		if _, err := v.applyCtx(ctx, meta.Bind{Vhost: v.name, Binding: b}); err != nil {
			return fmt.Errorf("binding from '%s' to '%s' in vhost '%s': %w", db.Source, db.Destination, db.Vhost, err)
		}
	}
	return nil
}

// loadDefinitionsFile imports Config.LoadDefinitions at start, as
// RabbitMQ's load_definitions: a file that cannot be read or parsed, or
// (on a single node) imported, stops the start. A cluster node imports
// once its cluster commits, trying again until it does or the node
// stops.
func (s *Server) loadDefinitionsFile() error {
	path := s.cfg.LoadDefinitions
	if path == "" {
		return nil
	}
	d, err := readDefinitionsFile(path)
	if err != nil {
		return err
	}
	ctx := WithActor(context.Background(), Actor{From: path, Interface: InterfaceBoot})
	if s.cluster == nil {
		if err := s.importDefinitions(ctx, d); err != nil {
			return fmt.Errorf("broker: loading %s: %w", path, err)
		}
		return nil
	}
	s.goTracked(func() { s.cluster.importEventually(ctx, d, path) })
	return nil
}

// readDefinitionsFile reads and parses a definitions file, refusing one
// larger than maxDefinitionsFile before reading it.
func readDefinitionsFile(path string) (*Definitions, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("broker: load_definitions: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("broker: load_definitions: %w", err)
	}
	if fi.Size() > maxDefinitionsFile {
		return nil, fmt.Errorf("broker: load_definitions: %s is larger than %d bytes", path, maxDefinitionsFile)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("broker: load_definitions: %w", err)
	}
	d, err := ParseDefinitions(b)
	if err != nil {
		return nil, fmt.Errorf("broker: load_definitions %s: %w", path, err)
	}
	return d, nil
}

// importEventually imports d, again after each failure, until it is
// imported or the node shuts down. The audit log has the first failure
// and the import that succeeds, in the name of actx's actor.
func (n *clusterNode) importEventually(actx context.Context, d *Definitions, path string) {
	a, _ := ActorFrom(actx)
	for attempt := 0; ; attempt++ {
		ctx := n.ctx
		if attempt == 0 {
			ctx = WithActor(ctx, a)
		}
		err := n.srv.importDefinitions(ctx, d)
		if err == nil {
			if attempt > 0 {
				n.srv.audited(actx, importEntry(d), &err)
			}
			return
		}
		if n.ctx.Err() != nil {
			return
		}
		if attempt == 0 {
			n.log.Warn("loading definitions: not imported yet; trying again until they are",
				zap.String("file", path), zap.Error(err))
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(commitRetry):
		}
	}
}
