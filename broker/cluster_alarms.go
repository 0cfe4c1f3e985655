package broker

import (
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/cluster"
)

// A memory or disk alarm on any node blocks the publishers of every node,
// as RabbitMQ's rabbit_alarm does across a cluster. Each node gossips the
// alarms it has raised in its membership metadata (the tag "alarms":
// "memory", "disk" or "memory,disk"; absent when none), so that every
// other node learns of a change within a gossip round. Each node blocks
// its publishers while its own alarms or those of any other live member
// are raised; a node that fails or leaves takes its alarms with it, as
// rabbit_alarm forgets a node's alarms when it goes down. Clients hear the
// same connection.blocked reason for another node's alarm as for their
// own node's ("low on memory", "low on disk"), as RabbitMQ words it.
//
// The alarm gossiper is a goroutine of the cluster node: it publishes this
// node's metadata (its AMQP address once bound, and its alarms) at once
// when its alarms change, and otherwise looks every second for a change
// (the AMQP listener bound after the cluster started, an update that
// failed), until shutdown stops and joins it, before the node leaves.

// alarmTag is the NodeMeta tag that carries a node's raised alarms.
const alarmTag = "alarms"

// alarmRetry is how often the gossiper looks for a change it has not
// published, and how long one update may wait to go out.
const alarmRetry = time.Second

// alarmGossip publishes this node's alarms and follows the others'.
type alarmGossip struct {
	wake chan struct{} // capacity 1: this node's alarms changed
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	remote map[string]alarm // the alarms last seen of each other live node
}

func newAlarmGossip() *alarmGossip {
	return &alarmGossip{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		remote: map[string]alarm{}}
}

// alarmNames are the alarms' names in the tag, in order.
var alarmNames = []struct {
	a    alarm
	name string
}{{alarmMemory, "memory"}, {alarmDisk, "disk"}}

// formatAlarms is the tag value of a set of alarms: their names, comma
// separated.
func formatAlarms(set alarm) string {
	var names []string
	for _, n := range alarmNames {
		if set&n.a != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// alarmList is the names of a set of alarms, for status.
func alarmList(set alarm) []string {
	if set == 0 {
		return []string{}
	}
	return strings.Split(formatAlarms(set), ",")
}

// parseAlarms reads a tag value; names it does not know (a newer node's)
// are ignored.
func parseAlarms(v string) alarm {
	var set alarm
	for _, name := range strings.Split(v, ",") {
		for _, n := range alarmNames {
			if n.name == name {
				set |= n.a
			}
		}
	}
	return set
}

// startAlarms starts the gossiper; shutdown stops it.
func (n *clusterNode) startAlarms() {
	go n.alarms.run(n)
	n.publishAlarms()
}

// publishAlarms wakes the gossiper: this node's alarms changed.
func (n *clusterNode) publishAlarms() {
	select {
	case n.alarms.wake <- struct{}{}:
	default:
	}
}

// stopAlarms stops the gossiper and waits for it.
func (n *clusterNode) stopAlarms() {
	close(n.alarms.stop)
	<-n.alarms.done
}

// run publishes this node's metadata when it changes, until stop.
func (g *alarmGossip) run(n *clusterNode) {
	defer close(g.done)
	t := time.NewTicker(alarmRetry)
	defer t.Stop()
	var published *cluster.NodeMeta
	for {
		select {
		case <-g.stop:
			return
		case <-g.wake:
		case <-t.C:
		}
		meta := n.localMeta()
		if published != nil && equalMeta(*published, meta) {
			continue
		}
		if err := n.members.UpdateMeta(meta, alarmRetry); err != nil {
			n.log.Warn("gossiping this node's alarms failed; trying again", zap.Error(err))
			continue
		}
		published = &meta
	}
}

// localMeta is what this node tells the others about itself now.
func (n *clusterNode) localMeta() cluster.NodeMeta {
	meta := cluster.NodeMeta{Tags: map[string]string{lifeTag: strconv.FormatUint(n.srv.life, 10)}}
	if len(n.srv.cfg.Listen) > 0 {
		meta.AMQPAddr = n.srv.cfg.Listen[0]
	}
	if a := n.srv.Addr(); a != nil {
		meta.AMQPAddr = a.String()
	}
	if set := n.srv.ownAlarmSet(); set != 0 {
		meta.Tags[alarmTag] = formatAlarms(set)
	}
	return meta
}

func equalMeta(a, b cluster.NodeMeta) bool {
	return a.AMQPAddr == b.AMQPAddr && maps.Equal(a.Tags, b.Tags)
}

// remoteAlarmsChanged follows the alarms of the other members through a
// membership event (the member as it is after it), logs a change and
// blocks or unblocks this node's publishers. It runs on the membership's
// event goroutine, one event at a time, in order.
func (n *clusterNode) remoteAlarmsChanged(ev cluster.Event) {
	m := ev.Member
	if m.Name == n.srv.cfg.NodeName {
		return
	}
	var set alarm
	if m.State == cluster.StateAlive {
		set = parseAlarms(m.Meta.Tags[alarmTag])
	}
	g := n.alarms
	g.mu.Lock()
	was := g.remote[m.Name]
	if set == 0 {
		delete(g.remote, m.Name)
	} else {
		g.remote[m.Name] = set
	}
	var union alarm
	for _, a := range g.remote {
		union |= a
	}
	g.mu.Unlock()
	switch {
	case was == set:
	case set == 0:
		n.log.Info("alarm cleared on another node", zap.String("node", m.Name), zap.String("state", m.State.String()))
	default:
		n.log.Warn("alarm raised on another node: publishers blocked on every node", zap.String("node", m.Name),
			zap.String("alarms", formatAlarms(set)))
	}
	n.srv.setRemoteAlarms(union)
}

// remoteAlarmsOf returns the alarms last seen of the other node.
func (n *clusterNode) remoteAlarmsOf(node string) alarm {
	n.alarms.mu.Lock()
	defer n.alarms.mu.Unlock()
	return n.alarms.remote[node]
}
