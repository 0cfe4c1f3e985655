// Package broker is Warren's AMQP 0-9-1 server: it accepts connections,
// runs the handshake, multiplexes channels, keeps each virtual host's
// exchanges, queues and bindings, and glues the protocol codec, the
// exchange router and the queue types together.
//
// # Goroutines
//
// The server starts its goroutines through Server.goTracked, and
// Server.Close waits for all of them: an accept loop per listener, a coarse clock
// (which also samples memory and disk for the alarms and logs the
// summaries of failed logins), and exactly two per connection:
//
//   - the read loop (conn.serve) reads frames with protocol.FrameReader and
//     handles them synchronously: the handshake, every channel's methods,
//     content assembly, routing and Queue.Publish all run here. There is
//     no goroutine per channel and no hand-off per frame; only a method
//     that must wait is finished elsewhere (see Channels that wait). A refused login
//     waits here before its refusal is sent, longer for an address that
//     keeps failing (auth_throttle.go), holding up no other connection.
//   - the writer (conn.writeLoop) writes the connection's output buffer in
//     one syscall per batch, sends heartbeats, drops a peer silent for two
//     heartbeat intervals and checks consumer timeouts. As in RabbitMQ,
//     any octet received counts as life (the read loop's liveReader marks
//     each read), so a peer sending one large frame slowly is not dropped.
//
// A TLS connection's handshake runs on its read loop (conn.tlsHandshake,
// listen.go) within TLSConfig.HandshakeTimeout, before the AMQP
// handshake's own timeout starts, so a client that never finishes it
// holds up neither the accept loop nor anyone else.
//
// Two other owners start goroutines or timers that the server does not
// track:
//
//   - the queue stores (queue/store: the durable one and the volatile
//     one transient messages are paged out to), which the classic queue
//     type opens when NewServer builds the registry; each starts its sync
//     loop and its compactor in store.Open and joins both in Store.Close,
//     which the classic type's Close calls after every queue is closed. A sync
//     round with several files to fsync runs them on short-lived workers
//     that it waits for before the round ends. The confirms of durable
//     messages (a queue's OnDurable) run on the sync loop, or on the
//     goroutine that closes or deletes the queue's log.
//   - classic queues run no goroutine of their own, but a queue with
//     message TTLs or x-expires holds one time.AfterFunc timer, whose
//     callback runs on a goroutine of the Go runtime. The timer is owned
//     by its queue and stopped when the queue is closed or deleted; a
//     callback that had already started finds the queue closed and
//     returns.
//
// Other timers (the writer's heartbeat ticker, the wait before a refused
// login is answered, the read loop's wait under an alarm, the close grace
// of a connection's teardown) belong to the goroutine that waits on them
// and end with it.
//
// Queue dispatch runs on whatever goroutine calls into the queue (a
// publisher's read loop, a consumer's ack, a queue timer, a limiter
// resuming it) and delivers by calling consumer.Deliver, which appends
// frames to the consumer's connection's output buffer.
//
// # Listeners, TLS and logins
//
// Config.Listen and Config.ListenTLS are lists (RabbitMQ's listeners.tcp
// and listeners.ssl): Start binds them all, plain and TLS, IPv4 and IPv6,
// or none (listen.go); Addr and TLSAddr name the first of each kind. The
// TLS listeners take their tls.Config from the certStore (tls.go) at every
// handshake (GetConfigForClient): it stats the certificate, key and CA
// files at most every TLSConfig.ReloadCheck (a second) and loads them
// again when their modification time or size changed, keeping the
// previous certificate, and logging an error, when the new files do not
// load. certStore.mu is a leaf. ServerTLSConfig hands the same reloading
// configuration to other listeners (the management API's HTTPS), and a
// file that does not load is a TLSFileError naming it.
//
// connection.start offers Config.AuthMechanisms (PLAIN and AMQPLAIN by
// default), EXTERNAL only on a TLS connection (auth_external.go, as
// RabbitMQ's rabbitmq_auth_mechanism_ssl): its user is named by the
// client's verified certificate (TLSConfig.LoginFrom, the distinguished
// name by default) and must exist (Server.userExists). A mechanism Warren
// does not know is answered 503 "unknown authentication mechanism", one
// it did not offer 503 "invalid authentication mechanism". Every refused
// login, EXTERNAL's included, goes through refuseLogin (403 to clients
// with authentication_failure_close), and Config.LoopbackUsers may log in
// from loopback only.
//
// # Sessions and actions
//
// A channel reaches a queue through a queue.Session (session.go), opened
// on the channel's first publish, consume or get on that queue and kept
// in a map keyed by queue, with the last one used checked first, so the
// publish path allocates nothing for it. Releasing the channel cancels
// its consumers, requeues what it holds and closes every session, which
// tells each queue the channel is gone. A queue that went down
// (queue.ActionQueueDown, sent by Delete) is forgotten on the read loop's
// next lookup.
//
// A session operation returns queue.Actions (deliver, settled or
// rejected confirms, block and unblock, consume-ok, get-ok or get-empty,
// cancelled, queue down, and refused: basic.consume or basic.get failing
// with the exception the queue sent, answerRefusal), which the read loop carries out
// (channel.handleActions, actions.go). What a queue produces later or on
// another goroutine it posts (queue.SessionOwner.Post) to the
// connection's inbox (conn_write.go, guarded by outMu, also used for the
// confirms the confirm tracker completes outside the read loop), which
// the writer drains before each write: still no goroutine per channel,
// and the queue calls nothing of the channel. Classic queues keep their
// fast path: they complete at once and still call consumer.Deliver,
// consumer.Cancelled and the confirm tracker directly. A posted delivery
// whose id is not above the last one posted to its consumer is a resend
// (a new leader repeating the old one's) and is dropped
// (consumer.deliverPosted), as rabbit_fifo_client drops message ids at or
// below its last_msg_id.
//
// Server.Close closes every queue (vhost.close, Queue.Close), which stops
// its timer and waits for its hooks already running (dead-lettering,
// Expired), so nothing of a queue runs once Close returns; only then are
// the queue types (the classic type's store) and the definitions closed.
//
// # Channels that wait
//
// Nothing waits on the read loop (channel_busy.go). A method that must
// wait makes its channel busy: a definitions commit (exchange and queue
// declare, delete, bind and unbind) or a queue operation that takes a
// context (purge, delete) runs on a goroutine of its own (channel.await,
// started through Server.goTracked and counted by conn.ops), with a
// context derived from the connection's, cancelled when the channel is
// released or the connection ends; a session operation whose answer a
// queue posts later (basic.get's get-ok or get-empty, basic.consume's
// consume-ok) or a tx.commit whose publishes are not all confirmed yet
// waits for that answer (channel.answer), which resumes the channel on a
// goroutine of its own (conn.resumeLater) since it may arrive on the
// writer. While a channel is busy the frames that arrive for it are
// copied, in order, into its backlog; once the wait ends its reply is
// sent and the backlog handled, until it is done or makes the channel
// busy again, so a publish after a nowait declare sees the queue. The
// other channels' frames and channel 0 (heartbeats, connection.close) are
// handled at once. A channel.close in the backlog cancels the operation's
// context, or gives up the wait for a queue's answer, and is then handled
// in order. What all backlogs hold is bounded by backlogLimit per
// connection; past it the read loop stops reading (as under an alarm,
// heartbeats not counted) until they drain. A channel with nothing
// waiting handles its frames inline as before: one boolean checked.
//
// The rule for channel state: what the connection and its channels mark
// "read loop only" is guarded by conn.hmu, the handler lock. The read loop
// holds it while it handles frames and releases it only to read the
// socket and during pauses (alarm, flow, backlog), so an uncontended lock
// per frame is its whole cost. A waiting operation touches no channel
// state while it waits (it may take hmu briefly, as a declare does to
// record an exclusive queue for the connection's teardown); it takes hmu
// to send its reply and handle its channel's backlog, and finds a released
// channel gone. The connection's teardown stops new operations, cancels
// those under way and waits for them (a commit under way completes)
// before it releases the channels and deletes the exclusive queues. The
// read loop is blocked in the socket read while a wait ends, so handing
// the channel over under the lock, rather than posting the completion
// back to the read loop, is what lets the reply go out at once.
//
// # Users and permissions
//
// Users, permissions, topic permissions, vhost metadata and limits and
// parameters are definitions (meta's access commands), changed through
// the Go API of users.go and vhosts.go or a definitions import
// (definitions.go, definitions_import.go: RabbitMQ's JSON, a sequence of
// commands in rabbit_definitions' order) and exported by
// definitions_export.go, which reads the state under defsFSM.mu. A node
// whose definitions were never seeded proposes meta.Seed (seed.go).
// Config.LoadDefinitions is imported at every start (on a cluster node,
// on a tracked goroutine trying until it commits).
//
// The reconciler keeps the node's compiled copy, accessControl
// (access.go): each UserChanged effect publishes a new immutable authz
// with that user's regular expressions compiled (copy on write, under
// accessControl.mu, a leaf), UserDeleted also closes the user's
// connections with 320, VhostMetaChanged stores a vhost's metadata and
// limits in vhost.meta (an atomic pointer). Logins hash the password
// with the user's salt and compare in constant time (password.go);
// connection.open and channel.open check limits and vhost access
// (access_limits.go), counting this node's connections under Server.mu
// and, when a limit is set, asking the other running nodes for theirs
// over the admin service (cluster_counts.go).
// A channel checks each operation's permission where rabbit_channel
// does (access_cache.go) and keeps, on the read loop, the last twelve
// decisions of each kind (resources, topics) that allowed, valid while
// the authz they were made under is current.
//
// A single node serves `warren definitions export` on DataDir/admin.sock
// (admin_socket.go, mode 0600), with the policy operations of `warren
// set_policy` and its siblings: its accept loop, one goroutine per
// request and one that closes the listener when the server stops, all
// through goTracked.
//
// # Inspection
//
// The management API (broker/mgmt, which the broker does not import)
// reads the node through exported methods: Connections, Channels and
// Consumers (inspect.go) copy the connection set under Server.mu, then
// take each connection's chMu and each channel's mu in turn, briefly, in
// the lock order below; Queues, Exchanges, Bindings and Snapshot
// (inspect_objects.go) copy the definitions under defsFSM.mu and ask
// each queue for its Stats with no lock held. CloseConnection closes a
// listed connection with 320. Authenticate (auth_basic.go) is an AMQP
// login's password and loopback_users check for other interfaces; PutUser
// and the parameter setters (users_put.go) are definitions commands like
// the others. ServeConn serves a connection the caller made (an
// in-process pipe) on a tracked goroutine like an accepted one; a net.Conn
// with a DirectConnection method returning true is left out of the
// listings.
//
// # Audit log
//
// With Config.Audit.File (warren.audit_log.file) the node writes an
// audit log (audit.go; RabbitMQ has none): one JSON object a line
// (AuditEntry: time, who, from, interface, node, action, object,
// outcome, changes; never a password or a hash: audit_entries.go says
// how a user's credentials were set and hides the passwords of URIs in
// parameter values) for each change of users, permissions, topic
// permissions, vhosts, limits, parameters, global parameters, policies
// and operator policies, each definitions import and each forced
// connection close. The caller says who asks by putting an Actor in the
// change's context (WithActor): broker/mgmt for every request,
// answerSocket and answerAdmin for the command line (the OS user the
// command reports), loadDefinitionsFile for load_definitions. Each
// exported change defers Server.audited, which writes the entry once the
// change is committed or refused, on the node that took the request (so
// a cluster writes one entry per change); a change without an actor
// writes none, and an import's own steps run without one, so an import
// is one entry. Connections a deleted vhost or user loses are closed by
// the reconciler on every node, which writes an entry for each: in the
// name of the request's actor on the node that took it (Server.deleting
// keeps it while the deletion is proposed), as InterfaceCluster on the
// others. The file is opened with the definitions and closed last by
// Close; it rotates by size, keeping Config.Audit.MaxFiles rotated files
// (audit_rotate.go). There is no goroutine: a line is one write, under
// auditLog.mu, a leaf, on the goroutine of the change, never per
// message.
//
// # Identities
//
// A node is named by Config.NodeName (warren@<short hostname> by default,
// as RabbitMQ's rabbit@<hostname>), which, as in RabbitMQ, is not sent to
// clients. A connection is known across nodes by its owner, the pair of
// node name and connection id (connection ids start at the node's start
// time in nanoseconds, so a restarted node never reuses one): exclusive
// queues and unbind requests name their connection by it, never by a
// *conn. A direct reply-to key (reply_key.go) carries the requester's
// node, connection id, channel id and a random secret: a key of this node
// routes to the channel that registered it, a key of another member of
// the cluster goes to that node (cluster_reply.go), and any other key
// routes nowhere.
//
// # Locks
//
// Lock order, outermost first:
//
//	conn.hmu  →  defs turn  →  vhost.mu  →  queue (inside queue.Queue)  →  channel.mu  →  confirmTracker.mu  →  conn.outMu
//
// conn.chMu (the channel table, for the writer's consumer-timeout scan,
// and for counting a user's channels) is taken before channel.mu, and
// never while Server.mu is held; accessControl.mu, auditLog.mu and defsFSM.mu (held
// only around meta.State.Apply, a snapshot swap, or an export's read)
// are leaves; vhost.replyMu (direct reply-to keys),
// Server.vhostsMu (the vhost map, which connection.open reads) and a
// channel's queue.Limiter lock are leaves. A classic session's lock is
// taken before its queue's. Actions are carried out holding no lock (but
// conn.hmu, on the read loop). conn.hmu is taken by nothing that holds
// another broker lock: queues, the store and the writer never take it.
// The store calls a queue's
// OnDurable holding none of its locks; the queue then calls
// confirmTracker.Confirmed with nothing held.
//
//   - The definitions turn (localLog.turn, a one-token channel so that a
//     proposer's context can give up waiting) serializes definitions
//     proposals: the commit (a bbolt append, two fsyncs), the pure apply
//     and the reconciler's effects run holding it, one command at a time.
//     No vhost lock is held during the commit, so a slow disk never stalls
//     routing. The reconciler calls Type.Declare, Queue.Delete and
//     Queue.Close holding the turn but no vhost lock; nothing it calls may
//     propose, or it would wait for itself: Delete and Close run no
//     Expired hook (a deleted or closed queue does not expire), and the
//     DeadLetter hook only routes. Expiry and auto-delete propose from the
//     queue's timer or from the goroutine whose call made the queue
//     unused, and wait for the turn like any proposer.
//   - vhost.mu (RWMutex) guards a vhost's exchange and queue maps. The
//     reconciler takes it for writing only to update them and the router;
//     no queue is called under it. A queue is deleted (vhost.deleteQueue)
//     by asking it first, with no lock held, since it may call back into
//     the vhost (cancelling consumers, dead-lettering, expiry): its Delete
//     decides if-unused and if-empty atomically with the delete; the queue
//     then leaves the maps, and its definition is deleted by incarnation.
//     Lookups and routing take it for reading and release it before
//     calling Queue.Publish.
//   - A queue's own lock is held while it calls consumer.Deliver and
//     consumer.Cancelled, and maybe Confirmer.Confirmed.
//   - channel.mu guards the delivery state: delivery tags, the unacked list,
//     the consumer table, deliveries waiting for basic.consume-ok. Code
//     holding it never calls into a queue: acks collect what to settle
//     under it, then call Queue.Settle (and return the channel-wide credit
//     to the limiter, which may resume queues) after unlocking.
//   - confirmTracker.mu guards a channel's publisher-confirm sequence state.
//   - conn.outMu guards the output buffer and the inbox; it is the
//     innermost lock. Appending and posting never block on the network.
//
// # Credit and backpressure
//
// Credit lives in the queue: basic.consume hands the queue the consumer's
// prefetch (basic.qos global=false, 0 unlimited) and the channel's
// queue.Limiter; the queue counts each consumer's unsettled deliveries,
// Settle gives them back, and a delivery is pushed to consumer.Deliver,
// which always takes it. The limiter, owned by the channel in the shape
// of RabbitMQ's rabbit_limiter, carries what is channel-wide: the global
// prefetch (basic.qos global=true, which only queue types with
// Capabilities.GlobalQoS accept; consuming from another with one set is
// refused with 540 as RabbitMQ's quorum queues refuse it) and a pause. A
// queue asks the limiter before each delivery; a refused queue is resumed
// (queue.Resumer) once acks return credit or the pause ends, in random
// order so that one queue does not take all freed credit.
//
// When a connection's pending output reaches outLimit, the delivery that
// crossed it pauses its channel's limiter (the connection withholds
// credit); once the writer has drained below the limit it unpauses them.
// A consumer's deliveries that arrive before its basic.consume-ok is sent
// wait in the consumer (pausing the limiter past earlyLimit), and those
// that reach a closed channel are requeued by its release. Replies to the
// client's own methods are always appended.
//
// A queue can ask a publisher to wait: queue.ActionBlock on a session
// marks it blocked (conn.flowBlocked counts the connection's blocked
// sessions) and queue.ActionUnblock, the session's close or its queue
// going down releases it. While any is blocked, a connection that
// publishes stops being read before its next frame (flow.go), as under an
// alarm but without connection.blocked, as RabbitMQ's credit flow: the
// pause holds the whole connection, its other channels' methods and acks
// included, so a queue must not make unblocking wait for acks from the
// same connection. A classic queue blocks the sessions publishing into it
// while its consumers lag by 8192 ready messages (or 16 MiB) and
// unblocks them at half that or when its last consumer goes; it never
// blocks a publisher whose connection consumes from it
// (queue/classic/flow.go). Chains across connections (A publishes to a
// queue B consumes, B to one A consumes, both lagging) are not detected.
//
// # Incomplete messages
//
// A message's memory is committed as its body arrives, not as its content
// header announces it (content.go): the header allocates the whole body
// only when it may come in one frame (size <= frame_max), and a larger body
// grows, at least doubling, as its frames arrive, so a message that
// arrives in one body frame still costs two allocations (the message and
// one buffer for its properties and body). What one connection holds in
// messages not yet complete, across all its channels, is bounded by
// incompleteLimit: eight messages of max_message_size with a frame of
// properties each (about 129 MiB by default), so a single message of the
// largest size is always accepted. RabbitMQ has no such bound. A body frame
// that would take a connection past it closes the connection with 506
// RESOURCE_ERROR (a hard error in AMQP 0-9-1). Throttling instead (no
// longer reading the connection) could deadlock: a client mid-message on
// every channel could free nothing without being read. Most clients send a
// message's frames back to back; amqp091-go interleaves the frames of
// messages published at the same time on different channels, so it holds
// one incomplete message per publishing goroutine, and eight goroutines
// publishing messages of the largest size at once still fit. A channel
// released mid-message (channel error, connection end) gives its share
// back.
//
// # Framing errors
//
// Until connection.tune-ok a frame may be at most protocol.InitialFrameMax
// octets (8192, RabbitMQ 4's limit; 3.x used 4096), so a peer that has not
// authenticated cannot make the broker buffer a large frame.
//
// A framing error is answered with connection.close 501 (RabbitMQ closes
// silently after 3 s when this happens during the handshake); an error
// that leaves the stream out of sync (an oversized frame, a bad frame-end
// octet) is followed by reading and discarding input (conn.discardInput)
// until the peer closes or closeGrace passes, so that the peer reads the
// close instead of a TCP reset that closing with unread input would cause.
// Other hard errors are answered the same way, and frames are then read,
// but ignored, until close-ok. In both cases the connection's channels are
// released before the close is sent, as RabbitMQ does, so nothing is
// delivered after it.
//
// # Alarms
//
// The server's clock goroutine samples the heap and the free disk space of
// the data dir once a second (and Start once before listening). Past
// Config.MemoryHighWatermark (by default 40% of the machine's memory, or
// of the container's cgroup v1 or v2 limit when lower, as RabbitMQ's
// vm_memory_high_watermark), or below Config.DiskFreeLimit free bytes (50
// MB by default, RabbitMQ's disk_free_limit; the probe is statfs unless
// Config.DiskFree replaces it), connections that publish stop being read:
// a basic.publish marks its connection as a publisher when the method
// arrives, and the read loop checks for an alarm before every frame (one
// atomic load), so under an alarm even a connection's first message,
// pipelined or not, is held unrouted and unconfirmed until the alarms
// clear, as rabbit_reader stops at a publisher's first content frame.
// Clients with the
// connection.blocked capability hear connection.blocked ("low on memory",
// "low on disk", or both joined by " & " as RabbitMQ words it), then
// connection.unblocked when the last alarm clears (alarm.go,
// alarm_disk.go); in a cluster, an alarm on any node counts (see
// Cluster). The disk free limit can be changed while the node runs
// (setDiskFreeLimit, as rabbitmqctl set_disk_free_limit). Should the disk fill anyway, the queue store fails the
// write, the publishes waiting for it are nacked, and nothing already on
// disk is damaged.
//
// # Definitions and durability
//
// The definitions (vhosts, exchanges, queues, bindings) are a replicated
// state machine in the shape of hashicorp/raft's FSM (package meta): every
// change is a meta.Command (an append-only op code and a binary body, field
// tables in AMQP's encoding), proposed through the node's proposer
// (defs.go) with vhost.apply or Server.AddVhost/DeleteVhost. Whatever is
// random (incarnation ids, amq.gen- names) is chosen before proposing and
// travels in the command. The proposer commits the command first, then
// applies it, with no undo: on one node, localLog appends it to the log in
// DataDir/definitions.db (defs_bolt.go, one fsynced bbolt transaction,
// taken without any vhost lock), then meta.State.Apply decides the answer
// (exists? equivalent redeclare? in use? another connection's exclusive
// queue?) from the committed state alone and returns effects, which the
// reconciler (vhost_meta.go) carries out here: start a queue through its
// type, delete or close one of a given incarnation, tell a quorum queue
// its new members (queue/quorum's SetMembers, which starts or drops this
// node's replica and has the group's leader change its Raft
// configuration), add or remove exchanges and bindings in the router, add
// or remove a vhost (closing its connections with 320). A failed commit changes nothing and answers 541.
// Every command is committed, transient ones included, since a cluster
// must know them too; a redeclare of an existing queue or exchange is
// checked against the local maps without a proposal.
//
// Every 1024 entries, and at Close, the whole state is written as a
// snapshot with its applied index, dropping the entries it covers, in one
// transaction; a start restores the snapshot, replays the entries after
// it (an entry that cannot be decoded, or a gap, stops the start), drops
// what does not outlive a restart (exclusive and non-durable queues,
// non-durable exchanges, their bindings) and saves that as the new
// snapshot. A definitions.db of the first format (one bucket per kind, no
// version key) is migrated in that same step.
//
// # Cluster
//
// With Config.Cluster the node is one of a cluster's (cluster.go). Its
// cluster port (cluster.Transport) carries, each as a service of its own
// on one multiplexed connection per peer: the definitions' Raft group
// ("raft/defs"), gossip (cluster.Membership), commands forwarded to the
// Raft leader ("defs", defs_forward.go), queue links ("queues",
// cluster_queues.go), direct reply-to replies ("replies",
// cluster_reply.go) and operations requests ("admin", cluster_admin.go:
// status, forget, set_disk_free_limit, from `warren cluster` through
// AdminClient; a forget is carried out by the leader, cluster_forget.go;
// the quorum queue member operations add_member, delete_member and grow
// by the node asked, as meta.SetQueueMembers commands made from the
// members it has, cluster_quorum_admin.go).
//
// Alarms cross nodes (cluster_alarms.go): each node gossips its own
// alarms in its membership metadata, and blocks its publishers while its
// own or any live member's are raised (Server.ownAlarms and
// remoteAlarms; Server.alarms is their union), with the same
// connection.blocked reason; a node that fails or leaves takes its alarms
// with it.
//
// The proposer is raftDefs (defs_raft.go): a command is committed by
// raft.Apply on the leader, or forwarded to it; raftFSM then keeps it in
// definitions.db and applies it through the same defsFSM on every node,
// so each node's reconciler carries out the same effects in the same
// order, and the proposer returns once its own node has applied it and
// every other running node has too, for at most a second
// (defs_visible.go: the leader appends a barrier after each commit so
// the followers learn it at once, and the proposer asks the others over
// the defs service), so that a change is visible on every node when the
// client hears it is done, as RabbitMQ's cluster-wide transactions. A
// restart loads definitions.db as a single node does (without dropping
// transient queues: the node proposes meta.NodeDown for itself once the
// group has a leader) and serves it at once; Raft hands the FSM only the
// entries after its applied index, or a newer snapshot, whose difference
// (meta.Diff) the reconciler carries out.
//
// The definitions group's leader lease and heartbeat timeout are 2.5 s
// (defs_timing.go, Consul's default), not hashicorp/raft's 500 ms and
// 1 s, so that a node stalled for a moment by thousands of quorum
// queues' groups keeps its leader and the declares in flight.
//
// In a cluster a change commits only with a majority of the nodes. A node
// without a leader for longer than ClusterConfig.CommitTimeout (a
// minority, or an election) answers 541 with a text in the shape of
// RabbitMQ 4's metadata store timeouts that says why (defs_timeout.go),
// and its membership loop logs when it loses or finds the leader
// (cluster_leader.go). The changes a node must see committed whatever the
// wait (the default vhost of a new cluster, the definition of a queue
// that already deleted itself here) are proposed again, on a tracked
// goroutine each, until they commit or the node shuts down
// (cluster_retry.go).
//
// A queue lives on its home node (the declaring node). The reconciler
// starts a queue homed here through its type, and routes to one homed
// elsewhere through a queue/remote proxy over the node's link to that
// node; a proxy is only closed, never deleted, by the effects, since the
// home node deletes the queue itself.
//
// Goroutines: the cluster node's loop (forming, then keeping Raft's
// voters and NodeDown in step with membership), joined by
// clusterNode.shutdown; the alarm gossiper (publishes this node's
// metadata when its alarms change), stopped and joined by shutdown
// before the node leaves; the accept loops of the four services, and one
// goroutine per forwarded command, reply stream, queue link and admin
// request, all through Server.goTracked; Raft's, memberlist's, the
// transport's and each queue link's own, which their Shutdown/Close stop.
// Server.Close shuts the cluster node down (leave, Raft, links, port)
// before it closes the queues. alarmGossip.mu (the alarms last seen of
// each other node) is a leaf, released before Server.mu is taken.

