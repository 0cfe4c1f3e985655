package cluster

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// MemberState is what this node believes of another.
type MemberState int

// The states of a member. memberlist v0.5.4 does not say when it suspects
// a member: a suspect one is reported alive until it is declared failed or
// refutes the suspicion.
const (
	// StateAlive answers probes (or is suspected and not yet declared
	// failed).
	StateAlive MemberState = iota + 1
	// StateFailed stopped answering: it crashed or is cut off.
	StateFailed
	// StateLeft announced its leaving (Membership.Leave).
	StateLeft
)

func (s MemberState) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateFailed:
		return "failed"
	case StateLeft:
		return "left"
	default:
		return "unknown"
	}
}

// Member is a node of the cluster as this node sees it.
type Member struct {
	// Name is the node's name, e.g. warren@host; unique in the cluster.
	Name string
	// Addr is the node's cluster address, host:port.
	Addr string
	// Meta is what the node said about itself; zero if it could not be read.
	Meta NodeMeta
	// State is alive, failed or left.
	State MemberState
}

// EventKind says what happened to a member.
type EventKind int

// The kinds of membership events.
const (
	// EventJoin: a member joined, or came back after failing or leaving.
	EventJoin EventKind = iota + 1
	// EventLeave: a member left gracefully.
	EventLeave
	// EventFail: a member stopped answering and was declared failed.
	EventFail
	// EventUpdate: a member's metadata changed.
	EventUpdate
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	case EventUpdate:
		return "update"
	default:
		return "unknown"
	}
}

// Event is a change of membership, with the member as it is after it.
type Event struct {
	Kind   EventKind
	Member Member
}

// Timing holds memberlist's knobs. A zero field takes memberlist's LAN
// default (LANTiming); tests use faster ones.
type Timing struct {
	// ProbeInterval is how often one member is probed (1 s).
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for its ack (500 ms).
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect has to refute before it is
	// declared failed: SuspicionMult × max(1, log10(members)) ×
	// ProbeInterval (4).
	SuspicionMult int
	// GossipInterval is how often gossip goes out (200 ms).
	GossipInterval time.Duration
	// PushPullInterval is how often the full state is synchronised with a
	// random member over a stream (30 s).
	PushPullInterval time.Duration
	// TCPTimeout bounds a stream dial and exchange, joins included (10 s).
	TCPTimeout time.Duration
	// GossipToTheDead is how long failed and left members still get gossip
	// (30 s).
	GossipToTheDead time.Duration
	// DeadNodeReclaim is how long after failing a name may be taken by a
	// node at another address (30 s). A left node's name may be at once.
	DeadNodeReclaim time.Duration
	// RetryMin and RetryMax bound the back-off of joining the seeds while
	// this node knows no other (1 s, doubling up to 30 s).
	RetryMin, RetryMax time.Duration
}

// LANTiming is memberlist's LAN profile. In a three-node cluster a node
// that dies is probed within about 2 s (each of the others is probed in
// turn, once a second), suspected after its probe and indirect probe go
// unanswered (under 1 s), and declared failed 4 s later: others see it
// failed within about 7 s. One that leaves is seen as left within a
// second, as fast as gossip spreads.
func LANTiming() Timing {
	lan := memberlist.DefaultLANConfig()
	return Timing{
		ProbeInterval:    lan.ProbeInterval,
		ProbeTimeout:     lan.ProbeTimeout,
		SuspicionMult:    lan.SuspicionMult,
		GossipInterval:   lan.GossipInterval,
		PushPullInterval: lan.PushPullInterval,
		TCPTimeout:       lan.TCPTimeout,
		GossipToTheDead:  lan.GossipToTheDeadTime,
		DeadNodeReclaim:  30 * time.Second,
		RetryMin:         time.Second,
		RetryMax:         30 * time.Second,
	}
}

func (t Timing) withDefaults() Timing {
	d := LANTiming()
	pick := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&t.ProbeInterval, d.ProbeInterval)
	pick(&t.ProbeTimeout, d.ProbeTimeout)
	pick(&t.GossipInterval, d.GossipInterval)
	pick(&t.PushPullInterval, d.PushPullInterval)
	pick(&t.TCPTimeout, d.TCPTimeout)
	pick(&t.GossipToTheDead, d.GossipToTheDead)
	pick(&t.DeadNodeReclaim, d.DeadNodeReclaim)
	pick(&t.RetryMin, d.RetryMin)
	pick(&t.RetryMax, d.RetryMax)
	if t.SuspicionMult <= 0 {
		t.SuspicionMult = d.SuspicionMult
	}
	t.RetryMax = max(t.RetryMax, t.RetryMin)
	return t
}
