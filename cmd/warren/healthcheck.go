package main

import (
	"fmt"
	"net"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// healthCheckTimeout bounds the whole health check.
const healthCheckTimeout = 5 * time.Second

// healthCheck reports whether a node answers AMQP at listen: it connects,
// sends the AMQP 0-9-1 protocol header and expects connection.start, then
// hangs up (the broker logs that at Debug only). A wildcard host (0.0.0.0,
// ::, or none) is checked on loopback.
func healthCheck(listen string, timeout time.Duration) error {
	addr, err := checkAddr(listen)
	if err != nil {
		return err
	}
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write(protocol.ProtocolHeader); err != nil {
		return fmt.Errorf("health check: %s: %w", addr, err)
	}
	f, err := protocol.NewFrameReader(nc).ReadFrame()
	if err != nil {
		return fmt.Errorf("health check: %s: no connection.start: %w", addr, err)
	}
	if f.Type == protocol.FrameMethod && f.Channel == 0 {
		if m, err := protocol.DecodeMethod(f.Payload); err == nil {
			if _, ok := m.(*protocol.ConnectionStart); ok {
				return nil
			}
		}
	}
	return fmt.Errorf("health check: %s answered with something other than connection.start", addr)
}

// checkAddr is the address to check for a listen address: a wildcard host
// becomes loopback.
func checkAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("health check: listen address %q: %w", listen, err)
	}
	if port == "0" {
		return "", fmt.Errorf("health check: listen address %q has no fixed port", listen)
	}
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.Equal(net.IPv4zero):
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}
