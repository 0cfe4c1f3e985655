package main

import (
	"fmt"
	"net"
	"strconv"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/conf"
	"github.com/warrenmq/warren/broker/metrics"
)

// filePrometheusListen is --prometheus-listen's default from the file:
// prometheus.tcp.ip and .port (rabbitmq_prometheus's port 15692, every
// interface, when only one of them is set); "" when the file sets
// neither.
func filePrometheusListen(f *conf.Config) string {
	if !f.Has("prometheus.tcp.port") && !f.Has("prometheus.tcp.ip") {
		return ""
	}
	port := f.PrometheusPort
	if !f.Has("prometheus.tcp.port") {
		port = 15692
	}
	return net.JoinHostPort(f.PrometheusIP, strconv.Itoa(port))
}

// defaultPrometheusListen is where the endpoint listens unless told:
// beside the first plain AMQP listener, its port + 10020, as RabbitMQ's
// 15692 is 5672's (127.0.0.1:15692 by default).
func defaultPrometheusListen(listen []string) string {
	return listenBeside(listen, 10020, metrics.DefaultListen)
}

// startPrometheus starts the Prometheus endpoint beside the node, unless
// it is disabled; nil and no error when it is, or when its default
// address is taken (the node runs on without it, as without the
// management API).
func (o *options) startPrometheus(srv *broker.Server, log *zap.Logger) (*metrics.Server, error) {
	if o.promListen == "" {
		return nil, nil
	}
	prom := metrics.New(metrics.Config{Broker: srv, Logger: log.Named("prometheus")})
	if err := prom.Start(o.promListen); err != nil {
		if !o.promDefault {
			return nil, fmt.Errorf("prometheus endpoint: %w", err)
		}
		log.Warn("Prometheus endpoint not started: its default address is taken; set --prometheus-listen",
			zap.String("addr", o.promListen), zap.Error(err))
		return nil, nil
	}
	return prom, nil
}
