package broker

import (
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// A channel checks permissions where rabbit_channel does, and keeps the
// last permCacheSize decisions that allowed (RabbitMQ's permission cache
// holds 12), so that a publisher sending to the same exchange pays one
// atomic load and a comparison per message, never a regular expression.
// The cache is valid for the authz it was made under: any change to any
// user's permissions publishes a new one, and the next check on every
// channel starts afresh, so a change applies to open channels at their
// next operation (RabbitMQ applies it when a channel's cache is cleared,
// which an idle channel's hibernation does). Read loop only.

// permCacheSize is how many decisions a channel keeps, of each kind.
const permCacheSize = 12

// resourceKind is what a permission is checked on.
type resourceKind uint8

const (
	resExchange resourceKind = iota
	resQueue
)

func (k resourceKind) String() string {
	if k == resQueue {
		return "queue"
	}
	return "exchange"
}

// permKey is one decision: perm on the resource name of kind. For topic
// decisions name is the exchange and key the routing key.
type permKey struct {
	kind resourceKind
	perm permKind
	name string
	key  string
}

// permCache is a channel's ring of decisions that allowed.
type permCache struct {
	az     *authz
	res    [permCacheSize]permKey
	nres   int
	topics [permCacheSize]permKey
	ntopic int
}

// cache returns the channel's decisions, made under az: allocated at the
// first check, dropped if they were made under another authz.
func (ch *channel) cache(az *authz) *permCache {
	p := ch.perms
	if p == nil {
		p = &permCache{az: az}
		ch.perms = p
	} else if p.az != az {
		*p = permCache{az: az}
	}
	return p
}

func find(ring []permKey, n int, k permKey) bool {
	for i := range min(n, len(ring)) {
		if ring[i] == k {
			return true
		}
	}
	return false
}

// checkAccess checks that the channel's user may perm the resource name
// of kind in its vhost, answering RabbitMQ's 403 otherwise.
func (ch *channel) checkAccess(kind resourceKind, perm permKind, name string) error {
	az := ch.c.srv.access.load()
	pc := ch.cache(az)
	k := permKey{kind: kind, perm: perm, name: name}
	if find(pc.res[:], pc.nres, k) {
		return nil
	}
	if kind == resExchange && name == "" {
		name = "amq.default"
	}
	vh := ch.c.vh.name
	if !az.user(ch.c.user).allows(vh, perm, name) {
		return protocol.NewError(protocol.AccessRefused, "%s access to %s '%s' in vhost '%s' refused for user '%s'",
			perm, kind, name, vh, ch.c.user)
	}
	pc.res[pc.nres%permCacheSize] = k
	pc.nres++
	return nil
}

// checkAnyAccess is the check of a passive declare: any of read, write or
// configure, the refusal that of configure (rabbit_channel's
// check_any_resource_access_permitted).
func (ch *channel) checkAnyAccess(kind resourceKind, name string) error {
	var err error
	for _, p := range [...]permKind{permRead, permWrite, permConfigure} {
		if err = ch.checkAccess(kind, p, name); err == nil {
			return nil
		}
	}
	return err
}

// checkTopic checks the topic permission perm (write on publish, read on
// bind and unbind) of the routing key on exchange x, if x is a topic
// exchange.
func (ch *channel) checkTopic(x *exchangeEntry, perm permKind, key string) error {
	if x == nil || x.Kind != exchange.Topic {
		return nil
	}
	az := ch.c.srv.access.load()
	pc := ch.cache(az)
	k := permKey{perm: perm, name: x.Name, key: key}
	if find(pc.topics[:], pc.ntopic, k) {
		return nil
	}
	vh := ch.c.vh.name
	if !az.user(ch.c.user).allowsTopic(vh, x.Name, perm, key) {
		return protocol.NewError(protocol.AccessRefused,
			"%s access to topic '%s' in exchange '%s' in vhost '%s' refused for user '%s'", perm, key, x.Name, vh, ch.c.user)
	}
	pc.topics[pc.ntopic%permCacheSize] = k
	pc.ntopic++
	return nil
}

// impersonator reports whether the channel's user has the impersonator
// tag, which lets it publish with another user_id (rabbit_access_control's
// check_user_id).
func (ch *channel) impersonator() bool {
	return ch.c.srv.access.load().user(ch.c.user).hasTag("impersonator")
}
