package meta

import (
	"maps"
	"slices"
)

// The op codes of users, permissions, virtual host metadata and limits,
// runtime parameters and seeding (11 to 30).
const (
	OpPutUser               Op = 11
	OpDeleteUser            Op = 12
	OpSetPermissions        Op = 13
	OpClearPermissions      Op = 14
	OpSetTopicPermissions   Op = 15
	OpClearTopicPermissions Op = 16
	OpPutVhost              Op = 17
	OpSetVhostLimits        Op = 18
	OpSetUserLimits         Op = 19
	OpSetParameter          Op = 20
	OpClearParameter        Op = 21
	OpSetGlobalParameter    Op = 22
	OpClearGlobalParameter  Op = 23
	OpSeed                  Op = 24
)

// The password hashing algorithms of RabbitMQ's internal users, by the
// names its definitions files give them.
const (
	HashSHA256 = "rabbit_password_hashing_sha256"
	HashSHA512 = "rabbit_password_hashing_sha512"
	HashMD5    = "rabbit_password_hashing_md5"
)

// The limits RabbitMQ knows: a virtual host's max-connections and
// max-queues, a user's max-connections and max-channels.
const (
	LimitMaxConnections = "max-connections"
	LimitMaxQueues      = "max-queues"
	LimitMaxChannels    = "max-channels"
)

// Limits are named integer limits; a name that is absent, or a negative
// value, is no limit.
type Limits map[string]int64

// Get returns the limit name and whether it limits anything (present and
// not negative).
func (l Limits) Get(name string) (int64, bool) {
	v, ok := l[name]
	return v, ok && v >= 0
}

// UserDef is an internal user as RabbitMQ stores one.
type UserDef struct {
	Name string
	// PasswordHash is the 4-octet salt followed by the digest of salt ++
	// password under Hashing; empty for a user without a password, who
	// cannot log in with PLAIN or AMQPLAIN.
	PasswordHash []byte
	// Hashing names the algorithm (HashSHA256, HashSHA512, HashMD5).
	Hashing string
	// Tags are kept in the order given (administrator, monitoring …).
	Tags []string
	// Limits are the user's max-connections and max-channels.
	Limits Limits
}

// Permission is what a user may do in a virtual host: three regular
// expressions matched against resource names.
type Permission struct {
	Configure, Write, Read string
}

// TopicPermission restricts the routing keys a user may publish with
// (Write) and bind with (Read) on a topic exchange.
type TopicPermission struct {
	Exchange    string
	Write, Read string
}

// VhostMeta is a virtual host's metadata and limits.
type VhostMeta struct {
	Description      string
	Tags             []string
	DefaultQueueType string
	// Limits are max-connections and max-queues.
	Limits Limits
}

// UserAccess is everything a node needs to authenticate and authorize a
// user: the user and its permissions, by virtual host.
type UserAccess struct {
	User UserDef
	// Perms are the user's permissions, by virtual host.
	Perms map[string]Permission
	// Topics are the user's topic permissions, by virtual host, then
	// exchange.
	Topics map[string]map[string]TopicPermission
}

type (
	// PutUser creates a user or replaces its password hash, tags and
	// limits. With Create it refuses a user that exists.
	PutUser struct {
		User   UserDef
		Create bool
	}
	// DeleteUser deletes a user with its permissions; the node closes its
	// connections.
	DeleteUser struct{ Name string }
	// SetPermissions sets a user's permissions in a virtual host.
	SetPermissions struct {
		User, Vhost string
		Perm        Permission
	}
	// ClearPermissions removes a user's permissions in a virtual host.
	ClearPermissions struct{ User, Vhost string }
	// SetTopicPermissions sets a user's topic permissions on an exchange
	// of a virtual host.
	SetTopicPermissions struct {
		User, Vhost string
		Perm        TopicPermission
	}
	// ClearTopicPermissions removes a user's topic permissions in a
	// virtual host: on Exchange, or on every exchange when it is "".
	ClearTopicPermissions struct{ User, Vhost, Exchange string }
	// PutVhost creates a virtual host with its metadata (limits aside),
	// or updates the metadata of one that exists.
	PutVhost struct {
		Name string
		Meta VhostMeta
	}
	// SetVhostLimits replaces a virtual host's limits; empty clears them.
	SetVhostLimits struct {
		Vhost  string
		Limits Limits
	}
	// SetUserLimits replaces a user's limits; empty clears them.
	SetUserLimits struct {
		User   string
		Limits Limits
	}
	// SetParameter sets a runtime parameter of a virtual host: a
	// component's named value, JSON kept as given (policies are the
	// component "policy", as RabbitMQ stores them).
	SetParameter struct {
		Vhost, Component, Name string
		Value                  []byte
	}
	// ClearParameter removes a runtime parameter.
	ClearParameter struct{ Vhost, Component, Name string }
	// SetGlobalParameter sets a global runtime parameter (JSON).
	SetGlobalParameter struct {
		Name  string
		Value []byte
	}
	// ClearGlobalParameter removes a global runtime parameter.
	ClearGlobalParameter struct{ Name string }
	// Seed inserts RabbitMQ's default data once in the definitions'
	// life: the virtual host Vhost (if there is none at all), the user
	// User (if absent) with Perm on Vhost. Only the first Seed applied
	// does anything, so every node of a cluster may propose its own; one
	// with no user only marks the definitions seeded (a node that loads
	// definitions at boot seeds nothing, as RabbitMQ).
	Seed struct {
		Vhost string
		Meta  VhostMeta
		User  UserDef
		Perm  Permission
	}
)

