// Package queue defines the contract every queue type implements (classic
// queues in queue/classic today; durable and Raft-replicated quorum queues
// later) and the message and delivery types that travel between the broker
// and its queues.
//
// A queue never imports the exchange package and never performs routing:
// whatever a queue must hand back to the rest of the broker (dead-lettered
// messages, its own expiry) goes through the hooks in Env.
package queue
