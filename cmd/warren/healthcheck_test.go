package main

import (
	"errors"
	"net"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// fakeServer listens on loopback and answers each connection with reply
// (nothing if nil) before hanging up.
func fakeServer(t *testing.T, reply []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write(reply)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startBroker starts an in-process node and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	srv, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr().String()
}

// TestHealthCheck: healthy only when a broker answers the protocol header
// with connection.start.
func TestHealthCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		addr    func(*testing.T) string
		healthy bool
	}{
		{"running broker", startBroker, true},
		{"closed port", closedPort, false},
		{"hangs up", func(t *testing.T) string { return fakeServer(t, nil) }, false},
		{"not AMQP", func(t *testing.T) string { return fakeServer(t, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")) }, false},
		{"AMQP header only", func(t *testing.T) string { return fakeServer(t, []byte("AMQP\x00\x00\x09\x01")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			start := time.Now()
			err := run([]string{"--health-check", "--listen", addr}, envOf(), nil, nil)
			if (err == nil) != tc.healthy {
				t.Fatalf("health check of %s: %v, want healthy %v", addr, err, tc.healthy)
			}
			if d := time.Since(start); d > healthCheckTimeout {
				t.Fatalf("health check took %v", d)
			}
		})
	}
}

// TestHealthCheckExitStatus: the binary's --health-check exits 0 for a
// running broker and 1 for a closed port, as a container HEALTHCHECK needs.
func TestHealthCheckExitStatus(t *testing.T) {
	bin := warrenBinary(t)
	for _, tc := range []struct {
		name string
		addr string
		want int
	}{
		{"running broker", startBroker(t), 0},
		{"closed port", closedPort(t), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "--health-check")
			cmd.Env = []string{"WARREN_LISTEN=" + tc.addr}
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.want {
				t.Fatalf("exit status %d, want %d", code, tc.want)
			}
		})
	}
}

// TestCheckAddr: a wildcard listen address is checked on loopback.
func TestCheckAddr(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:5672":   "127.0.0.1:5672",
		":5672":          "127.0.0.1:5672",
		"[::]:5672":      "[::1]:5672",
		"10.1.2.3:5672":  "10.1.2.3:5672",
		"localhost:5673": "localhost:5673",
		"127.0.0.1:0":    "",
		"5672":           "",
	} {
		got, err := checkAddr(listen)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("checkAddr(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
}
