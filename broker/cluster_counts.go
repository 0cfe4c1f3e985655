package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// adminCounts asks a node for its connection and channel counts
// (access_limits.go): its connections to the request's vhost and the
// request's user's connections and channels.
const adminCounts = "counts"

// peerCountsTimeout bounds asking the other nodes for their counts: a
// node that has not answered by then counts as none, as RabbitMQ counts
// a node whose tracking table it cannot read.
const peerCountsTimeout = time.Second

// peerCounts sums the counts of every other running node, asking them at
// once.
func (n *clusterNode) peerCounts(vhost, user string) connCounts {
	ctx, cancel := context.WithTimeout(n.ctx, peerCountsTimeout)
	defer cancel()
	var (
		mu    sync.Mutex
		total connCounts
		wg    sync.WaitGroup
	)
	for _, m := range n.alive() {
		if m.Name == n.srv.cfg.NodeName {
			continue
		}
		wg.Go(func() {
			c, err := n.askCounts(ctx, m.Addr, vhost, user)
			if err != nil {
				n.log.Debug("a node's connection counts are unknown; counting none",
					zap.String("node", m.Name), zap.Error(err))
				return
			}
			mu.Lock()
			total.add(c)
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

// askCounts asks the node at addr for its counts.
func (n *clusterNode) askCounts(ctx context.Context, addr, vhost, user string) (connCounts, error) {
	nc, err := n.port.Dial(ctx, addr, adminService)
	if err != nil {
		return connCounts{}, err
	}
	reply, err := askAdmin(ctx, nc, adminRequest{Op: adminCounts, Vhost: vhost, User: user})
	switch {
	case err != nil:
		return connCounts{}, err
	case reply.Error != "":
		return connCounts{}, errors.New(reply.Error)
	case reply.Counts == nil:
		return connCounts{}, errors.New("no counts in the reply")
	}
	return *reply.Counts, nil
}
