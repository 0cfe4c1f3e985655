package meta

import (
	"maps"
	"reflect"
	"slices"

	"github.com/warrenmq/warren/exchange"
)

// Diff returns the effects that take a node which carried out from's
// definitions to to's: what a replica does when it restores a snapshot
// newer than its state. Removals come first (bindings, queues, exchanges,
// then the vhost), then additions (the vhost, exchanges, queues, then
// bindings), each in name or canonical order, so that every effect finds
// what it refers to. A queue whose incarnation changed is stopped (its
// data deleted) and started anew, one whose members changed is told its
// new members; an exchange whose definition changed is removed and added.
// A queue or exchange added carries the policy in force on it; one that
// stays is told its policy when that changed.
func Diff(from, to *State) []Effect {
	var effects []Effect
	for _, vh := range from.Vhosts() {
		effects = append(effects, removals(vh, from.vhosts[vh], to.vhosts[vh])...)
	}
	for _, vh := range to.Vhosts() {
		effects = append(effects, additions(vh, from.vhosts[vh], to.vhosts[vh], to)...)
		effects = append(effects, policyDiff(vh, from, to)...)
	}
	return append(effects, accessDiff(from, to)...)
}

// policyDiff returns the effects telling the queues and exchanges of vh
// that are in both states, unchanged, of the policy in force on them
// when it differs: queues, then exchanges, in name order.
func policyDiff(vh string, from, to *State) []Effect {
	old, now := from.vhosts[vh], to.vhosts[vh]
	if old == nil {
		return nil
	}
	var out []Effect
	for _, n := range slices.Sorted(maps.Keys(now.queues)) {
		q := now.queues[n]
		if was, ok := old.queues[n]; !ok || was.Incarnation != q.Incarnation {
			continue
		}
		was, is := from.QueuePolicy(vh, &q), to.QueuePolicy(vh, &q)
		if !sameEffective(&was, &is) {
			out = append(out, Effect{Kind: QueuePolicyChanged, Vhost: vh, Queue: q, Policy: is})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(now.exchanges)) {
		x := now.exchanges[n]
		if was, ok := old.exchanges[n]; !ok || !reflect.DeepEqual(was, x) {
			continue
		}
		was, is := from.ExchangePolicy(vh, n), to.ExchangePolicy(vh, n)
		if !sameEffective(&was, &is) {
			out = append(out, Effect{Kind: ExchangePolicyChanged, Vhost: vh, Exchange: x, Policy: is})
		}
	}
	return out
}

// accessDiff returns the effects taking a node from from's users and
// vhost metadata to to's: each vhost whose metadata changed, then each
// user deleted, then each user changed, in name order.
func accessDiff(from, to *State) []Effect {
	var out []Effect
	for _, vh := range to.Vhosts() {
		if !reflect.DeepEqual(from.access.vmeta[vh], to.access.vmeta[vh]) {
			out = append(out, Effect{Kind: VhostMetaChanged, Vhost: vh, VhostMeta: to.access.vmeta[vh]})
		}
	}
	for _, u := range slices.Sorted(maps.Keys(from.access.users)) {
		if _, ok := to.access.users[u]; !ok {
			out = append(out, Effect{Kind: UserDeleted, Access: UserAccess{User: UserDef{Name: u}}})
		}
	}
	for _, u := range slices.Sorted(maps.Keys(to.access.users)) {
		was, _ := from.UserAccess(u)
		now, _ := to.UserAccess(u)
		if !reflect.DeepEqual(was, now) {
			out = append(out, Effect{Kind: UserChanged, Access: now})
		}
	}
	return out
}

// removals are the effects removing what of old (vhost vh) is not in
// now, which is nil when the vhost is gone.
func removals(vh string, old, now *vhostState) []Effect {
	gone := now == nil
	if gone {
		now = newVhostState()
	}
	var out []Effect
	for _, k := range slices.Sorted(maps.Keys(old.bindings)) {
		if _, ok := now.bindings[k]; !ok || changedEnds(old, now, old.bindings[k]) {
			out = append(out, Effect{Kind: BindingRemoved, Vhost: vh, Binding: old.bindings[k]})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(old.queues)) {
		if q, ok := now.queues[n]; !ok || q.Incarnation != old.queues[n].Incarnation {
			out = append(out, Effect{Kind: QueueStopped, Vhost: vh, Queue: old.queues[n], DeleteData: true})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(old.exchanges)) {
		if x, ok := now.exchanges[n]; !ok || !reflect.DeepEqual(x, old.exchanges[n]) {
			out = append(out, Effect{Kind: ExchangeRemoved, Vhost: vh, Exchange: old.exchanges[n]})
		}
	}
	if gone {
		out = append(out, Effect{Kind: VhostDeleted, Vhost: vh})
	}
	return out
}

// additions are the effects adding what of now (vhost vh of state to) is
// not in old, which is nil when the vhost is new.
func additions(vh string, old, now *vhostState, to *State) []Effect {
	var out []Effect
	if old == nil {
		old = newVhostState()
		out = append(out, Effect{Kind: VhostAdded, Vhost: vh})
	}
	for _, n := range slices.Sorted(maps.Keys(now.exchanges)) {
		if x, ok := old.exchanges[n]; !ok || !reflect.DeepEqual(x, now.exchanges[n]) {
			out = append(out, Effect{Kind: ExchangeAdded, Vhost: vh, Exchange: now.exchanges[n],
				Policy: to.ExchangePolicy(vh, n)})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(now.queues)) {
		if q, ok := old.queues[n]; !ok || q.Incarnation != now.queues[n].Incarnation {
			nq := now.queues[n]
			out = append(out, Effect{Kind: QueueStarted, Vhost: vh, Queue: nq, Policy: to.QueuePolicy(vh, &nq)})
		} else if !slices.Equal(q.Members, now.queues[n].Members) {
			out = append(out, Effect{Kind: QueueMembersChanged, Vhost: vh, Queue: now.queues[n]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now.bindings)) {
		if _, ok := old.bindings[k]; !ok || changedEnds(old, now, now.bindings[k]) {
			out = append(out, Effect{Kind: BindingAdded, Vhost: vh, Binding: now.bindings[k]})
		}
	}
	return out
}

// changedEnds reports whether the source or the destination of b differs
// between old and now (it was deleted and declared again), so that the
// binding goes with the old one and comes back with the new.
func changedEnds(old, now *vhostState, b exchange.Binding) bool {
	if !reflect.DeepEqual(old.exchanges[b.Source], now.exchanges[b.Source]) {
		return true
	}
	if b.Destination.Exchange {
		return !reflect.DeepEqual(old.exchanges[b.Destination.Name], now.exchanges[b.Destination.Name])
	}
	return old.queues[b.Destination.Name].Incarnation != now.queues[b.Destination.Name].Incarnation
}
