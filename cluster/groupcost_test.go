package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TestIdleGroupsCost measures what idle hashicorp/raft groups cost a node:
// three node processes (this test binary re-executed), each with one
// cluster Transport on loopback and one replica of each of N groups, every
// group over its own RaftLayer service on the node's one port, with
// raft.InmemStore and a trivial FSM. Group g is bootstrapped on node g%3
// only (with all three servers), so that node elects itself and leaders
// are spread evenly. Once every replica knows its leader, each node
// measures CPU, RSS, Go heap, goroutines, yamux sessions and streams over
// an idle window. It runs only when WARREN_RAFT_GROUPS is set:
//
//	WARREN_RAFT_GROUPS=1000 go test -run TestIdleGroupsCost -v -timeout 30m ./cluster/
//
// WARREN_RAFT_HEARTBEAT sets HeartbeatTimeout and ElectionTimeout (the
// lease is half of it; default raft's 1s), WARREN_RAFT_COMMIT the
// CommitTimeout (default raft's 50ms), WARREN_RAFT_IDLE the window
// (default 30s), WARREN_RAFT_PROFILE a directory for each node's CPU
// profile of the window and its log (Warn and above), WARREN_RAFT_MAXRSS
// the RSS in MB at which a node gives up starting groups (default 3072).
func TestIdleGroupsCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WARREN_RAFT_GROUPS"))
	if n <= 0 {
		t.Skip("set WARREN_RAFT_GROUPS to the number of Raft groups")
	}
	if node := os.Getenv("WARREN_RAFT_NODE"); node != "" {
		i, _ := strconv.Atoi(node)
		runCostNode(t, i, n)
		return
	}
	runCostParent(t, n)
}

// nodeCost is what one node process reports.
type nodeCost struct {
	Node       int
	Replicas   int
	Leaders    int
	ElectMS    int64   // from the first group started to every replica knowing its leader
	Elections  uint64  // term changes during the idle window
	CPUPercent float64 // of one core over the idle window
	BaseRSSKB  int64   // before the groups were started
	RSSKB      int64
	HeapKB     int64 // HeapInuse
	StackKB    int64 // goroutine stacks
	SysKB      int64 // memory the Go runtime holds from the OS
	Goroutines int
	Sessions   int // yamux sessions, one TCP connection each
	Streams    int
}

// costChild is one node process as the parent sees it.
type costChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its stdout lines that start with "GROUPS "
}

func runCostParent(t *testing.T, n int) {
	children := make([]*costChild, 3)
	for i := range children {
		children[i] = startCostChild(t, i)
	}
	addrs := make([]string, 3)
	for i, c := range children {
		addrs[i] = expectLine(t, c, "addr", time.Minute)
	}
	for _, c := range children {
		fmt.Fprintf(c.stdin, "peers %s\n", strings.Join(addrs, ","))
	}
	for i, c := range children {
		t.Logf("node %d: every replica knows its leader after %s ms", i, expectLine(t, c, "ready", 30*time.Minute))
	}
	for _, c := range children {
		fmt.Fprintln(c.stdin, "measure")
	}
	costs := make([]nodeCost, 3)
	for i, c := range children {
		if err := json.Unmarshal([]byte(expectLine(t, c, "result", time.Hour)), &costs[i]); err != nil {
			t.Fatalf("node %d result: %v", i, err)
		}
	}
	for _, c := range children {
		c.stdin.Close()
	}
	logCosts(t, n, costs)
}

// startCostChild re-executes the test binary as node i, its stderr in a
// file whose path is logged.
func startCostChild(t *testing.T, i int) *costChild {
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleGroupsCost$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), fmt.Sprintf("WARREN_RAFT_NODE=%d", i))
	dir := os.Getenv("WARREN_RAFT_PROFILE")
	if dir == "" {
		dir = t.TempDir()
	}
	errPath := filepath.Join(dir, fmt.Sprintf("node%d.log", i))
	errFile, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = errFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &costChild{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		defer close(c.lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if line, ok := strings.CutPrefix(s.Text(), "GROUPS "); ok {
				c.lines <- line
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-done
		}
		errFile.Close()
		if b, _ := os.ReadFile(errPath); len(b) > 0 {
			t.Logf("node %d: %d warning lines, e.g. %.300s", i, strings.Count(string(b), "\n"), b)
		}
	})
	return c
}

