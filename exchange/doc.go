// Package exchange is Warren's routing layer: exchanges, the bindings
// between exchanges and their destinations, and the computation of which
// queues a published message reaches. It does no I/O and knows nothing
// about queues beyond their names; the broker delivers.
//
// A Router holds the exchanges of one virtual host. The four exchange types
// behave as in RabbitMQ 4.x:
//
//   - direct: every binding whose key equals a routing key (all of them,
//     never only the first);
//   - fanout: every binding;
//   - topic: binding keys are dot-separated words where "*" matches exactly
//     one word and "#" zero or more; they live in a word trie, and routing
//     remembers the (node, word) states it has visited so that patterns
//     with many "#" cannot make it exponential;
//   - headers: x-match all, any, all-with-x or any-with-x over the binding
//     arguments, compared with the message headers as RabbitMQ compares
//     them (see headers.go).
//
// Route follows exchange-to-exchange bindings and alternate exchanges,
// visiting each exchange at most once per message, and returns each queue at
// most once. It takes a read lock and does not allocate when the caller's
// slice has room; binding changes take the write lock.
//
// Errors are *protocol.Error values with RabbitMQ's reply codes and texts.
package exchange
