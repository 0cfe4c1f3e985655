package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// A definitions change is visible on every running node when the client
// hears that it is done, as RabbitMQ's Mnesia transactions make it: a
// queue declared through one node can be published to through any other
// the moment declare-ok arrives, rather than a heartbeat later, when
// publishes routed nowhere would be confirmed and lost. Two steps:
//
//   - the leader, once it has committed an entry, appends a Raft barrier
//     (nudgeFollowers), whose AppendEntries carry the new commit index to
//     the followers at once instead of at hashicorp/raft's next idle
//     round (CommitTimeout, 50 to 100 ms later);
//   - the proposer, once its own node has applied the entry, asks every
//     other running node over the defs service (kind forwardApplied) to
//     answer when it has applied that index too (waitVisible), within
//     visibleTimeout: a node that does not answer by then is slow or
//     cut off, and the client is not held longer for it.

// visibleTimeout bounds how long a proposer waits for the other running
// nodes to apply a change.
const visibleTimeout = time.Second

// nudgeFollowers appends a barrier after a committed entry, so that the
// followers learn the commit now. Its own fate does not matter: it is
// not waited for.
func nudgeFollowers(r *raft.Raft) {
	r.Barrier(100 * time.Millisecond)
}

// waitVisible waits until every other running node has applied index, or
// visibleTimeout has passed.
func (n *clusterNode) waitVisible(ctx context.Context, index uint64) {
	ctx, cancel := context.WithTimeout(ctx, visibleTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range n.alive() {
		if m.Name == n.srv.cfg.NodeName {
			continue
		}
		wg.Go(func() {
			if err := askApplied(ctx, n.port, m.Addr, index); err != nil {
				n.log.Debug("a node has not applied a definitions change in time",
					zap.String("node", m.Name), zap.Uint64("index", index), zap.Error(err))
			}
		})
	}
	wg.Wait()
}

// askApplied asks the node at addr to answer once it has applied index.
func askApplied(ctx context.Context, port clusterPort, addr string, index uint64) error {
	nc, err := port.Dial(ctx, addr, defsService)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	if _, err := nc.Write(binary.BigEndian.AppendUint64([]byte{forwardApplied}, index)); err != nil {
		return err
	}
	var status [1]byte
	if _, err := io.ReadFull(nc, status[:]); err != nil {
		return err
	}
	if status[0] != forwardOK {
		return fmt.Errorf("answered status %d", status[0])
	}
	return nil
}

// answerApplied answers a forwardApplied request read from r once this
// node has applied the index it names, or with forwardFailed after
// visibleTimeout.
func answerApplied(nc io.Writer, r io.Reader, fsm *raftFSM) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), visibleTimeout)
	defer cancel()
	status := byte(forwardOK)
	if fsm.waitSeen(ctx, binary.BigEndian.Uint64(b[:])) != nil {
		status = forwardFailed
	}
	nc.Write([]byte{status})
}
