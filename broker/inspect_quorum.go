package broker

import (
	"slices"
	"strings"

	"github.com/warrenmq/warren/queue"
)

// QueueRef names a queue.
type QueueRef struct {
	Vhost, Name string
}

// QuorumCritical answers rabbitmq-queues check_if_node_is_quorum_critical:
// whether this node is alone (single is true, the check does not apply),
// and otherwise the quorum queues this node is a member of that would
// lose their quorum if it stopped, as
// rabbit_quorum_queue:list_with_minimum_quorum counts it: those whose
// members on running nodes are a bare majority, or fewer. Sorted by vhost
// and name.
func (s *Server) QuorumCritical() (single bool, critical []QueueRef) {
	if s.cluster == nil {
		return true, nil
	}
	running := map[string]bool{}
	for _, m := range s.cluster.alive() {
		running[m.Name] = true
	}
	if len(running) <= 1 {
		return true, nil
	}
	for _, v := range s.vhostList() {
		v.mu.RLock()
		for _, e := range v.queues {
			d := e.def
			if d.Type != queue.TypeQuorum || !slices.Contains(d.Members, s.cfg.NodeName) {
				continue
			}
			up := 0
			for _, m := range d.Members {
				if running[m] {
					up++
				}
			}
			if up <= len(d.Members)/2+1 {
				critical = append(critical, QueueRef{Vhost: v.name, Name: d.Name})
			}
		}
		v.mu.RUnlock()
	}
	slices.SortFunc(critical, func(a, b QueueRef) int {
		if c := strings.Compare(a.Vhost, b.Vhost); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return false, critical
}
