package mgmt

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startClusterNode starts a cluster node named name on loopback that
// forms a cluster of expect nodes, joining join.
func startClusterNode(t *testing.T, name, listen string, expect int, join []string) *broker.Server {
	t.Helper()
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop(),
		NodeName: name, Cluster: &broker.ClusterConfig{Listen: listen, BootstrapExpect: expect, Join: join,
			Secret: "mgmt-nodes-secret", CommitTimeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		b.Close()
		t.Fatal(err)
	}
	return b
}

// nodesRunning GETs /api/nodes and maps each node's name to running;
// nil while the node does not answer 200 (a new cluster's default user is
// created once it has formed).
func nodesRunning(t *testing.T, api *Server) map[string]bool {
	t.Helper()
	status, _, body := call(t, api, "GET", "/api/nodes", "")
	if status != 200 {
		return nil
	}
	var nodes []struct {
		Name    string `json:"name"`
		Running bool   `json:"running"`
	}
	if err := json.Unmarshal([]byte(body), &nodes); err != nil {
		t.Fatalf("GET /api/nodes: %v in %s", err, body)
	}
	out := map[string]bool{}
	for _, n := range nodes {
		out[n.Name] = n.Running
	}
	return out
}

// TestNodesListsClusterMembers: /api/nodes lists every node of the
// cluster, running while it is up and not running once it stopped, and
// /api/nodes/{node} answers for another node too; a single node lists
// itself alone.
func TestNodesListsClusterMembers(t *testing.T) {
	_, single := startNode(t)
	if got := nodesRunning(t, single); len(got) != 1 || !got[single.b.NodeName()] {
		t.Fatalf("single node: /api/nodes %v, want itself alone", got)
	}

	a1, a2 := freeAddr(t), freeAddr(t)
	n1 := startClusterNode(t, "n1@localhost", a1, 2, []string{a2})
	defer n1.Close()
	n2 := startClusterNode(t, "n2@localhost", a2, 2, []string{a1})
	n2closed := false
	defer func() {
		if !n2closed {
			n2.Close()
		}
	}()
	api := New(Config{Broker: n1})
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer api.Close()

	waitNodes(t, api, map[string]bool{"n1@localhost": true, "n2@localhost": true})
	if status, _, body := call(t, api, "GET", "/api/nodes/n2@localhost", ""); status != 200 {
		t.Fatalf("GET /api/nodes/n2@localhost: %d %s", status, body)
	}
	if status, _, _ := call(t, api, "GET", "/api/nodes/n3@localhost", ""); status != 404 {
		t.Fatalf("GET /api/nodes/n3@localhost: %d, want 404", status)
	}

	n2closed = true
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, api, map[string]bool{"n1@localhost": true, "n2@localhost": false})
}

// waitNodes polls /api/nodes until it lists exactly want.
func waitNodes(t *testing.T, api *Server, want map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := nodesRunning(t, api)
		same := got != nil && len(got) == len(want)
		for k, v := range want {
			if r, ok := got[k]; !ok || r != v {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/nodes: %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
