package cluster

import (
	"fmt"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
)

// delegates are memberlist's callbacks into a Membership. memberlist calls
// the event and alive ones with its node lock held: they take only
// Membership.mu and never call back into memberlist.
type delegates struct{ m *Membership }

// NodeMeta returns this node's encoded metadata, which Join and UpdateMeta
// checked against the limit.
func (d *delegates) NodeMeta(limit int) []byte {
	b := *d.m.meta.Load()
	if len(b) > limit {
		return nil
	}
	return b
}

// NotifyMsg ignores user messages: membership sends none.
func (d *delegates) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to piggyback on gossip.
func (d *delegates) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState adds nothing to push-pull.
func (d *delegates) LocalState(bool) []byte { return nil }

// MergeRemoteState ignores what LocalState does not send.
func (d *delegates) MergeRemoteState([]byte, bool) {}

// NotifyJoin records a member that joined or came back.
func (d *delegates) NotifyJoin(n *memberlist.Node) { d.m.record(EventJoin, n) }

// NotifyLeave records a member that left (its own dead message) or failed.
func (d *delegates) NotifyLeave(n *memberlist.Node) {
	if n.State == memberlist.StateLeft {
		d.m.record(EventLeave, n)
		return
	}
	d.m.record(EventFail, n)
}

// NotifyUpdate records a member's new metadata.
func (d *delegates) NotifyUpdate(n *memberlist.Node) { d.m.record(EventUpdate, n) }

// NotifyAlive refuses an alive message for a name that a live member at
// another address holds.
func (d *delegates) NotifyAlive(n *memberlist.Node) error {
	if holder := d.m.holder(n.Name, n.Address()); holder != "" {
		return fmt.Errorf("node name %q is held by the live node at %s", n.Name, holder)
	}
	return nil
}

// NotifyMerge refuses a join whose state has a live node named as one of
// ours at another address: on the joining side that is this node's name
// taken (Join reports ErrNameTaken); on the side joined, a newcomer whose
// name is taken.
func (d *delegates) NotifyMerge(peers []*memberlist.Node) error {
	for _, n := range peers {
		if n.State != memberlist.StateAlive && n.State != memberlist.StateSuspect {
			continue
		}
		holder := d.m.holder(n.Name, n.Address())
		if holder == "" {
			continue
		}
		if n.Name == d.m.cfg.Node {
			d.m.mu.Lock()
			d.m.conflict = n.Address()
			d.m.mu.Unlock()
			return fmt.Errorf("node name %q is held by the live node at %s", n.Name, n.Address())
		}
		d.m.log.Warn("refused a node whose name is taken", zap.String("node", n.Name),
			zap.String("addr", n.Address()), zap.String("holder", holder))
		return fmt.Errorf("node name %q is held by the live node at %s", n.Name, holder)
	}
	return nil
}

// NotifyConflict is memberlist's own report of two addresses for a name,
// which NotifyAlive has already refused.
func (d *delegates) NotifyConflict(existing, other *memberlist.Node) {
	d.m.log.Warn("node name claimed from two addresses", zap.String("node", existing.Name),
		zap.String("addr", existing.Address()), zap.String("other", other.Address()))
}

// holder returns the address of the live member named name when it is not
// addr, or "".
func (m *Membership) holder(name, addr string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mem, ok := m.members[name]; ok && mem.State == StateAlive && mem.Addr != addr {
		return mem.Addr
	}
	return ""
}