// # Policies
//
// Policies and operator policies (policies.go: Server.SetPolicy,
// ClearPolicy, SetOperatorPolicy, ClearOperatorPolicy, Policies,
// OperatorPolicies, QueuePolicy, ExchangePolicy) are validated with
// RabbitMQ's texts (package policy) before their meta.SetPolicy or
// meta.ClearPolicy is proposed. The definitions compute the policy in
// force on each queue and exchange; the reconciler (vhost_policy.go)
// starts a queue with its declared arguments under that policy
// (policy.QueueArgs, kept in queueEntry.eff under vhost.mu), gives a
// running one the new arguments through queue.Queue.UpdateArgs when a
// policy change alters them (on every node: a classic queue's home
// applies it, a quorum queue's nodes each propose it), and sets an
// exchange's alternate exchange in the router. queueEntry.args, read by
// channels without the lock, stays as declared. The definitions import
// sets policies and operator policies (3.x's operator policies come as
// parameters, their definitions as [key, value] pairs); the export writes
// them as RabbitMQ does.
//
// # Queue types
//
// Queues are reached through queue.Type and queue.Queue only. NewServer
// builds the node's queue.Registry (queue_types.go, the one file that
// names queue/classic and queue/quorum; the broker does not import
// queue/store): classic, the first type, opens the queue store in
// DataDir/queues; quorum opens its write-ahead log and snapshots in
// DataDir/quorum and, on a cluster node, gets the cluster port
// (cluster_quorum.go; the port therefore opens before the types). A
// declare looks the x-queue-type up in the registry and checks the flags,
// the arguments and a server-chosen name against the type's Capabilities;
// stream, which RabbitMQ has and this node does not run, gets RabbitMQ's
// property checks and then "not supported by Warren yet". A consumer
// timeout closes the channel, unless the queue's session ends the
// consumer itself (queue.TimeoutCanceller: a quorum queue cancels just
// that consumer, as RabbitMQ 4.3 does). Calls that will wait on another node or a
// Raft group (declare, recover, delete, purge, stats) take a context: a
// channel's delete and purge run with the context of its waiting method
// (Channels that wait); declare's Stats and the others still pass
// context.Background.
//
// At start-up (recovery.go, in NewServer, before Start listens) the server
// checks that the data dir is a directory it can write to (NewServer
// fails otherwise; only Config.InMemory, asked for explicitly, runs
// without one and saves nothing), opens the queue types, loads the
// definitions, hands each type its durable queues (Type.Recover: the
// classic type deletes the logs of queues that no longer exist), runs the
// reconciler's effects for everything loaded: each vhost, its exchanges,
// its durable queues (Type.Declare recovers their messages, every one
// redelivered), its bindings, then the users and vhost metadata;
// definitions never seeded get the default vhost, user and permissions
// from a Seed command (seed.go), and Config.LoadDefinitions is imported. It logs the data dir, what it recreated, the applied index,
// how many damaged records the store dropped and how long recovery took. Close closes every queue (which stops its timers and
// syncs what is pending), then the queue types and the definitions.
//
// Publisher confirms of persistent messages in durable queues arrive from
// the store's sync goroutine once the message is fsynced. The channel's
// confirm tracker acks a publish once every queue it went to confirmed it
// and nacks it if any refused; confirms arriving outside the read loop's
// batch are handed to the connection's writer through its inbox
// (conn.queueLateConfirms), so one fsync round costs one multiple ack. A
// closed channel drops them.
//
// # Counters
//
// The message counters behind RabbitMQ's channel, queue and exchange
// metrics and its global counters (counters.go) are atomic adds on
// structs the hot path already holds: the channel's channelCounters
// (published, routed, returned, dropped, confirmed; deliveries, gets,
// redeliveries and acks per queue type), the session's pointer to its
// queue entry's queueCounters and the exchange entry's exchangeCounters
// (the vhost's defaultX for ""), with no lock, map or allocation per
// message. A channel's counters are written by its read loop and by the
// goroutines that deliver to it and confirm its publishes. The node's
// totals (Server.Totals, inspect_stats.go) are what released channels
// added to Server.retired (retireCounters, under statsMu, once) plus
// the live channels' counters, summed under statsMu's read side, so a
// total never goes backwards and no counter is shared by every
// connection. Connection, channel and queue churn and each connection's
// socket octets are atomics of their own. statsMu is taken before
// Server.mu, chMu and a channel's mu, never while holding them.
// LocalQueues lists the queues this node runs, read locally, with a
// quorum replica's Raft figures (queue.RaftReporter); QueueSamples reads
// only their counters and depths, unsorted into a reused slice, for the
// management API's sampler, which reads them every 5 s.
package broker
