// Package meta is a node's definitions (virtual hosts, exchanges, queues,
// bindings) as a replicated state machine, in the shape of hashicorp/raft's
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
// The package knows nothing of the broker: it does no I/O and imports only
// the protocol codec, the exchange package (kinds, bindings) and the queue
// package (RabbitMQ's equivalence rules).
package meta
