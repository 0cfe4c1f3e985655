package broker

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
)

// Some definitions changes must be committed even when the cluster
// cannot commit them now (no leader, or no majority, for longer than the
// commit timeout): the node has already acted on them, or the cluster is
// unusable without them. They are idempotent, so proposing them again
// after a commit of unknown fate is harmless.

// commitRetry is how long a node waits between attempts of a change it
// commits eventually.
const commitRetry = time.Second

// commitEventually proposes cmd on a goroutine the server tracks, again
// and again, until it is committed or the node shuts down. what names the
// change in the log.
func (n *clusterNode) commitEventually(cmd meta.Command, what string) {
	n.srv.goTracked(func() {
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.CommitTimeout)
			_, err := n.defs.Propose(ctx, cmd)
			cancel()
			if err == nil {
				if attempt > 0 {
					n.log.Info(what+": committed", zap.Int("attempts", attempt+1))
				}
				return
			}
			if n.ctx.Err() != nil {
				return
			}
			if attempt == 0 {
				n.log.Warn(what+": not committed; trying again until it is", zap.Error(err))
			}
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(commitRetry):
			}
		}
	})
}

// addDefaultVhost commits the default data every new cluster has (the
// default vhost, user and permissions, seed.go). Each forming node
// proposes it, and only the first Seed applied does anything. The first
// proposals can outlast the commit timeout while the new cluster elects
// its first leader, and a cluster without them would refuse every
// client, so it is committed eventually.
func (n *clusterNode) addDefaultVhost() {
	n.commitEventually(n.srv.seedCommand(), "seeding the default vhost and user")
}

// deleteDefinitionLater commits the delete of a queue's definition that
// failed to commit after the queue had deleted itself on this node (its
// owner's connection closed, it expired, or a client deleted it): the
// queue is gone here, so its definition must go from the cluster too, or
// every node would go on naming a queue that nobody runs. The delete
// names the incarnation, so a queue declared since under the same name
// stays.
func (n *clusterNode) deleteDefinitionLater(cmd meta.DeleteQueue) {
	n.commitEventually(cmd, "deleting the definition of queue '"+cmd.Name+"' in vhost '"+cmd.Vhost+"'")
}