// expectLine waits for the child's next line, which must be of kind, and
// returns the rest of it.
func expectLine(t *testing.T, c *costChild, kind string, d time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			t.Fatalf("node process ended before %q", kind)
		}
		rest, found := strings.CutPrefix(line, kind+" ")
		if !found {
			t.Fatalf("node said %q, want %q", line, kind)
		}
		return rest
	case <-time.After(d):
		t.Fatalf("no %q from a node within %v", kind, d)
	}
	return ""
}

func logCosts(t *testing.T, n int, costs []nodeCost) {
	t.Logf("%d groups, heartbeat %v, commit %v, idle %v", n, heartbeatTimeout(), commitTimeout(), idleWindow())
	t.Logf("node leaders elect_s elections cpu_%%core rss_MB KB/replica heap_KB/replica stack_KB/replica goroutines/replica sessions streams")
	for _, c := range costs {
		t.Logf("%d %d %.1f %d %.1f %.1f %.1f %.1f %.1f %.1f %d %d", c.Node, c.Leaders, float64(c.ElectMS)/1000, c.Elections,
			c.CPUPercent, float64(c.RSSKB)/1024, float64(c.RSSKB-c.BaseRSSKB)/float64(n), float64(c.HeapKB)/float64(n),
			float64(c.StackKB)/float64(n), float64(c.Goroutines)/float64(n), c.Sessions, c.Streams)
	}
}

func heartbeatTimeout() time.Duration { return envDuration("WARREN_RAFT_HEARTBEAT", time.Second) }
func commitTimeout() time.Duration    { return envDuration("WARREN_RAFT_COMMIT", 50*time.Millisecond) }
func idleWindow() time.Duration       { return envDuration("WARREN_RAFT_IDLE", 30*time.Second) }

// maxRSSKB is the RSS at which a node stops starting groups (default
// 3 GB), so that a large N cannot exhaust a shared machine's memory.
func maxRSSKB() int64 {
	if mb, err := strconv.ParseInt(os.Getenv("WARREN_RAFT_MAXRSS"), 10, 64); err == nil && mb > 0 {
		return mb * 1024
	}
	return 3 << 20
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// costNode is one node process: its transport and its replicas.
type costNode struct {
	index   int
	tr      *Transport
	log     *zap.Logger
	rafts   []*raft.Raft
	transes []*raft.NetworkTransport
}

func runCostNode(t *testing.T, index, n int) {
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.AddSync(os.Stderr), zapcore.WarnLevel))
	tr, err := Listen(TransportConfig{Addr: "127.0.0.1:0", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	node := &costNode{index: index, tr: tr, log: log}
	defer node.shutdown()
	in := bufio.NewScanner(os.Stdin)
	fmt.Printf("GROUPS addr %s\n", tr.Addr())
	peers := strings.Split(strings.TrimPrefix(readCommand(in), "peers "), ",")
	baseRSS := rssKB()
	start := time.Now()
	for g := 0; g < n; g++ {
		if err := node.startGroup(g, peers); err != nil {
			t.Fatalf("group %d: %v", g, err)
		}
		if g%100 == 99 && rssKB() > maxRSSKB() {
			fmt.Printf("GROUPS abort: RSS %d MB over WARREN_RAFT_MAXRSS after %d groups\n", rssKB()/1024, g+1)
			return
		}
	}
	node.waitLeaders()
	elect := time.Since(start)
	fmt.Printf("GROUPS ready %d\n", elect.Milliseconds())
	readCommand(in) // measure
	cost := node.measure()
	cost.Replicas, cost.ElectMS, cost.BaseRSSKB = n, elect.Milliseconds(), baseRSS
	b, _ := json.Marshal(cost)
	fmt.Printf("GROUPS result %s\n", b)
	readCommand(in) // EOF: stop
}

func readCommand(in *bufio.Scanner) string {
	if !in.Scan() {
		return ""
	}
	return in.Text()
}

// startGroup starts this node's replica of group g; node g%3 bootstraps it.
func (c *costNode) startGroup(g int, peers []string) error {
	layer, err := c.tr.RaftLayer(fmt.Sprintf("raft/g%d", g))
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second,
		Logger: NewHCLogger(c.log, "raft-net"),
	})
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(fmt.Sprintf("n%d", c.index))
	conf.HeartbeatTimeout, conf.ElectionTimeout = heartbeatTimeout(), heartbeatTimeout()
	conf.LeaderLeaseTimeout = heartbeatTimeout() / 2
	conf.CommitTimeout = commitTimeout()
	conf.Logger = NewHCLogger(c.log, "raft")
	logs, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
	if g%3 == c.index {
		var servers []raft.Server
		for k := range peers {
			p := (g + k) % len(peers)
			servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", p)), Address: raft.ServerAddress(peers[p])})
		}
		if err := raft.BootstrapCluster(conf, logs, logs, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			return err
		}
	}
	r, err := raft.NewRaft(conf, nopFSM{}, logs, logs, snaps, trans)
	if err != nil {
		return err
	}
	c.rafts = append(c.rafts, r)
	c.transes = append(c.transes, trans)
	return nil
}