// Op implements Command.
func (PutUser) Op() Op { return OpPutUser }

// Op implements Command.
func (DeleteUser) Op() Op { return OpDeleteUser }

// Op implements Command.
func (SetPermissions) Op() Op { return OpSetPermissions }

// Op implements Command.
func (ClearPermissions) Op() Op { return OpClearPermissions }

// Op implements Command.
func (SetTopicPermissions) Op() Op { return OpSetTopicPermissions }

// Op implements Command.
func (ClearTopicPermissions) Op() Op { return OpClearTopicPermissions }

// Op implements Command.
func (PutVhost) Op() Op { return OpPutVhost }

// Op implements Command.
func (SetVhostLimits) Op() Op { return OpSetVhostLimits }

// Op implements Command.
func (SetUserLimits) Op() Op { return OpSetUserLimits }

// Op implements Command.
func (SetParameter) Op() Op { return OpSetParameter }

// Op implements Command.
func (ClearParameter) Op() Op { return OpClearParameter }

// Op implements Command.
func (SetGlobalParameter) Op() Op { return OpSetGlobalParameter }

// Op implements Command.
func (ClearGlobalParameter) Op() Op { return OpClearGlobalParameter }

// Op implements Command.
func (Seed) Op() Op { return OpSeed }

func (c PutUser) encode(w *writer) {
	w.user(&c.User)
	w.Flags(c.Create)
}

func (c *PutUser) decode(r *reader) {
	c.User = r.user()
	r.Flags(&c.Create)
}

func (c DeleteUser) encode(w *writer)  { w.Str(c.Name) }
func (c *DeleteUser) decode(r *reader) { c.Name = r.Str() }

func (c SetPermissions) encode(w *writer) {
	w.Str(c.User)
	w.Str(c.Vhost)
	w.perm(c.Perm)
}

func (c *SetPermissions) decode(r *reader) {
	c.User, c.Vhost = r.Str(), r.Str()
	c.Perm = r.perm()
}

func (c ClearPermissions) encode(w *writer) {
	w.Str(c.User)
	w.Str(c.Vhost)
}

func (c *ClearPermissions) decode(r *reader) { c.User, c.Vhost = r.Str(), r.Str() }

func (c SetTopicPermissions) encode(w *writer) {
	w.Str(c.User)
	w.Str(c.Vhost)
	w.topicPerm(c.Perm)
}

func (c *SetTopicPermissions) decode(r *reader) {
	c.User, c.Vhost = r.Str(), r.Str()
	c.Perm = r.topicPerm()
}

func (c ClearTopicPermissions) encode(w *writer) {
	w.Str(c.User)
	w.Str(c.Vhost)
	w.Str(c.Exchange)
}

func (c *ClearTopicPermissions) decode(r *reader) {
	c.User, c.Vhost, c.Exchange = r.Str(), r.Str(), r.Str()
}

func (c PutVhost) encode(w *writer) {
	w.Str(c.Name)
	w.vhostMeta(&c.Meta)
}

func (c *PutVhost) decode(r *reader) {
	c.Name = r.Str()
	c.Meta = r.vhostMeta()
}

func (c SetVhostLimits) encode(w *writer) {
	w.Str(c.Vhost)
	w.limits(c.Limits)
}

func (c *SetVhostLimits) decode(r *reader) {
	c.Vhost = r.Str()
	c.Limits = r.limits()
}

func (c SetUserLimits) encode(w *writer) {
	w.Str(c.User)
	w.limits(c.Limits)
}

func (c *SetUserLimits) decode(r *reader) {
	c.User = r.Str()
	c.Limits = r.limits()
}

func (c SetParameter) encode(w *writer) {
	w.Str(c.Vhost)
	w.Str(c.Component)
	w.Str(c.Name)
	w.Str(string(c.Value))
}

func (c *SetParameter) decode(r *reader) {
	c.Vhost, c.Component, c.Name = r.Str(), r.Str(), r.Str()
	c.Value = []byte(r.Str())
}

func (c ClearParameter) encode(w *writer) {
	w.Str(c.Vhost)
	w.Str(c.Component)
	w.Str(c.Name)
}

func (c *ClearParameter) decode(r *reader) {
	c.Vhost, c.Component, c.Name = r.Str(), r.Str(), r.Str()
}

