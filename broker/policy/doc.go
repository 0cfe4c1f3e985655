// Package policy holds RabbitMQ's policies and operator policies as
// values: a Policy (name, pattern, apply-to, priority, definition), its
// validation with RabbitMQ's texts (Validate, ParseDefinition), the
// matching of a virtual host's policies against a queue or exchange
// (Set.For, the Effective policy), the merge of an operator policy with a
// user policy (Merge), and how the effective definition combines with a
// queue's own arguments (QueueArgs) or an exchange's (AlternateExchange).
// The definitions state machine (broker/meta) stores policies and computes
// every object's effective policy with it; the broker applies the result.
// The package does no I/O, starts no goroutine and holds no lock: a Set is
// read-only once built and safe for concurrent use.
//
// # Matching
//
// As rabbit_policy:match: a policy applies to a queue or exchange of its
// virtual host when its apply-to fits (all; queues; exchanges; or one
// queue type: classic_queues, quorum_queues, streams), its pattern (a
// regular expression, matched anywhere in the name, as Erlang's re:run)
// matches the name, and, for a queue, its definition sets no key the
// queue's type does not support (RabbitMQ 4's unsupported_policies: a
// policy with delivery-limit does not apply to classic queues at all, one
// with ha-mode or queue-mode not to quorum queues). Of those, the highest
// priority wins; among equal priorities the name that sorts first, as
// RabbitMQ 4 lists them from its Khepri store. Operator policies match
// the same way, independently. Patterns are compiled by Go's regexp
// (RE2): Perl's look-around and back-references are refused when the
// policy is set, and $ matches only at the end of the name (PCRE's also
// matches before a final newline).
//
// # Validation
//
// A policy may set the keys RabbitMQ 4 accepts (rabbit_policies and the
// queue types' validators), with RabbitMQ's checks and error texts
// ("<<\"x\">> is not a valid maximum length", "[{<<\"foo\">>,1}] are not
// recognised policy settings"); an operator policy only expires,
// message-ttl, max-length, max-length-bytes, max-in-memory-length,
// max-in-memory-bytes, delivery-limit, queue-version, overflow,
// queue-master-locator, target-group-size and 3.x's ha-mode, ha-params
// and ha-sync-mode. The ha-* keys of 3.x's classic queue mirroring are
// validated as 3.13 validated them and have no effect: Warren has no
// mirrored classic queues (quorum queues replicate). queue-leader-locator
// places the leader of a quorum queue when it is declared (the broker
// reads it, over the queue's x-queue-leader-locator, as RabbitMQ's
// rabbit_queue_location does), and changes nothing after. queue-mode,
// queue-version, queue-master-locator, max-in-memory-length and -bytes,
// consumer-disconnected-timeout, target-group-size and the stream keys
// (max-age, stream-max-segment-size-bytes, stream-filter-size-bytes,
// initial-cluster-size) are accepted and change nothing on Warren's
// queues (a stream key still keeps its policy off classic and quorum
// queues, as in RabbitMQ). A priority must be an integer (RabbitMQ also
// takes a float).
//
// # Effective arguments
//
// A queue's own x-arguments and the effective policy combine key by key,
// as RabbitMQ 4 does (rabbit_amqqueue_process:process_args_policy for
// classic queues, rabbit_quorum_queue:gather_policy_config with
// rabbit_queue_type_util:args_policy_lookup for quorum queues,
// rabbit_policy:get_arg for exchanges):
//
//	key                      classic queue    quorum queue      exchange
//	max-length               lower of both    lower of both     -
//	max-length-bytes         lower of both    lower of both     -
//	message-ttl              lower of both    lower of both     -
//	expires                  lower of both    lower of both     -
//	overflow                 argument wins    policy wins       -
//	dead-letter-exchange     argument wins    argument wins     -
//	dead-letter-routing-key  argument wins    argument wins     -
//	dead-letter-strategy     (not applied)    argument wins     -
//	delivery-limit           (not applied)    lower of both;    -
//	                                          higher if either
//	                                          is negative
//	consumer-timeout         lower of both    lower of both     -
//	alternate-exchange       -                -                 argument wins
//
// Operator and user policy values merge first (Merge: the lower of the
// numeric limits, the operator's overflow), so an operator policy caps
// both the user policy and, through "lower of both", the argument.
package policy
