package broker

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap"
)

// The audit log (RabbitMQ has none) records, one JSON object a line,
// every change an operator makes to users, permissions, topic
// permissions, vhosts, limits, policies, operator policies, parameters
// and global parameters, every definitions import, and every connection
// the node closes on someone's request. The node that takes a request
// writes its entry, once the change is committed or refused, so a
// cluster has one entry per change, not one per replica. A change is
// logged only when its context carries an Actor: the management API, the
// admin socket and service, and load_definitions set one; what a change
// does on the way (an import's own users and vhosts) is in the one entry
// of the import. Writes go to the file under auditLog.mu, one write a
// line, never per message; the file rotates by size (audit_rotate.go).

// The interfaces an Actor comes through.
const (
	// InterfaceHTTP is the management API.
	InterfaceHTTP = "http"
	// InterfaceCLI is `warren` over the admin socket or a cluster
	// node's admin service.
	InterfaceCLI = "cli"
	// InterfaceBoot is load_definitions at start.
	InterfaceBoot = "boot"
	// InterfaceCluster marks what a node does because of a change
	// another node took: connections it closes for a deleted vhost or
	// user.
	InterfaceCluster = "cluster"
)

// Actor is who asks for a change: a user name, where the request came
// from (a remote address, the admin socket, a definitions file) and the
// interface it came through (InterfaceHTTP, InterfaceCLI,
// InterfaceBoot).
type Actor struct {
	User      string
	From      string
	Interface string
}

type actorKey struct{}

// WithActor returns ctx carrying a: the changes made with it are
// written to the audit log in a's name.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.Interface != ""
}

// withoutActor is ctx with no actor: the steps of a change that is
// logged as one entry.
func withoutActor(ctx context.Context) context.Context {
	if _, ok := ActorFrom(ctx); !ok {
		return ctx
	}
	return context.WithValue(ctx, actorKey{}, Actor{})
}

// The outcomes of an audit entry.
const (
	AuditOK      = "ok"
	AuditRefused = "refused"
)

// AuditEntry is one line of the audit log. Changes never holds a
// password or a password hash.
type AuditEntry struct {
	// Time is when the change was committed or refused, RFC 3339 in UTC
	// with milliseconds.
	Time string `json:"time"`
	// Who, From and Interface are the Actor's.
	Who       string `json:"who"`
	From      string `json:"from"`
	Interface string `json:"interface"`
	// Node is the node that took the request.
	Node string `json:"node"`
	// Action is what was asked, as RabbitMQ's verbs: user.put,
	// user.delete, permission.set, permission.clear,
	// topic_permission.set, topic_permission.clear, vhost.put,
	// vhost.delete, vhost_limits.set, user_limits.set, parameter.set,
	// parameter.clear, global_parameter.set, global_parameter.clear,
	// policy.set, policy.clear, operator_policy.set,
	// operator_policy.clear, definitions.import, connection.close.
	Action string `json:"action"`
	// The object: its vhost, the user it concerns, a parameter's
	// component, and its name (a policy's, a parameter's, a
	// connection's).
	Vhost     string `json:"vhost,omitempty"`
	User      string `json:"user,omitempty"`
	Component string `json:"component,omitempty"`
	Name      string `json:"name,omitempty"`
	// Outcome is AuditOK or AuditRefused, with the refusal's text in
	// Error.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// Changes is what the change sets.
	Changes map[string]any `json:"changes,omitempty"`
}

// AuditConfig turns the audit log on.
type AuditConfig struct {
	// File is the log's path; "" leaves the audit log off.
	File string
	// MaxSizeMB is the size in MiB past which the file is rotated;
	// zero means 100.
	MaxSizeMB int
	// MaxFiles is how many rotated files are kept beside the current
	// one; zero means 10.
	MaxFiles int
}

// Defaults of AuditConfig.
const (
	DefaultAuditMaxSizeMB = 100
	DefaultAuditMaxFiles  = 10
)

