package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// This file builds a small network of Linux network namespaces for the
// partition tests: each node gets a namespace with two veth pairs, one on
// a cluster bridge (its cluster port) and one on a client bridge (its
// AMQP port, which the test reaches from the root namespace through the
// bridge's address). Cutting a node's cluster veth partitions it from the
// cluster while its clients still reach it. Names carry a random tag, so
// that concurrent runs on one machine do not collide, and everything is
// removed when the test ends.

// netLab is a set of namespaces on two bridges.
type netLab struct {
	tag                   string
	clusterNet, clientNet string // the first three octets of each /24, as "10.x.y"
	brCluster, brClient   string
	ns                    []string // by node
	vethCluster           []string // the root side of each node's cluster veth
}

// newNetLab makes n namespaces, or skips the test when this machine
// cannot: not root, no ip command, or no right to make namespaces.
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partition tests need root (CAP_NET_ADMIN) to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("partition tests need the ip command (iproute2) to make network namespaces")
	}
	b := make([]byte, 3)
	rand.Read(b)
	l := &netLab{tag: hex.EncodeToString(b)[:5]}
	l.clusterNet, l.clientNet = freeSubnets(t)
	l.brCluster, l.brClient = "wc"+l.tag, "wa"+l.tag
	first := "warren-" + l.tag + "-1"
	if out, err := exec.Command("ip", "netns", "add", first).CombinedOutput(); err != nil {
		t.Skipf("partition tests cannot make a network namespace here (need CAP_NET_ADMIN): ip netns add: %v: %s", err, out)
	}
	l.ns = append(l.ns, first)
	t.Cleanup(func() { l.remove(t) })
	l.ip(t, "link", "add", l.brCluster, "type", "bridge")
	l.ip(t, "link", "add", l.brClient, "type", "bridge")
	l.ip(t, "link", "set", l.brCluster, "up")
	l.ip(t, "link", "set", l.brClient, "up")
	l.ip(t, "addr", "add", l.clientNet+".254/24", "dev", l.brClient)
	for i := range n {
		ns := fmt.Sprintf("warren-%s-%d", l.tag, i+1)
		if i > 0 {
			l.ip(t, "netns", "add", ns)
			l.ns = append(l.ns, ns)
		}
		l.ip(t, "netns", "exec", ns, "ip", "link", "set", "lo", "up")
		l.vethCluster = append(l.vethCluster, l.veth(t, ns, i, "c", l.brCluster, l.clusterNet))
		l.veth(t, ns, i, "a", l.brClient, l.clientNet)
	}
	return l
}

// veth connects namespace ns to bridge br with address net.(i+1), and
// returns the name of the root side.
func (l *netLab) veth(t *testing.T, ns string, i int, kind, br, net string) string {
	t.Helper()
	host := fmt.Sprintf("w%s%s%d", kind, l.tag, i+1)
	peer := host + "p"
	l.ip(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	l.ip(t, "link", "set", peer, "netns", ns)
	l.ip(t, "link", "set", host, "master", br)
	l.ip(t, "link", "set", host, "up")
	l.ip(t, "netns", "exec", ns, "ip", "addr", "add", fmt.Sprintf("%s.%d/24", net, i+1), "dev", peer)
	l.ip(t, "netns", "exec", ns, "ip", "link", "set", peer, "up")
	return host
}

// clusterAddr and clientAddr are node i's addresses on each network.
func (l *netLab) clusterAddr(i, port int) string {
	return fmt.Sprintf("%s.%d:%d", l.clusterNet, i+1, port)
}
func (l *netLab) clientAddr(i, port int) string {
	return fmt.Sprintf("%s.%d:%d", l.clientNet, i+1, port)
}

// cut takes node i off the cluster network; heal puts it back.
func (l *netLab) cut(t *testing.T, i int)  { l.ip(t, "link", "set", l.vethCluster[i], "down") }
func (l *netLab) heal(t *testing.T, i int) { l.ip(t, "link", "set", l.vethCluster[i], "up") }

// command runs argv inside node i's namespace.
func (l *netLab) command(i int, argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns[i]}, argv...)...)
}

// ip runs the ip command, failing the test on an error.
func (l *netLab) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// remove deletes the namespaces (and with them the veths) and bridges.
func (l *netLab) remove(t *testing.T) {
	for _, ns := range l.ns {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
	for _, dev := range append(l.vethCluster, l.brCluster, l.brClient) {
		exec.Command("ip", "link", "del", dev).Run() // gone already unless set up half way
	}
}

// freeSubnets picks two /24s in 10.0.0.0/8 that no address of this
// machine's root namespace is in.
func freeSubnets(t *testing.T) (string, string) {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Skipf("partition tests: ip addr show: %v: %s", err, out)
	}
	for range 100 {
		x, _ := rand.Int(rand.Reader, big.NewInt(50))
		y, _ := rand.Int(rand.Reader, big.NewInt(127))
		a := fmt.Sprintf("10.%d.%d", 200+x.Int64(), 2*y.Int64())
		b := fmt.Sprintf("10.%d.%d", 200+x.Int64(), 2*y.Int64()+1)
		if !strings.Contains(string(out), " "+a+".") && !strings.Contains(string(out), " "+b+".") {
			return a, b
		}
	}
	t.Skip("partition tests: no free 10.x.y.0/24 subnets")
	return "", ""
}