func (c SetGlobalParameter) encode(w *writer) {
	w.Str(c.Name)
	w.Str(string(c.Value))
}

func (c *SetGlobalParameter) decode(r *reader) {
	c.Name = r.Str()
	c.Value = []byte(r.Str())
}

func (c ClearGlobalParameter) encode(w *writer)  { w.Str(c.Name) }
func (c *ClearGlobalParameter) decode(r *reader) { c.Name = r.Str() }

func (c Seed) encode(w *writer) {
	w.Str(c.Vhost)
	w.vhostMeta(&c.Meta)
	w.user(&c.User)
	w.perm(c.Perm)
}

func (c *Seed) decode(r *reader) {
	c.Vhost = r.Str()
	c.Meta = r.vhostMeta()
	c.User = r.user()
	c.Perm = r.perm()
}

// newAccessCommand returns a pointer to a zero command of one of the op
// codes above, or nil.
func newAccessCommand(op Op) decodable {
	switch op {
	case OpPutUser:
		return &PutUser{}
	case OpDeleteUser:
		return &DeleteUser{}
	case OpSetPermissions:
		return &SetPermissions{}
	case OpClearPermissions:
		return &ClearPermissions{}
	case OpSetTopicPermissions:
		return &SetTopicPermissions{}
	case OpClearTopicPermissions:
		return &ClearTopicPermissions{}
	case OpPutVhost:
		return &PutVhost{}
	case OpSetVhostLimits:
		return &SetVhostLimits{}
	case OpSetUserLimits:
		return &SetUserLimits{}
	case OpSetParameter:
		return &SetParameter{}
	case OpClearParameter:
		return &ClearParameter{}
	case OpSetGlobalParameter:
		return &SetGlobalParameter{}
	case OpClearGlobalParameter:
		return &ClearGlobalParameter{}
	case OpSeed:
		return &Seed{}
	}
	return nil
}

// derefAccess returns the value an access command pointer points to, or
// nil for another command.
func derefAccess(c decodable) Command {
	switch c := c.(type) {
	case *PutUser:
		return *c
	case *DeleteUser:
		return *c
	case *SetPermissions:
		return *c
	case *ClearPermissions:
		return *c
	case *SetTopicPermissions:
		return *c
	case *ClearTopicPermissions:
		return *c
	case *PutVhost:
		return *c
	case *SetVhostLimits:
		return *c
	case *SetUserLimits:
		return *c
	case *SetParameter:
		return *c
	case *ClearParameter:
		return *c
	case *SetGlobalParameter:
		return *c
	case *ClearGlobalParameter:
		return *c
	case *Seed:
		return *c
	}
	return nil
}

// user writes u; the limits last.
func (w *writer) user(u *UserDef) {
	w.Str(u.Name)
	w.Str(string(u.PasswordHash))
	w.Str(u.Hashing)
	w.strs(u.Tags)
	w.limits(u.Limits)
}

func (r *reader) user() UserDef {
	var u UserDef
	u.Name = r.Str()
	if h := r.Str(); h != "" {
		u.PasswordHash = []byte(h)
	}
	u.Hashing = r.Str()
	u.Tags = r.strs()
	u.Limits = r.limits()
	return u
}

func (w *writer) perm(p Permission) {
	w.Str(p.Configure)
	w.Str(p.Write)
	w.Str(p.Read)
}

func (r *reader) perm() Permission {
	return Permission{Configure: r.Str(), Write: r.Str(), Read: r.Str()}
}

func (w *writer) topicPerm(p TopicPermission) {
	w.Str(p.Exchange)
	w.Str(p.Write)
	w.Str(p.Read)
}

func (r *reader) topicPerm() TopicPermission {
	return TopicPermission{Exchange: r.Str(), Write: r.Str(), Read: r.Str()}
}

// limits writes a count, then each name and value in name order.
func (w *writer) limits(l Limits) {
	w.Uvarint(uint64(len(l)))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		w.Str(k)
		w.Varint(l[k])
	}
}

// limits reads what writer.limits wrote; none reads as nil.
func (r *reader) limits() Limits {
	n := r.Count()
	var l Limits
	for i := 0; i < n && r.Err == nil; i++ {
		k, v := r.Str(), r.Varint()
		if l == nil {
			l = make(Limits, n)
		}
		if _, dup := l[k]; dup {
			r.Fail("limit '" + k + "' twice")
		}
		l[k] = v
	}
	return l
}

func (w *writer) vhostMeta(m *VhostMeta) {
	w.Str(m.Description)
	w.strs(m.Tags)
	w.Str(m.DefaultQueueType)
	w.limits(m.Limits)
}

func (r *reader) vhostMeta() VhostMeta {
	var m VhostMeta
	m.Description = r.Str()
	m.Tags = r.strs()
	m.DefaultQueueType = r.Str()
	m.Limits = r.limits()
	return m
}
