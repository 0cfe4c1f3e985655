// Package remote is how a node reaches a queue that lives on another node
// ("any node serves any queue"): a classic queue lives on the node where
// it was declared, and channels on other nodes publish to it, consume
// from it, get, settle, purge and delete it through this package as if it
// were local. It implements queue.Queue and queue.Session over a net.Conn
// it is given (the cluster hands it streams over the node's cluster
// port; the tests use TCP on loopback), and imports neither the broker
// nor the cluster.
//
// # Shape
//
// The client side is a Link per peer node (NewLink): Link.Queue returns a
// proxy queue.Queue whose methods all go over the link, and whose
// sessions are proxy queue.Sessions. A session operation sends a frame
// and returns nothing at once, except what the proxy decides alone (a
// session that is down refuses, nacks and answers locally); what the
// queue answers arrives later and is posted to the session's
// queue.SessionOwner as actions (consume-ok, deliveries, get answers,
// confirms for the Seq the broker gave, block and unblock, cancelled,
// queue down, and ActionRefused for a consume or get the queue refused
// with its AMQP exception). Purge, Delete and Stats wait for their reply
// or their context.
//
// The server side is Serve, one call per incoming link: for each proxy
// session it opens a real session with the local queue (ServerConfig.Lookup
// finds it, or gives the exception to send back), publishes through it
// with the publisher's identity (queue.Publisher and Confirm.Num) so that
// blocks, unblocks and confirms reach the right session, and sends what
// the queue answers. It numbers each session's deliveries itself in
// increasing order, since a classic queue's ids are not increasing per
// consumer (a requeued message keeps its lower id) and the broker drops
// a delivery at or below the last one it saw as a resend; settles are
// mapped back to the queue's ids.
//
// # Wire format
//
// A link is a stream of frames in both directions:
//
//	length  4 octets, big endian: the octets that follow (type + payload)
//	type    1 octet (fHello … fReply in wire.go; values are never reused)
//	payload fields in network order; strings and lists carry a uvarint
//	        length, checked against what the payload holds before
//	        anything is allocated
//
// Each side first sends a hello ("WRNQ" and the Version octet) and checks
// the peer's; a peer of another version is refused. A frame longer than
// MaxFrame (DefaultMaxFrame, a 16 MiB message and its fields) is refused
// before its payload is read. Sessions are multiplexed by a session id the
// client chooses, consumers by (session id, consumer id); the client
// keeps the map from consumer id to the queue.Consumer the broker passed
// in. Requests (purge, delete, stats, a session-less publish's confirm)
// carry a request id that their reply repeats.
//
// Messages are encoded with queue.AppendMessage (properties as the
// publisher sent them, body, exchange, routing key, timestamp) and
// decoded with queue.DecodeMessage. Each direction remembers the last
// message it sent whole: a publish of the same *queue.Message to another
// queue on the same link (messages are immutable and shared between the
// queues a publish routes to) is sent as a one-octet reference, and the
// receiver resolves it to the message it decoded last, so a fanout to
// many queues on one node crosses the link once and shares one copy
// there. Deliveries of one message to several consumers over one link
// are shortened the same way.
//
// A malformed frame (unknown type, bad length, a field past the end, a
// reference to no message, an operation on a session never opened) ends
// the link with a logged error, never a panic; the decoder is fuzzed
// (FuzzDecodeFrame).
//
// # Goroutines
//
// Link: per connection, one goroutine dials, exchanges hellos and then
// reads (posting the actions of consecutive frames for one session as
// one batch), and one writer flushes the outbox. Both are started by the
// Link and joined by Link.Close. Serve: its caller's goroutine reads,
// one writer flushes, one waits for ctx to close the conn, and purge,
// delete and stats each run on a goroutine of their own (a queue may take
// a while); Serve returns only once all of them have ended.
//
// Writes never block a caller that holds a queue's lock: the local queue
// calls Consumer.Deliver under its lock on the server side, so the
// server-side consumer only appends the encoded frame to the link's
// outbox, and the writer takes the whole outbox and writes it in one call
// per batch, as the broker's connection writer does. Credit (the
// consumer's prefetch, kept by the home queue) bounds what is outstanding
// per consumer.
//
// # Locks
//
// Lock order, outermost first:
//
//	home queue's lock → serverSession.mu → outbox.mu
//	proxySession.mu → linkConn.mu, outbox.mu
//	proxyQueue.mu and Link.mu are taken alone
//
// serverSession.mu guards a session's numbering (ids sent and not
// settled, consumers, gets waiting); it is held while a delivery is
// appended so that deliveries go out in the order they are numbered.
// Nothing calls into a queue while holding a lock of this package. The
// outbox lock is a leaf.
//
// # Failure
//
// When a link's connection fails (the peer is down, the conn closed, a
// malformed frame), every proxy session of it gets ActionCancelled for
// its subscribed consumers (ActionRefused for one still waiting for
// consume-ok), ActionRejected for every publish not yet confirmed,
// ActionRefused for a get waiting, then ActionQueueDown. Pending Purge
// and Delete return RabbitMQ's exception for a classic queue whose node
// is down, 404 "NOT_FOUND - home node 'n' of durable queue 'q' in vhost
// '/' is down or inaccessible" (rabbit_amqqueue, reason nodedown), which
// is also what refuses a consume or get on a session that is down;
// session-less publishes waiting for a confirm are nacked. Stats counts
// nothing for a queue it cannot reach; the proxy's CheckedStats answers
// that exception instead, for a passive declare or redeclare to fail
// with, as RabbitMQ's do. The next use
// of the link dials again. On the server side the end of a link closes
// every session it opened: the queue drops their consumers and requeues
// what they held unsettled, as when a channel closes.
//
// The channel's queue.Limiter (the channel-wide prefetch of basic.qos
// global, and the pause the connection sets while its output is backed
// up) is not carried over the link: the home queue cannot ask it before
// each delivery. The proxy session asks it as each delivery arrives and
// parks one it refuses, unseen by the channel, until the Limiter resumes
// the consumer; a cancel sends what was parked back to the queue. The
// home queue is told a prefetch no larger than the global one, so what is
// parked stays bounded (a no-ack consumer has no such bound). A no-ack
// delivery that reaches a consumer cancelled meanwhile is lost, as no-ack
// allows (one with acks goes back to the queue).
package remote
