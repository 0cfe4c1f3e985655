// Package cluster is the network layer of a Warren cluster: every byte one
// node sends another goes through it. It knows nothing of AMQP (it imports
// neither broker, exchange nor protocol); the broker builds on it.
//
// # One port per node
//
// A Transport (transport.go) owns the node's one cluster port: a TCP
// listener, and a UDP socket bound to the same host and port number for
// gossip packets (UDP and TCP ports are separate spaces). Every stream
// between two nodes, whatever it carries (Raft for every group,
// memberlist's push-pull and fallback probes, queue forwarding), is a
// yamux stream on one TCP connection per peer and direction, so the
// number of Raft groups and queues multiplies neither ports nor
// connections. A stream is tagged with a service name ("raft/defs",
// "gossip", "queues" …): Transport.Dial(ctx, addr, service) opens one,
// Transport.Listen(service) accepts them, and Transport.RaftLayer(service)
// wraps both as a raft.StreamLayer for raft.NewNetworkTransportWithConfig,
// so each Raft group runs over its own service on the same port.
//
// A tool that is not a node (`warren cluster status`) reaches a node's
// service with DialService (client.go): its own TCP connection, the same
// handshake with the secret, and one stream on a yamux session it owns
// and closes with the stream.
//
// The outbound session to a peer address is dialled on the first Dial,
// shared by every later stream and by concurrent Dials (which wait for the
// one attempt), and dialled again after it fails; a stream opened on a
// session that turns out to be dead, as after the peer restarted, is
// retried once on a new one. Sessions accepted from peers serve only the
// streams those peers open.
//
// # Membership
//
// Join starts a Membership (membership.go): hashicorp/memberlist (SWIM
// gossip with Lifeguard's refinements) over the node's cluster port
// through gossipTransport (gossip.go), memberlist's Transport: packets on
// the Transport's UDP socket, streams (push-pull, fallback probes, joins)
// as the "gossip" service. Each node gossips its name, its cluster address
// and a small NodeMeta (meta.go: a version byte and tagged, length-checked
// fields, at most memberlist's 512 bytes). Join tries every seed once at
// once, fails with ErrNameTaken if a seed's cluster has a live node of
// this name at another address (the delegates, delegates.go, refuse such
// alive messages and joins on every node), and otherwise retries the seeds
// in the background with back-off whenever the node knows no other, so
// nodes start in any order and a node cut off finds its way back. Events
// (join, leave, fail, update) are logged at Info (update at Debug) and
// delivered in order to MembershipConfig.Events. With memberlist's LAN
// timing a node that dies is seen failed within about 7 s in a three-node
// cluster, one that leaves within a second (LANTiming).
//
// memberlist v0.5.4 reports a leave and a failure through the same
// callback, without the state, and never says when it suspects a node. So
// Leave first gossips the node's metadata with a leaving mark, then
// memberlist's leave: a member whose last metadata carried the mark left,
// any other failed. memberlist's alive messages, the mark's carrier, are
// handled before its dead messages, so the mark arrives first.
//
// # Wire
//
// A new TCP connection starts with a handshake before yamux (handshake.go):
// the dialler sends the magic "WRNC", a version byte and a 32-byte random
// nonce; the acceptor answers with the same; the dialler sends
// HMAC-SHA256(secret, "warren cluster client" ‖ nonces); the acceptor
// checks it in constant time (hmac.Equal) and answers a status byte and,
// only if the dialler proved the secret, its own HMAC with the label
// "warren cluster server", which the dialler checks. Nonces from both
// sides make every proof fresh, so a recorded one cannot be replayed.
// The acceptor reads fixed sizes under a deadline (HandshakeTimeout, 5 s),
// checks the magic as soon as its four bytes arrive (an AMQP client or a
// port scanner is closed at once) and runs at most 64 handshakes at a
// time, 8 from one address, so that one source cannot lock peers out;
// anything refused is closed and logged with the peer's address,
// once per address per 10 s. A peer of another version gets our hello,
// so that its dialler can say which versions differ, and is closed.
//
// Each yamux stream then starts with its service header, a length byte
// and 1 to 64 printable ASCII bytes, which the acceptor answers with one
// byte: accepted, or no listener for that service. A stream for a service
// nobody listens on is refused at once (Dial fails with
// ErrUnknownService) and logged once per service per 10 s, never left
// hanging.
//
// # What the secret protects, and what it does not
//
// The secret authenticates both ends of every TCP connection: a node
// that does not hold it cannot open a stream, and a node will not talk to
// a listener that cannot prove it. The TCP link is not encrypted (TLS is
// to come): anyone on the path can read the traffic and could take over
// an established connection. An empty secret is a valid secret, which
// every node configured without one shares. The acceptor proves itself
// only after the dialler has, so connecting tells a stranger nothing;
// a listener impersonating a peer's address can record one dialler's
// proof and try to guess a weak secret offline, so use a long random one.
//
// Gossip is encrypted and authenticated with AES-GCM by memberlist
// itself, under a key derived from a non-empty secret
// (HMAC-SHA256(secret, "warren cluster gossip key")), packets and streams
// alike; with an empty secret it is neither.
//
// # Goroutines
//
// The Transport starts every goroutine through goTracked, and Close waits
// for all of them (a sync.WaitGroup): the accept loop; one per inbound
// connection in its handshake (at most 64), which then serves the
// connection's yamux session, accepting the streams the peer opens; one
// per outbound session, which dials, runs the handshake and then serves
// that session the same way; and one per accepted stream while its
// service header is read and until its listener accepts it. yamux runs
// three goroutines per session (receive, send, keep-alive); Session.Close,
// which Transport.Close calls for every session, ends all three and waits
// for the first two; the keep-alive one returns as soon as it sees the
// session closed.
//
// Close closes the listener, the UDP socket, every connection still in its
// handshake, every session (and so every stream) and every service
// listener, then waits. Closing a stream (streamConn) also ends this
// side's blocked Read, which yamux's half-close alone does not. A Raft
// layer closes every stream it dialled or accepted when it is closed
// (raft's NetworkTransport tracks neither), so that a group shut down
// while the node runs on leaves nothing behind.
//
// A Membership starts three goroutines and Close waits for them: the event
// dispatcher (which calls MembershipConfig.Events), the seed retry loop,
// and, in its gossipTransport, the UDP packet reader and the gossip stream
// acceptor (memberlist's Shutdown of the transport, which Close calls,
// joins those two and closes every gossip stream). While it joins the
// seeds it runs one short-lived goroutine per seed and waits for them.
// memberlist runs goroutines of its own (packet and stream listeners,
// handlers, probe and gossip tickers) that its Shutdown stops but does not
// wait for; they end within moments, which the tests check by polling.
// Close the Membership before its Transport.
//
// # Locks
//
// Transport.mu guards the transport's maps (peers with their outbound
// session or dial under way, sessions, connections in their handshake and
// their count per address, service listeners) and the closed flag; it is held only to read or
// change them, never across I/O or while waiting. A connSet's mu (a Raft
// layer's or the gossip transport's streams) guards its set of streams.
// Membership.mu guards its table of members, the event queue and the
// name conflict seen; memberlist calls the delegates with its own node
// lock held, and they take Membership.mu inside it, so Membership never
// calls memberlist with mu held. Membership.life serialises Leave,
// UpdateMeta and Close, and is held across memberlist calls but never
// while mu is. No two of these locks are held at once except memberlist's
// node lock and Membership.mu, in that order.
//
// # Logging
//
// The zap logger is passed in. hashicorp/raft takes an hclog.Logger
// (NewHCLogger adapts zap); yamux takes a log.Logger, whose "[ERR]" and
// "[WARN]" lines are logged at Warn (they report the network, which the
// node survives), "[INFO]" at Info and the rest at Debug; memberlist's
// log.Logger gets the same treatment. The transport
// logs at Info when it listens and when an outbound link is lost, at Warn
// for refused connections and streams (rate-limited as above), and at
// Debug per link established. Nothing is logged per stream above Debug.
package cluster