// auditLog writes entries to a rotating file. mu is a leaf.
type auditLog struct {
	node string
	log  *zap.Logger

	mu      sync.Mutex
	f       *rotatingFile
	pending map[string]Actor // deletions this node proposes: "vhost\x00name" or "user\x00name" → who asked
}

// openAuditLog opens cfg.File for appending; nil when it is off.
func openAuditLog(cfg AuditConfig, node string, log *zap.Logger) (*auditLog, error) {
	if cfg.File == "" {
		return nil, nil
	}
	if cfg.MaxSizeMB <= 0 {
		cfg.MaxSizeMB = DefaultAuditMaxSizeMB
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultAuditMaxFiles
	}
	f, err := openRotatingFile(cfg.File, int64(cfg.MaxSizeMB)<<20, cfg.MaxFiles)
	if err != nil {
		return nil, err
	}
	log.Info("audit log", zap.String("file", cfg.File), zap.Int("max_size_mb", cfg.MaxSizeMB),
		zap.Int("max_files", cfg.MaxFiles))
	return &auditLog{node: node, log: log, f: f, pending: make(map[string]Actor)}, nil
}

// write stamps e with the time and node and appends it. A write that
// fails is logged: the change itself stands.
func (l *auditLog) write(e AuditEntry) {
	e.Time = time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	e.Node = l.node
	b, err := json.Marshal(e)
	if err != nil {
		l.log.Error("audit entry not encoded", zap.String("action", e.Action), zap.Error(err))
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	if err := l.f.write(b); err != nil {
		l.log.Error("audit entry not written", zap.String("action", e.Action), zap.Error(err))
	}
}

// close closes the file; later writes are dropped.
func (l *auditLog) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.close()
	l.f = nil
	return err
}

// audited writes e in the name of ctx's actor, with the outcome err
// points to; it is deferred by each change of the Go API. Nothing is
// written when the audit log is off or ctx has no actor.
func (s *Server) audited(ctx context.Context, e AuditEntry, err *error) {
	if s.audit == nil {
		return
	}
	a, ok := ActorFrom(ctx)
	if !ok {
		return
	}
	s.audit.write(withOutcome(withActor(e, a), *err))
}

func withActor(e AuditEntry, a Actor) AuditEntry {
	e.Who, e.From, e.Interface = a.User, a.From, a.Interface
	return e
}

func withOutcome(e AuditEntry, err error) AuditEntry {
	e.Outcome = AuditOK
	if err != nil {
		e.Outcome, e.Error = AuditRefused, err.Error()
	}
	return e
}

// deleting records, for the reconciler's connection closes, who asked
// this node to delete a vhost or a user (kind "vhost" or "user"); the
// returned function forgets it once the deletion is answered.
func (s *Server) deleting(ctx context.Context, kind, name string) func() {
	a, ok := ActorFrom(ctx)
	if s.audit == nil || !ok {
		return func() {}
	}
	key := kind + "\x00" + name
	s.audit.mu.Lock()
	s.audit.pending[key] = a
	s.audit.mu.Unlock()
	return func() {
		s.audit.mu.Lock()
		delete(s.audit.pending, key)
		s.audit.mu.Unlock()
	}
}

// auditForcedClose writes the entry of a connection this node closes
// because a vhost or user (kind) was deleted: in the name of whoever
// asked, when this node took the request, else as InterfaceCluster.
func (s *Server) auditForcedClose(kind, name string, c *conn, reason string) {
	if s.audit == nil {
		return
	}
	s.audit.mu.Lock()
	a, ok := s.audit.pending[kind+"\x00"+name]
	s.audit.mu.Unlock()
	if !ok {
		a = Actor{Interface: InterfaceCluster}
	}
	s.audit.write(withOutcome(withActor(connCloseEntry(c, reason), a), nil))
}

// connCloseEntry is the entry of a connection closed with reason.
func connCloseEntry(c *conn, reason string) AuditEntry {
	e := AuditEntry{Action: "connection.close", Name: c.connName(), User: c.user,
		Changes: map[string]any{"reason": reason}}
	if c.vh != nil {
		e.Vhost = c.vh.name
	}
	return e
}