// waitLeaders polls until every replica knows a leader.
func (c *costNode) waitLeaders() {
	next := 0
	for next < len(c.rafts) {
		if addr, _ := c.rafts[next].LeaderWithID(); addr != "" {
			next++
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// measure samples the node before and after the idle window.
func (c *costNode) measure() nodeCost {
	terms := c.terms()
	stop := c.startProfile()
	cpu0, t0 := cpuTicks(), time.Now()
	time.Sleep(idleWindow()) // the idle window being measured
	cpu1, elapsed := cpuTicks(), time.Since(t0)
	stop()
	cost := nodeCost{Node: c.index, RSSKB: rssKB(), Goroutines: runtime.NumGoroutine()}
	cost.CPUPercent = float64(cpu1-cpu0) / 100 / elapsed.Seconds() * 100 // USER_HZ is 100 on Linux
	for i, term := range c.terms() {
		cost.Elections += term - terms[i]
		if c.rafts[i].State() == raft.Leader {
			cost.Leaders++
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cost.HeapKB, cost.StackKB, cost.SysKB = int64(ms.HeapInuse/1024), int64(ms.StackInuse/1024), int64(ms.Sys/1024)
	cost.Sessions, cost.Streams = c.tr.countStreams()
	return cost
}

func (c *costNode) terms() []uint64 {
	out := make([]uint64, len(c.rafts))
	for i, r := range c.rafts {
		out[i] = r.CurrentTerm()
	}
	return out
}

// startProfile writes a CPU profile of the window into WARREN_RAFT_PROFILE
// when set, and returns what stops it.
func (c *costNode) startProfile() func() {
	dir := os.Getenv("WARREN_RAFT_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-node%d.pprof", c.index)))
	if err != nil {
		c.log.Warn("profile", zap.Error(err))
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// shutdown stops every replica, a few at a time.
func (c *costNode) shutdown() {
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for i := range work {
				c.rafts[i].Shutdown().Error()
				c.transes[i].Close()
			}
		})
	}
	for i := range c.rafts {
		work <- i
	}
	close(work)
	wg.Wait()
}

// countStreams is the number of yamux sessions (TCP connections) and of
// streams open on them.
func (t *Transport) countStreams() (sessions, streams int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.sessions {
		streams += s.NumStreams()
	}
	return len(t.sessions), streams
}

// cpuTicks is this process's user and system time in clock ticks.
func cpuTicks() int64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64) // field 14 of stat(5)
	stime, _ := strconv.ParseInt(fields[12], 10, 64) // field 15
	return utime + stime
}

// rssKB is this process's resident set size.
func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// nopFSM applies nothing: the groups stay idle.
type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) interface{}         { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (nopSnapshot) Release()                             {}
