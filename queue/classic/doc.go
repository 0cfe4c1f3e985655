// Package classic implements the classic queue type: a local, in-memory
// FIFO with an unacknowledged set, inline dispatch to consumers, per-queue
// and per-message TTLs, length limits with RabbitMQ's three overflow
// behaviours, dead-lettering, priorities, consumer priorities, exclusive
// and single active consumers, and x-expires / auto-delete.
//
// Dispatch is inline: Publish, Consume, Kick, Get and Settle deliver to
// consumers directly, under the queue's mutex, by calling
// queue.Consumer.Deliver. There is no dispatcher goroutine and no timer per
// message: a queue holds at most one timer, armed for the earliest head
// expiry or its x-expires deadline.
//
// Lock order: the queue's mutex comes before any lock a Consumer or
// Confirmer takes (queue → channel → connection). Consumer.Deliver is
// called with the mutex held; Env.DeadLetter, Env.Expired,
// Consumer.Cancelled and Confirmer.Confirmed are called after it is
// released, so they may call back into the queue.
//
// Every change of a message's state goes through one of enqueue, take,
// hold, release and requeue (settle.go), the seam where a durable store
// will log it; a message's body is reached only through its *queue.Message.
package classic
