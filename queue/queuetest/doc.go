// Package queuetest holds what proves a queue type keeps the queue
// contract: Run, a conformance suite (one table of behaviours: publish,
// confirm, consume and ack order, requeue order with redelivered flags
// and delivery counts, prefetch credit, cancel, get, purge, conditional
// delete, session close, queue close) that any queue.Type must pass, and
// Late, a wrapper that makes any type answer as a queue on another node
// would (every session operation completed later on another goroutine,
// its results posted as actions, optionally one delivery sent twice as
// after a leader change). It is imported by tests only.
package queuetest
