package meta

import "slices"

// applyAccess applies a command of access.go, reporting whether cmd is
// one.
func (a *applier) applyAccess(cmd Command) bool {
	switch c := cmd.(type) {
	case PutUser:
		a.putUser(c)
	case DeleteUser:
		a.deleteUser(c.Name)
	case SetPermissions:
		a.setPermissions(c)
	case ClearPermissions:
		a.clearPermissions(c)
	case SetTopicPermissions:
		a.setTopicPermissions(c)
	case ClearTopicPermissions:
		a.clearTopicPermissions(c)
	case PutVhost:
		a.putVhost(c)
	case SetVhostLimits:
		a.setVhostLimits(c)
	case SetUserLimits:
		a.setUserLimits(c)
	case SetParameter:
		a.setParameter(c)
	case ClearParameter:
		a.clearParameter(c)
	case SetGlobalParameter:
		a.s.access.globals[c.Name] = c.Value
		a.res.Changed = true
	case ClearGlobalParameter:
		delete(a.s.access.globals, c.Name)
	case Seed:
		a.seed(c)
	default:
		return false
	}
	return true
}

// user returns the named user, or sets the result to 404.
func (a *applier) user(name string) (UserDef, bool) {
	u, ok := a.s.access.users[name]
	if !ok {
		a.res.Err = NoUser(name)
	}
	return u, ok
}

// userChanged adds the effect telling the node the user's access now.
func (a *applier) userChanged(name string) {
	ua, _ := a.s.UserAccess(name)
	a.effect(Effect{Kind: UserChanged, Access: ua})
}

func (a *applier) putUser(c PutUser) {
	if c.User.Name == "" {
		a.res.Err = BadUser("user name must not be empty")
		return
	}
	_, exists := a.s.access.users[c.User.Name]
	if exists && c.Create {
		a.res.Err = UserExists(c.User.Name)
		return
	}
	a.s.access.users[c.User.Name] = c.User
	a.res.Created, a.res.Changed = !exists, true
	a.userChanged(c.User.Name)
}

func (a *applier) deleteUser(name string) {
	if _, ok := a.user(name); !ok {
		return
	}
	delete(a.s.access.users, name)
	delete(a.s.access.perms, name)
	delete(a.s.access.topics, name)
	a.res.Changed = true
	a.effect(Effect{Kind: UserDeleted, Access: UserAccess{User: UserDef{Name: name}}})
}

// userAndVhost checks that both exist, setting the result to 404 if not.
func (a *applier) userAndVhost(user, vhost string) bool {
	if _, ok := a.user(user); !ok {
		return false
	}
	return a.vhost(vhost) != nil
}

func (a *applier) setPermissions(c SetPermissions) {
	if !a.userAndVhost(c.User, c.Vhost) {
		return
	}
	m := a.s.access.perms[c.User]
	if m == nil {
		m = make(map[string]Permission)
		a.s.access.perms[c.User] = m
	}
	m[c.Vhost] = c.Perm
	a.res.Changed = true
	a.userChanged(c.User)
}

func (a *applier) clearPermissions(c ClearPermissions) {
	if !a.userAndVhost(c.User, c.Vhost) {
		return
	}
	m := a.s.access.perms[c.User]
	if _, ok := m[c.Vhost]; !ok {
		return
	}
	delete(m, c.Vhost)
	if len(m) == 0 {
		delete(a.s.access.perms, c.User)
	}
	a.res.Changed = true
	a.userChanged(c.User)
}

func (a *applier) setTopicPermissions(c SetTopicPermissions) {
	if !a.userAndVhost(c.User, c.Vhost) {
		return
	}
	byVhost := a.s.access.topics[c.User]
	if byVhost == nil {
		byVhost = make(map[string]map[string]TopicPermission)
		a.s.access.topics[c.User] = byVhost
	}
	xs := byVhost[c.Vhost]
	if xs == nil {
		xs = make(map[string]TopicPermission)
		byVhost[c.Vhost] = xs
	}
	xs[c.Perm.Exchange] = c.Perm
	a.res.Changed = true
	a.userChanged(c.User)
}

func (a *applier) clearTopicPermissions(c ClearTopicPermissions) {
	if !a.userAndVhost(c.User, c.Vhost) {
		return
	}
	byVhost := a.s.access.topics[c.User]
	xs := byVhost[c.Vhost]
	if len(xs) == 0 {
		return
	}
	if c.Exchange == "" {
		clear(xs)
	} else if _, ok := xs[c.Exchange]; !ok {
		return
	}
	delete(xs, c.Exchange)
	if len(xs) == 0 {
		delete(byVhost, c.Vhost)
	}
	if len(byVhost) == 0 {
		delete(a.s.access.topics, c.User)
	}
	a.res.Changed = true
	a.userChanged(c.User)
}

