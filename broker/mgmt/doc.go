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
// sorting, filtering, pagination and columns (list.go), a JSON writer
// for replies that writes encoding/json's bytes in a fraction of its
// time for long lists (encode.go), and one file per
// group of resources: users, permissions, vhosts, limits, parameters,
// policies and operator policies (validated by the broker, refused with
// RabbitMQ's "Validation failed" texts; the parameters resource refuses
// the policy component and validates operator_policy as RabbitMQ does),
// definitions, overview, nodes (every member of the cluster, from
// Broker.ClusterMembers) and health checks, exchanges, queues and
// bindings (objects.go), connections, channels and consumers, and the
// operational resources: queue actions, the quorum-critical check and
// the feature flags (operations.go).
//
// Message statistics and rates are RabbitMQ's "basic" rates_mode: a
// sampler (stats.go) reads the node's counters every StatsInterval
// (RabbitMQ's collect_statistics_interval, 5 s) through the Broker API
// (Totals, QueueSamples, Exchanges, Channels, Connections) and keeps
// each object's points in a ring (stats_series.go): two per queue,
// exchange, channel and connection, 121 for the node and each vhost,
// and for at most 256 other objects once asked for with a range. An
// object not seen at a tick is forgotten. stats_format.go turns points
// into message_stats and *_details (the rate is the change between the
// two newest points per second; with ?msg_rates_age=…&msg_rates_incr=…
// and the lengths_ and data_rates_ pairs, samples, avg_rate and avg), and
// stats_items.go adds them to each resource's objects.
//
// Exchanges, queues and bindings are declared, deleted and purged
// (objects_write.go), and messages published, fetched and round-tripped
// by the aliveness test (messages.go, properties.go), as RabbitMQ's
// plugin does it: over an AMQP 0-9-1 connection of the request's own user
// to the node (direct.go), one end of a net.Pipe that Broker.ServeConn
// serves and that is not listed among the node's connections, spoken with
// amqp091-go. The broker's permission checks, equivalence rules and reply
// texts thus apply unchanged; direct.go turns a refusal into RabbitMQ's
// answer (direct_request's for declares, deletes and bindings,
// with_channel's for gets, exchange_publish's for publishes). body.go
// reads request bodies as rabbit_mgmt_util does.
//
// Every authenticated request carries its user, remote address and the
// interface "http" in its context (broker.WithActor, request.go), so
// that the broker's audit log names who made each change and who closed
// each connection (Broker.CloseConnection takes the context).
// Outside /api/ the server serves the web console (package
// broker/mgmt/console) at "/", as RabbitMQ serves its UI beside its API.
// The console is a client of the API like any other; the one thing the
// API does for it is to leave the basic-auth challenge (WWW-Authenticate)
// out of the answers to requests marked X-Requested-With:
// XMLHttpRequest, so that a browser shows the console's "Login failed"
// rather than its own login dialog (server.go).
//
// The node is reached through Broker, which *broker.Server implements
// with its exported Go API; the broker does not import this package
// (cmd/warren and the tests start both).
//
// # Goroutines
//
// Start (HTTP) and StartTLS (HTTPS, as RabbitMQ's management.ssl.*, with
// the tls.Config of broker.ServerTLSConfig, which reloads changed
// certificate files at handshakes) each run net/http's Serve on one
// goroutine, which starts one per connection; one http.Server serves
// both. The first listener also starts the sampler's goroutine, which
// samples at once and then every StatsInterval. Close shuts the server
// down (waiting up to five seconds for requests under way, then closing
// their connections) and waits for the Serve goroutines, then stops the
// sampler and waits for it. Each request's work is bounded by a
// thirty-second context.
//
// A request that changes objects or messages opens one in-process AMQP
// connection: the broker serves its end on goroutines the broker owns,
// and amqp091-go reads the client's end on a goroutine of its own (and
// sends heartbeats on another). The request closes the channel and the
// connection before it answers, which ends them; the pipe carries the
// request's deadline, so a broker that stops answering cannot hold the
// request past it.
//
// # Locks
//
// Server.mu guards the listeners and the closed flag; it is a leaf.
// sampler.mu guards the series; it is a leaf too: the sampler reads the
// broker before taking it, and handlers read the broker first, then
// take it to add the figures to their objects. Every
// other read goes through the broker's API, which takes the broker's own
// locks briefly (broker/inspect.go).
package mgmt
