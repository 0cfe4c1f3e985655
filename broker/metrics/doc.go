// Package metrics is RabbitMQ's rabbitmq_prometheus endpoint for a
// Warren node: its metric names, types, HELP texts and labels, served in
// Prometheus's text format on port 15692, so that RabbitMQ's Grafana
// dashboards and alerting rules work unchanged.
//
// It holds the HTTP server (server.go: /metrics, /metrics/per-object and
// /metrics/detailed with family=, vhost= and queue= filters), a
// prometheus.Collector made for each scrape that reads the broker's
// listing API then and only then (collector.go; no per-message
// Prometheus call anywhere: the counters are the broker's own atomics),
// the families of RabbitMQ's core metrics collector Warren has figures
// for (families.go), and the node's process, memory and disk figures
// (node.go, from /proc through procfs and the broker's disk probe).
//
// /metrics sums each per-object family over the node's objects, as
// rabbitmq_prometheus does by default; /metrics/per-object gives one
// series per queue, exchange, channel and connection with RabbitMQ's
// labels, and the Raft metrics of each quorum queue replica under both
// RabbitMQ 4's names and 3.x's; /metrics/detailed gives the families
// asked for, prefixed rabbitmq_detailed_ (rabbitmq_cluster_ for
// vhost_status, exchange_names and exchange_bindings). A queue's depth
// is reported by the node that runs it (a quorum queue's by its leader),
// its delivery counters by every node whose channels used it, as in
// RabbitMQ. Every queue is listed, never a capped list; the listing is
// read locally, without a network round trip.
//
// It reaches the node through its interface Broker, which
// *broker.Server implements; the broker does not import it.
//
// Goroutines: the HTTP server's (Start starts its serve loop; Close
// shuts it down, ends the scrapes under way and waits for the loop).
// Locks: Server.mu guards the listener and the closed flag; a collector
// is used by one scrape only.
package metrics
