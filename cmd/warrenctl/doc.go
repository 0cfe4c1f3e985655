// Command warrenctl manages a Warren node with rabbitmqctl's everyday
// verbs, over the node's HTTP management API (broker/mgmt) and nothing
// else: it imports no package of the broker and shares only the API's
// JSON field names with it, so it works against any node it can reach
// over HTTP(S), RabbitMQ's management plugin included.
//
// It holds the command tree and its connection and output flags
// (root.go, on github.com/spf13/cobra), the HTTP client and how the
// API's answers become rabbitmqctl's errors and exit codes (client.go,
// errors.go), the table and JSON output (output.go), and one file per
// group of verbs: the listings with rabbitmqctl's info keys (lists.go),
// users (users.go), vhosts and permissions (vhosts.go), policies
// (policies.go), queues and connections (queues.go), definitions
// (definitions.go), status and cluster_status (status.go).
//
// # Goroutines and locks
//
// A run is sequential: one verb, its requests one after the other on the
// calling goroutine, each bounded by --timeout. net/http's transport
// keeps a goroutine per open connection; run closes the idle ones before
// it returns, so none outlives it. There are no locks.
package main
