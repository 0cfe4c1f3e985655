package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
)

// freeAddr returns a loopback address with a port nobody listens on now,
// for a child process to listen on later. The port is taken below the
// kernel's ephemeral range: a port from that range (as port 0 gives) can
// be taken, between this check and the child's listen, as the local port
// of any outgoing connection the suite makes, and a cluster node whose
// port went that way never starts. No port is handed out twice.
func freeAddr(t *testing.T) string {
	t.Helper()
	lo := ephemeralLow()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 10000 + rand.IntN(lo-10000)
		if portsGiven[port] {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		portsGiven[port] = true
		return addr
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow returns the first port of the kernel's ephemeral range
// (Linux's ip_local_port_range), or 32768 where it cannot be read.
func ephemeralLow() int {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var hi int
		if n, _ := fmt.Sscan(string(b), &lo, &hi); n != 2 || lo <= 11000 {
			lo = 32768
		}
	}
	return lo
}
