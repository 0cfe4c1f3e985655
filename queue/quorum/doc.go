// Package quorum is the quorum queue type (x-queue-type=quorum): each
// queue a hashicorp/raft group whose replicas apply the state machine of
// queue/quorum/fifo, every group of a node logging to the node's one
// write-ahead log (queue/quorum/wal), so one fsync serves every group that
// appended. On a single node a queue is a group of one; in a cluster its
// members are recorded in its definition (three nodes by default), every
// node runs the queue, members with a replica, and any node's channels
// use it. The members change through SetMembers (members.go, when the
// definition changes): a new member starts a replica that the leader adds
// to the group and sends the queue; the leader reconciles the group's
// Raft configuration with the members whenever they change and whenever
// it is elected; a replica whose node is no longer a member serves until
// the group no longer counts it, then deletes its data, and its node goes
// on as a non-member.
//
// # How a command travels
//
// A session (session.go, in the manner of RabbitMQ's rabbit_fifo_client)
// turns a channel's operation into a fifo command and submits it to the
// queue's proposer (proposer.go), which never blocks the channel. The
// proposer's loop takes what is pending and encodes it as one Raft entry
// (entry.go: up to 1,024 commands; a message's body travels inside its
// Enqueue): raft.Apply when this replica leads, which returns once Raft's
// leader loop took the entry, so the next batch gathers while Raft writes
// and replicates this one; otherwise the entry goes over the node's link
// to the leader's node (net.go, the cluster port's "quorum" service),
// which applies it there and answers. The proposer's waiter takes the
// answers in order and runs each request's done: a publisher confirm is
// posted only once its Enqueue is committed, that is on a majority's
// disk, the leader's included. The leader's entries reach its disk while
// its followers write theirs, and nothing acts on an entry before the
// leader's disk has it (replicalog.go). A batch whose leader was lost, or that reached a node that no
// longer leads, is proposed again ahead of what came after it; every
// command is safe to repeat (an Enqueue names its publisher and sequence,
// so a resend is answered Duplicate and not enqueued twice). A session
// numbers its publishes one after another (base+1, base+2 …, a new base
// for each session and after a nack, session.go), and the state machine
// enqueues only a publisher's next number: one past it is answered
// OutOfSequence, neither enqueued nor recorded, so an earlier publish is
// never judged a duplicate of a later one that overtook it. So that
// batches rarely overtake one another, a batch is sent only while every
// batch in flight went to the same leader and none came back to be
// retried, and once all are answered what came back is sent again in the
// order it was submitted, merged with the retries not yet sent (the rest
// of a long retry, a new leader's commands). One can still overtake
// another when a node refused the one and, leading a moment later, took
// the next: its enqueues come back OutOfSequence and go back, in order,
// with what is sent again once every batch in flight is answered. An
// enqueue out of sequence whose publisher has no earlier one held by the
// proposer (refused by reject-publish, failed, or its channel closed and
// forgotten) would never be taken: it is answered then, a nack, as
// RabbitMQ drops an out-of-sequence enqueue that nobody resends.
// A leader's proposer with only settles to send, nothing in flight and
// no message ready holds them back for up to 300 µs (lingerFor), so that
// the publish that usually follows a consumer's ack travels in the same
// entry rather than wait behind the settle's log write and replication.
// A batch that failed because its leader's node is gone is retried
// every 50 ms until a leader answers or 10 s pass (then it fails, a nack),
// and nothing is forwarded to an address within 100 ms of a failed dial
// to it, so a node waiting for a leader never spins.
// A follower's proposer hears of a new leader from Raft's leader
// observation and sends what waits to it at once; that its own replica
// leads, or no longer does, it hears from Raft's LeaderCh, which Raft
// overwrites and never waits on (a NotifyCh, on which a leader stepping
// down waits, deadlocks with a proposer waiting in raft.Apply for that
// same leader's loop).
//
// # A leader's node lost
//
// Cluster groups run with long Raft timeouts (timing.go: a 10 s
// heartbeat timeout, a 3 s lease), so that idle groups cost little, and
// do not wait for them to replace a lost leader (failover.go): when the
// link to the leader's node closes, or the Raft stream from it breaks
// (both at once when its process is killed), or its beats stop for
// 2 s (a hung or cut-off node; long enough to ride out a busy node's
// stalls, which would otherwise set every group it leads electing at
// once), each replica following a leader there that no stream from that
// node still beats for stands for election at once, as a leadership
// transfer would have it (a TimeoutNow handed to the replica), the
// group's first voter first and the others 500 ms later if no candidate
// asked for their vote; a survivor whose log is further on refuses that
// candidate and stands itself, the first voter of those left at once
// and the others 500 ms later if no candidate asked for their vote
// (two that stand together depose each other), and a replica that
// refuses such a candidate hurries, so that a stand that fails is
// followed by an election within the hurried timeout. A new group's
// first member (the leader its declaring node placed) stands at once,
// and a replica that restarts with a log and is its group's first voter
// asks the others for pre-votes every 200 ms while it has no leader,
// and stands once a majority would vote for it, so that a restarted
// cluster elects as soon as a majority runs.
//
// A node whose link closes is unreachable at once (unreachable.go), as
// RabbitMQ's quorum queues take a consumer monitor's noconnection: each
// leader here commits fifo.Unreachable naming the nodes of its consumers
// it cannot reach, whenever that changes and once its LeaderElected is
// applied, so that their unsettled messages go to consumers elsewhere
// within milliseconds of a kill rather than once membership declares the
// node failed (NodeDown, seconds later), and a one-in-flight publisher
// waiting for its message to be consumed does not wait that long. A
// probe dials the unreachable nodes every 500 ms; a link up again (or
// membership's NodeUp) makes a node reachable, and its consumers are
// served again.
//
// # Effects and sessions
//
// Every replica applies every entry (fsm.go); only the leader carries out
// the effects (effects.go): deliveries and cancellations to the session of
// the consumer's channel, on this node or over the link to its node;
// dead-lettering through the broker's hook; timers for message TTLs and
// x-expires, whose firing proposes a Tick. A new leader proposes
// LeaderElected first, which re-issues every unsettled delivery; the
// session drops a delivery whose consumer id it has seen, so no consumer
// sees a message twice because the leader changed. A consumer's ids
// follow one another, so a delivery past a gap shows the session that
// the ones in between were lost (a leader died before sending them, and
// the new one applied later entries before its LeaderElected, or a link
// broke): it proposes Resend for them, as rabbit_fifo_client asks the
// leader for missing deliveries, and takes them once when they come
// (session.go). The session numbers
// the deliveries it posts itself and settles by those numbers, sorted per
// consumer so that requeued messages keep their order. Consume-ok is
// posted once the Checkout is committed, and deliveries that came first
// wait behind it.
//
// A policy reaches the queue through UpdateArgs on every node that runs
// it; each proposes the configuration it makes (fifo.UpdateConfig), and a
// leader newly elected proposes its own when the state's differs
// (policy.go). The effective arguments are kept in an atomic pointer
// (dead-lettering and Touch read them on any goroutine).
//
// # Bodies and snapshots
//
// The state machine holds headers only (12 bytes a plain message, in
// fifo's chunked deques) and names a message by the index of the command
// that enqueued it (the entry's Raft index shifted left by ten bits, plus
// the command's position). Each replica keeps the bodies of the messages
// it holds (bodies.go): a window of at most 16,384 bodies or 32 MiB in
// memory, the rest in the replica's page log, a log of the node's
// volatile store under pages/ beside the WAL (queue/store with
// Options.Volatile: emptied at every start, never synced; pages.go).
// While the window is full, or the log holds bodies not read back, an
// enqueue's body is appended to the log; as the window drains, one
// Reader moving forward reads the log's bodies back into it and settles
// their records, so the log holds only the paged region, in enqueue
// order. A body is dropped as its message leaves the queue
// (fifo.State.Left), from memory or from the log, so one old unacked
// message pins nothing but its own body. A delivery whose body is not in
// the window (a high-priority message, a Resend, a basic.get past the
// window) reads it from the log on Raft's FSM goroutine, through runs
// that map indexes to records (16 bytes per entry's enqueues) and a
// Reader that moves forward: one record's read when such deliveries come
// in order, up to 1,024 (the store's sparse index) otherwise. The log is
// a cache, never the record: a restarted replica rebuilds it from its
// snapshot and Raft log.
//
// A snapshot is the state plus every live body, so the Raft log can be
// truncated right behind it however old the oldest unacked message is,
// and a new or lagging member receives the queue whole: disk stays
// bounded by the live messages and the entries since the last snapshot.
// Snapshot (on the FSM goroutine) streams the state into a spool, an
// unlinked file beside the page logs, and shares the window's messages;
// Persist (on Raft's snapshot goroutine) writes the state, the window and
// the paged bodies, read from the page log, in index order. From
// Snapshot until Release the page log holds its settles back (the forward
// Reader skips the records of bodies gone meanwhile), so no body the
// snapshot needs is reclaimed. Restore puts the first bodies in memory
// and the rest in a fresh page log. Snapshots are asked for by the
// state machine, not by Raft's threshold: once as many entries were
// applied since the last one as bodies are live, now or at the last
// snapshot, whichever is fewer (and at least 16,384), so a snapshot's
// cost is O(1) per entry applied and a queue that only grows snapshots
// each time it doubles: a restart after a crash replays at most about
// half of it. A replica that stops gracefully (Queue.Close, as its node
// stops) takes a snapshot first when at least 1,024 entries were applied
// since the last, so the next start restores it and replays nothing: Raft
// applies entries after a restart only once the group has a leader, and
// the queue serves only what it applied. Memory per replica is the
// window, 12 bytes of header and up to 16 bytes of runs per paged
// message; a backlog's bodies take their size twice on each replica's
// disk at worst (the last snapshot and the page log). Known limit: a
// delivery past the window costs a read from the page log on the FSM
// goroutine, which holds up the queue while it reads.
//
// # Raft transport
//
// In a cluster every group's replica talks to its peers through the
// node's one Raft transport (raftnet.go): one stream per peer node and
// direction (the "quorum-raft" service) carries the RPCs of all groups,
// each tagged with its group and a request id, encoded by hand
// (raftnet_codec.go); a snapshot install takes a stream of its own
// (raftnet_snapshot.go). An RPC fails after 10 s without an answer, or at
// once when its stream breaks; the next RPC dials again. A request for a
// group not open yet on the peer waits there up to 2 s for it (a new
// queue's members open it at about the same time).
//
// Node-level beats stand in for the heartbeats of idle groups
// (raftnet_beat.go): every 100 ms a node beats on each stream it dialled,
// listing the groups whose leaders' heartbeats it answered on its own
// node since the last beat; the peer hands those followers a heartbeat
// (at most every 2 s each) and acknowledges the beat. While a peer
// acknowledges beats, a leader's heartbeat at the term the follower last
// accepted, or an empty append that exactly repeats one it acknowledged,
// is answered from that answer; anything carrying entries or a new
// commit index, votes and snapshots always reach the follower, and a
// failure or refusal drops the kept answers. hashicorp/raft takes only
// the time of contact from such an answer (its lease) and counts a
// follower's match only from an answered append with entries, so a kept
// answer can delay a leader's stepping down by at most the 2 s of
// silence, never commit an entry (TestKeptAnswersNeverCommitFalsely).
//
// # Idle groups rest
//
// A cluster queue's group idle for 10 s (Config.RestAfter: no consumer,
// nothing checked out or to dead-letter, at most 1,024 ready messages,
// nothing in the proposer) rests (rest.go): each replica takes a snapshot
// and stops its Raft and its proposer's goroutines, keeping its transport
// and what it reports (leader, voters, Raft metrics, counts). Followers
// rest first; a leader only once every follower acknowledged its whole
// log as committed at least 16 s before, so that none is left running to
// stand for election when the leader's node stops listing the group in
// its beats. A node's rest loop looks at every replica once a second. A
// command wakes the replica that led (it stands at once; its requests for
// votes wake the others); another node forwards to that leader's node as
// usual, and wakes its own replica to stand only when that node cannot
// be reached. Any Raft request but a heartbeat of the term it rested at
// wakes a resting replica before it is served; that heartbeat is answered
// as its Raft would answer it, and beats' heartbeats are taken. A member
// change wakes it too, and the loss of the node it rested led from wakes
// the group's first voter but for that node's, which stands. Waking restores the snapshot taken at rest, so the
// replica is as it rested at once; the first command after a rest
// commits some 10–20 ms later than it would have (a restart and an
// election).
//
// # Goroutines
//
// Per queue, while its replica runs (none while it rests): Raft's own
// (hashicorp/raft runs several per group), the proposer's loop and
// waiter, a snapshot request while one runs, the
// member worker while the members or the leader change, the x-expires
// hook's, a timer's callback, and one per Raft RPC a peer sent while the
// replica serves it; page log reads happen on Raft's FSM and snapshot
// goroutines. Per node: the page store's sync loop and compactor
// (queue/store), the links' accept loop and, per link, a
// writer, a reader and an answerer (the dialled ones a dialler first);
// while any replica runs, the Raft transport's accept loop, its beat
// loop, a reader and a writer per stream, one per snapshot install
// received, one per request waiting for its group to open, one pacing
// the stands after a node is lost, and a restarted first voter's
// pre-vote probe with one per pre-vote request (all joined when the
// transport stops); while any node is unreachable, the probe that dials
// it (joined by Type.Close).
// Queue.Close and Delete stop Raft, the proposer and what they started
// (the last replica's transport stops the node's and joins it): the
// proposer first, while Raft still answers what it holds (a cut-off
// leader's entries fail when it steps down, within its lease), then
// the replica's RPCs in flight are aborted and Raft shut down, so that
// the shutdown does not wait out an append's 10 s timeout;
// Type.Close ends the links and closes the WAL and the page store once
// every queue is closed.
//
// # Locks
//
// Type.mu guards the queue map and the nodes reported down; reach.mu, a
// leaf, the unreachable nodes and their probe's flags. Queue.mu
// guards the sessions, timers and the done flag; it is taken before a
// session's mu, never after. fsm.mu guards the state and the bodies
// (pageLog.mu, a leaf, guards the holds a snapshot takes on its page
// log, shared with Raft's snapshot goroutine); it is
// held only while applying or reading them, never while effects are
// carried out, so an effect may call into sessions and the broker. A
// link's mu guards its outbox and its pending forwarded proposals.
// memberState.replica is held while the member worker starts or drops
// the replica and by Queue.stop before it stops it (so no replica starts
// after); memberState.mu, a leaf, guards the worker's flags. In the Raft
// transport, raftNet.mu (its groups and run) and raftRun.mu (peers,
// streams) are never held together nor while taking another; a
// raftPeer's mu (its stream and dial) is taken before its stream's
// (outbox, pending calls), a stream's beatMu (kept answers, beats)
// before its mu, and a group's retimeMu (its switch between hurried and
// steady timeouts) before the group's mu (heartbeat handler, requests in
// hand, the leader it follows), a leaf.
// Queue.restMu is held while a replica stops for rest or starts again
// (rest.go), and by Queue.stop as it marks the queue stopping; nothing
// Raft or the proposer's waiter runs takes it, and the proposer's loop
// takes it (to wake the replica for a command) only while no one waits
// for that loop under it. Otherwise nothing here holds a lock while
// waiting for Raft or the network, and Raft's FSM goroutine, which Raft
// waits for, never waits for Raft.
//
// # Metrics
//
// Queue.RaftMetrics (metrics.go, queue.RaftReporter) reports the
// replica's term, commit, applied, last and snapshot indexes from its
// Raft, and the commit latency the fsm stores (an atomic, no lock) as it
// applies each entry: the time since the leader appended it.
package quorum
