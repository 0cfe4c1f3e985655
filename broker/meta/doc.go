// Package meta is a node's definitions (virtual hosts, exchanges, queues,
// bindings, and, as RabbitMQ keeps them, internal users with their password
// hashes, tags and limits, permissions and topic permissions, virtual host
// metadata and limits, runtime and global parameters, policies among them)
// as a replicated state machine, in the shape of hashicorp/raft's
// FSM: every change is a Command, encoded as a version byte, a one-byte op
// code and a binary body (Encode, Decode), and State.Apply applies one
// committed command to the in-memory definitions, returning the Result to
// answer the client with and the Effects a node turns into actions (start
// or delete a local queue, tell a quorum queue its new members, add or
// remove an exchange or binding in the router).
//
// Apply is pure and deterministic: it reads and writes only the State, no
// clock, no randomness (incarnation ids and server-generated names travel
// in the command), no live queue state, and iterates in sorted order
// wherever order shows (cascaded deletes, snapshots). Everything that
// depends on committed state (does it exist, is a redeclare equivalent, is
// an exchange in use, is a queue another connection's) is decided in Apply,
// so every replica reaches the same answer. Snapshot encodes the whole
// state deterministically and Restore builds a new State from it.
//
// Users and the rest of access control are commands of their own
// (access.go, op codes 11 to 30), applied by access_apply.go and kept in
// a section of the snapshot after the virtual hosts (access_snapshot.go;
// a snapshot of the first version, written before users existed, still
// restores, as never seeded). A password is hashed before its command is
// proposed, so the salt travels in the command. Seed inserts RabbitMQ's
// default vhost, user and permissions once in the definitions' life,
// whichever node proposes it first. A vhost's max-queues limit is
// checked by Apply, so that it holds across a cluster.
//
// Policies and operator policies (policy.go, op codes 31 and 32) are
// stored as RabbitMQ stores them, as runtime parameters of the components
// "policy" and "operator_policy" (so a parameter of those committed or
// snapshotted before policies were applied is one), and compiled per
// vhost into a policy.Set, rebuilt whenever one changes and on Restore.
// Apply computes the policy in force on every queue and exchange: a
// QueueStarted or ExchangeAdded effect carries it, and setting or clearing
// a policy adds a QueuePolicyChanged or ExchangePolicyChanged effect for
// each object whose effective policy changed (Diff does the same between
// two states). A policy is validated (policy.Policy.Validate) before its
// command is proposed.
//
// The package knows nothing of the broker: it does no I/O and imports only
// the protocol codec, the exchange package (kinds, bindings) and the queue
// package (RabbitMQ's equivalence rules).
package meta
