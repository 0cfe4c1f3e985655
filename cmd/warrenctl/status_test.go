package main

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/mgmt"
)

// TestStatus: the node's name, product, totals and listeners, as text
// and JSON.
func TestStatus(t *testing.T) {
	out := mustCtl(t, "status")
	port := strings.TrimPrefix(apiURL, "http://127.0.0.1:")
	for _, want := range []string{"Status of node " + nodeName + " ...", "Node name: " + nodeName, "Product name: Warren",
		"Virtual host count: ", "Interface: 127.0.0.1, port: " + port + ", protocol: http, purpose: HTTP API"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status: %q missing from\n%s", want, out)
		}
	}
	var st struct {
		Node        string           `json:"node"`
		ProductName string           `json:"product_name"`
		Alarms      []any            `json:"alarms"`
		Totals      map[string]int   `json:"totals"`
		Listeners   []map[string]any `json:"listeners"`
	}
	if err := json.Unmarshal([]byte(mustCtl(t, "--formatter", "json", "status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Node != nodeName || st.ProductName != "Warren" || st.Alarms == nil || st.Totals["virtual_host_count"] < 1 || len(st.Listeners) != 2 {
		t.Fatalf("status json: %+v", st)
	}
}

// clusterStatus runs cluster_status --formatter json against an API.
func clusterStatus(t *testing.T, api string) (disk, running []string) {
	t.Helper()
	r := ctlEnv(map[string]string{"WARRENCTL_URL": api}, "", "--formatter", "json", "cluster_status")
	if r.code != 0 {
		return nil, nil // a new cluster's default user comes once it has formed
	}
	var st struct {
		Disk    []string `json:"disk_nodes"`
		Running []string `json:"running_nodes"`
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("cluster_status json: %v in %s", err, r.out)
	}
	return st.Disk, st.Running
}

// TestClusterStatusSingleNode: a node alone is its cluster's only disk
// and running node.
func TestClusterStatusSingleNode(t *testing.T) {
	disk, running := clusterStatus(t, apiURL)
	if !slices.Equal(disk, []string{nodeName}) || !slices.Equal(running, []string{nodeName}) {
		t.Fatalf("cluster_status: disk %v running %v", disk, running)
	}
	out := mustCtl(t, "cluster_status")
	if !strings.Contains(out, "Disk Nodes\n\n"+nodeName+"\n") || !strings.Contains(out, "Running Nodes\n\n"+nodeName+"\n") {
		t.Fatalf("cluster_status:\n%s", out)
	}
}

// TestClusterStatusCluster: in a two-node cluster both nodes are listed
// and running; once one stops, it is listed but no longer running.
func TestClusterStatusCluster(t *testing.T) {
	a1, a2 := freeAddr(t), freeAddr(t)
	n1 := startClusterNode(t, "c1@localhost", a1, a2)
	n2 := startClusterNode(t, "c2@localhost", a2, a1)
	api := mgmt.New(mgmt.Config{Broker: n1})
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	base := "http://" + api.Addr().String()
	both := []string{"c1@localhost", "c2@localhost"}
	eventually(t, "both nodes running", func() bool {
		disk, running := clusterStatus(t, base)
		return slices.Equal(disk, both) && slices.Equal(running, both)
	})
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c2 listed, not running", func() bool {
		disk, running := clusterStatus(t, base)
		return slices.Equal(disk, both) && slices.Equal(running, []string{"c1@localhost"})
	})
}

// freeAddr is a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startClusterNode starts one of two nodes forming a cluster; it closes
// when the test ends.
func startClusterNode(t *testing.T, name, listen, peer string) *broker.Server {
	t.Helper()
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop(),
		NodeName: name, Cluster: &broker.ClusterConfig{Listen: listen, BootstrapExpect: 2, Join: []string{peer},
			Secret: "warrenctl-test", CommitTimeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		b.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