// putVhost creates a vhost with its metadata, or changes the metadata of
// one that exists; its limits stay.
func (a *applier) putVhost(c PutVhost) {
	if c.Name == "" {
		a.res.Err = NoVhost(c.Name)
		return
	}
	a.addVhost(c.Name)
	m := c.Meta
	m.Limits = a.s.access.vmeta[c.Name].Limits
	a.setVhostMeta(c.Name, m)
}

func (a *applier) setVhostMeta(vhost string, m VhostMeta) {
	if m.Description == "" && len(m.Tags) == 0 && m.DefaultQueueType == "" && len(m.Limits) == 0 {
		delete(a.s.access.vmeta, vhost)
	} else {
		a.s.access.vmeta[vhost] = m
	}
	a.res.Changed = true
	a.effect(Effect{Kind: VhostMetaChanged, Vhost: vhost, VhostMeta: m})
}

func (a *applier) setVhostLimits(c SetVhostLimits) {
	if a.vhost(c.Vhost) == nil {
		return
	}
	m := a.s.access.vmeta[c.Vhost]
	m.Limits = c.Limits
	if len(m.Limits) == 0 {
		m.Limits = nil
	}
	a.setVhostMeta(c.Vhost, m)
}

func (a *applier) setUserLimits(c SetUserLimits) {
	u, ok := a.user(c.User)
	if !ok {
		return
	}
	u.Limits = c.Limits
	if len(u.Limits) == 0 {
		u.Limits = nil
	}
	a.s.access.users[c.User] = u
	a.res.Changed = true
	a.userChanged(c.User)
}

func (a *applier) setParameter(c SetParameter) {
	if a.vhost(c.Vhost) == nil {
		return
	}
	ps := a.s.access.params[c.Vhost]
	if ps == nil {
		ps = make(map[string]Parameter)
		a.s.access.params[c.Vhost] = ps
	}
	ps[paramKey(c.Component, c.Name)] = Parameter{Component: c.Component, Name: c.Name, Value: c.Value}
	a.res.Changed = true
	if isPolicyComponent(c.Component) {
		a.policiesChanged(c.Vhost)
	}
}

func (a *applier) clearParameter(c ClearParameter) {
	ps := a.s.access.params[c.Vhost]
	k := paramKey(c.Component, c.Name)
	if _, ok := ps[k]; !ok {
		return
	}
	delete(ps, k)
	if len(ps) == 0 {
		delete(a.s.access.params, c.Vhost)
	}
	a.res.Changed = true
	if isPolicyComponent(c.Component) {
		a.policiesChanged(c.Vhost)
	}
}

// seed inserts the default data, once: the vhost if there is none at
// all, the user if absent, its permissions on the vhost if both exist.
func (a *applier) seed(c Seed) {
	if a.s.access.seeded {
		return
	}
	a.s.access.seeded = true
	a.res.Changed = true
	if c.User.Name == "" {
		return
	}
	if len(a.s.vhosts) == 0 && c.Vhost != "" {
		a.addVhost(c.Vhost)
		a.setVhostMeta(c.Vhost, c.Meta)
	}
	if _, ok := a.s.access.users[c.User.Name]; !ok {
		a.s.access.users[c.User.Name] = c.User
	}
	if _, ok := a.s.vhosts[c.Vhost]; ok {
		if _, set := a.s.access.perms[c.User.Name][c.Vhost]; !set {
			if a.s.access.perms[c.User.Name] == nil {
				a.s.access.perms[c.User.Name] = make(map[string]Permission)
			}
			a.s.access.perms[c.User.Name][c.Vhost] = c.Perm
		}
	}
	a.userChanged(c.User.Name)
}

// dropVhostAccess removes what a vhost being deleted holds of access: its
// metadata, parameters and every user's permissions in it, telling the
// node of each user changed, in name order.
func (a *applier) dropVhostAccess(vhost string) {
	delete(a.s.access.vmeta, vhost)
	delete(a.s.access.params, vhost)
	delete(a.s.access.polsets, vhost)
	var changed []string
	for u, byVhost := range a.s.access.perms {
		if _, ok := byVhost[vhost]; ok {
			delete(byVhost, vhost)
			if len(byVhost) == 0 {
				delete(a.s.access.perms, u)
			}
			changed = append(changed, u)
		}
	}
	for u, byVhost := range a.s.access.topics {
		if _, ok := byVhost[vhost]; ok {
			delete(byVhost, vhost)
			if len(byVhost) == 0 {
				delete(a.s.access.topics, u)
			}
			changed = append(changed, u)
		}
	}
	slices.Sort(changed)
	for _, u := range slices.Compact(changed) {
		a.userChanged(u)
	}
}

// queueLimit refuses a new queue in a vhost at its max-queues limit, as
// rabbit_queue_type:check_vhost_queue_limit.
func (a *applier) queueLimit(vhost string, v *vhostState, name string) error {
	limit, ok := a.s.access.vmeta[vhost].Limits.Get(LimitMaxQueues)
	if !ok || int64(len(v.queues))+1 <= limit {
		return nil
	}
	return QueueLimit(vhost, name, limit)
}
