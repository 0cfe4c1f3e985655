// Package mgmt is RabbitMQ's HTTP management API for a Warren node: the
// paths, JSON field names, status codes and error bodies
// ({"error":…,"reason":…}) of RabbitMQ 3.10's management plugin, on
// RabbitMQ's port 15672, so that rabbitmqadmin, client libraries' test
// suites and scripts work unchanged.
//
// It holds the server (server.go), a router that decodes each path
// segment on its own so that "%2F" is the vhost "/" (router.go), basic
// auth against the node's users and authorisation by tags as
// rabbit_mgmt_util decides it (auth.go), RabbitMQ's list handling:
// sorting, filtering, pagination and columns (list.go), and one file per
// group of resources: users, permissions, vhosts, limits, parameters,
// policies and operator policies (validated by the broker, refused with
// RabbitMQ's "Validation failed" texts; the parameters resource refuses
// the policy component and validates operator_policy as RabbitMQ does),
// definitions, overview and health checks, exchanges, queues and
// bindings (objects.go), connections, channels and consumers.
//
// The node is reached through Broker, which *broker.Server implements
// with its exported Go API; the broker does not import this package
// (cmd/warren and the tests start both).
//
// # Goroutines
//
// Start runs net/http's Serve on one goroutine, which starts one per
// HTTP connection; Close shuts the server down (waiting up to five
// seconds for requests under way, then closing their connections) and
// waits for the Serve goroutine. Each request's work is bounded by a
// thirty-second context.
//
// # Locks
//
// Server.mu guards the listener and the closed flag; it is a leaf. Every
// other read goes through the broker's API, which takes the broker's own
// locks briefly (broker/inspect.go).
package mgmt
