package cluster_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// There is no Docker engine to run docker-compose.yml here, so this test
// holds it to the cluster `make cluster` starts (cluster/local/start.sh):
// the same nodes, each joining all of them, the same bootstrap-expect, a
// required cluster secret, a volume per node, and HAProxy with the same
// configuration in front of the nodes' AMQP ports.

type compose struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Image       string            `yaml:"image"`
		Hostname    string            `yaml:"hostname"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// localCluster is what cluster/local/start.sh starts.
type localCluster struct {
	nodes           []string // node names without the host
	bootstrapExpect int
	joins           int // addresses in --join
	lbNodes         int // WARREN_NODEn given to haproxy
}

func parseStartScript(t *testing.T) localCluster {
	src := readFile(t, "local/start.sh")
	var lc localCluster
	m := regexp.MustCompile(`(?m)^for i in ([0-9 ]+); do\n\t"\$BIN"`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("start.sh: no loop starting the nodes")
	}
	for _, i := range strings.Fields(m[1]) {
		lc.nodes = append(lc.nodes, "warren"+i)
	}
	if !strings.Contains(src, `--node-name "warren$i@localhost"`) {
		t.Fatal("start.sh: nodes are not named warren<i>@localhost")
	}
	m = regexp.MustCompile(`--bootstrap-expect ([0-9]+)`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("start.sh: no --bootstrap-expect")
	}
	lc.bootstrapExpect, _ = strconv.Atoi(m[1])
	m = regexp.MustCompile(`(?m)^join=(\S+)$`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("start.sh: no join list")
	}
	lc.joins = len(strings.Split(m[1], ","))
	lc.lbNodes = len(regexp.MustCompile(`WARREN_NODE[0-9]=`).FindAllString(src, -1))
	return lc
}

// TestComposeMatchesLocalCluster: docker-compose.yml describes the
// cluster start.sh starts.
func TestComposeMatchesLocalCluster(t *testing.T) {
	var c compose
	if err := yaml.Unmarshal([]byte(readFile(t, "../docker-compose.yml")), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	local := parseStartScript(t)
	var nodes []string
	for name, svc := range c.Services {
		if svc.Build == nil {
			continue
		}
		nodes = append(nodes, name)
		env := svc.Environment
		if got, want := env["WARREN_NODE_NAME"], name+"@"+svc.Hostname; got != want || svc.Hostname != name {
			t.Errorf("%s: node name %q and hostname %q, want %q", name, got, svc.Hostname, want)
		}
		if n, _ := strconv.Atoi(env["WARREN_BOOTSTRAP_EXPECT"]); n != local.bootstrapExpect {
			t.Errorf("%s: bootstrap-expect %q, start.sh has %d", name, env["WARREN_BOOTSTRAP_EXPECT"], local.bootstrapExpect)
		}
		if got := len(strings.Split(env["WARREN_JOIN"], ",")); got != local.joins {
			t.Errorf("%s: joins %d nodes, start.sh %d", name, got, local.joins)
		}
		for _, peer := range local.nodes {
			if !strings.Contains(env["WARREN_JOIN"], peer+":25672") {
				t.Errorf("%s: WARREN_JOIN %q misses %s", name, env["WARREN_JOIN"], peer)
			}
		}
		if env["WARREN_CLUSTER_ADVERTISE"] != name+":25672" || env["WARREN_CLUSTER_LISTEN"] != "0.0.0.0:25672" {
			t.Errorf("%s: cluster port %q advertised as %q", name, env["WARREN_CLUSTER_LISTEN"], env["WARREN_CLUSTER_ADVERTISE"])
		}
		if !strings.Contains(env["WARREN_CLUSTER_SECRET"], ":?") {
			t.Errorf("%s: the cluster secret %q is not required", name, env["WARREN_CLUSTER_SECRET"])
		}
		if len(svc.Volumes) != 1 || !strings.HasPrefix(svc.Volumes[0], name+"-data:/data") {
			t.Errorf("%s: volumes %v, want its own %s-data on /data", name, svc.Volumes, name)
		} else if _, ok := c.Volumes[name+"-data"]; !ok {
			t.Errorf("%s: volume %s-data is not declared", name, name)
		}
		if !slices.Equal(svc.Healthcheck.Test, []string{"CMD", "/warren", "--health-check"}) {
			t.Errorf("%s: health check %v", name, svc.Healthcheck.Test)
		}
	}
	slices.Sort(nodes)
	if !slices.Equal(nodes, local.nodes) {
		t.Fatalf("compose nodes %v, start.sh nodes %v", nodes, local.nodes)
	}
	lb, ok := c.Services["haproxy"]
	if !ok {
		t.Fatal("no haproxy service")
	}
	if !slices.Contains(lb.Volumes, "./cluster/local/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro") {
		t.Errorf("haproxy does not use cluster/local/haproxy.cfg: %v", lb.Volumes)
	}
	for i, n := range nodes {
		if got, want := lb.Environment["WARREN_NODE"+strconv.Itoa(i+1)], n+":5672"; got != want {
			t.Errorf("haproxy node %d: %q, want %q", i+1, got, want)
		}
	}
	if local.lbNodes != len(nodes) {
		t.Errorf("start.sh gives haproxy %d nodes, compose has %d", local.lbNodes, len(nodes))
	}
	cfg := readFile(t, "local/haproxy.cfg")
	for i := range nodes {
		if !strings.Contains(cfg, `"${WARREN_NODE`+strconv.Itoa(i+1)+`}" check`) {
			t.Errorf("haproxy.cfg has no checked server for WARREN_NODE%d", i+1)
		}
	}
}
