package perf_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/cmd/warren-perf/perf"
)

// proxyEnv names the address the test binary, started again as a child,
// forwards connections to: the child is a TCP proxy that a test can kill
// with SIGKILL, as a script kills a cluster node.
const proxyEnv = "WARREN_PERF_TEST_PROXY_TO"

func TestMain(m *testing.M) {
	if target := os.Getenv(proxyEnv); target != "" {
		runProxy(target)
		return
	}
	os.Exit(m.Run())
}

// runProxy listens on a free loopback port, prints it, and copies every
// connection to target both ways until it is killed.
func runProxy(target string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	os.Stdout.WriteString(ln.Addr().String() + "\n")
	for {
		in, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		out, err := net.Dial("tcp", target)
		if err != nil {
			in.Close()
			continue
		}
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

// startProxy starts a proxy process in front of the broker at uri and
// returns its pid and an AMQP URL through it. The test kills and reaps
// it at the end if the run has not.
func startProxy(t *testing.T, uri string) (int, string) {
	t.Helper()
	target := strings.TrimSuffix(strings.TrimPrefix(uri, "amqp://guest:guest@"), "/")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), proxyEnv+"="+target)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("proxy did not report its address: %v", err)
	}
	return cmd.Process.Pid, "amqp://guest:guest@" + strings.TrimSpace(line) + "/"
}

// failoverConfig is a run with two producers and two consumers: number 0
// of each through a proxy that is killed a second into the window,
// number 1 of each straight to the broker.
func failoverConfig(t *testing.T) perf.Config {
	uri := startWarren(t)
	pid, via := startProxy(t, uri)
	c := shortConfig(uri)
	c.Duration, c.KillPID, c.KillAfter = 3*time.Second, pid, time.Second
	c.Producers, c.Consumers = 2, 2
	c.PublishURIs, c.ConsumeURIs = []string{via, uri}, []string{via, uri}
	c.Persistent, c.ConfirmWindow, c.Rate = true, 100, 1000
	return c
}

func TestReconnectingClientsSurviveAKill(t *testing.T) {
	c := failoverConfig(t)
	c.Reconnect = true
	res, err := perf.Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	if res.Status != perf.StatusOK {
		t.Fatalf("status %s: %s (errors %v, anomalies %+v)", res.Status, res.Reason, res.Errors, res.Anomalies)
	}
	if tot.Published == 0 || tot.Confirmed+tot.Nacked != tot.Published || tot.Unconfirmed != 0 {
		t.Errorf("published %d, confirmed %d, nacked %d, unconfirmed %d: want every message settled",
			tot.Published, tot.Confirmed, tot.Nacked, tot.Unconfirmed)
	}
	if tot.Lost != 0 || tot.Unexpected != 0 || tot.Received != tot.Expected || tot.InDoubt != 0 {
		t.Errorf("lost %d, unexpected %d, received %d of %d expected, in doubt %d",
			tot.Lost, tot.Unexpected, tot.Received, tot.Expected, tot.InDoubt)
	}
	// Producer 0 and consumer 0 were behind the proxy.
	if tot.Reconnects != 2 {
		t.Errorf("%d reconnections, want 2", tot.Reconnects)
	}
	f := res.Failover
	if f == nil || f.Error != "" || len(f.Producers) != 2 || len(f.Consumers) != 2 {
		t.Fatalf("failover record %+v", f)
	}
	p0, p1, c0 := f.Producers[0], f.Producers[1], f.Consumers[0]
	for name, s := range map[string]perf.StreamFailover{"producer 0": p0, "consumer 0": c0} {
		if s.Reconnects != 1 || s.ReconnectedMillis == nil || s.FirstAfterReconnectMillis == nil || !s.Resumed ||
			s.LostMillis == nil || *s.LostMillis < 0 || *s.ReconnectedMillis < *s.LostMillis ||
			*s.FirstAfterReconnectMillis < *s.ReconnectedMillis {
			t.Errorf("%s, behind the killed proxy: %+v", name, s)
		}
		if s.URL == perf.RedactURI(c.URIs[0]) {
			t.Errorf("%s reported at %s when the proxy was killed", name, s.URL)
		}
	}
	if p0.FirstAckAfterReconnectMillis == nil || p0.AcksAfter == 0 || p0.NacksAfter != 0 {
		t.Errorf("producer 0 after reconnecting: %+v", p0)
	}
	if p1.Reconnects != 0 || !p1.Resumed || p1.EventsAfter == 0 || p1.AcksAfter != p1.EventsAfter || p1.ReconnectedMillis != nil {
		t.Errorf("producer 1, straight to the broker: %+v", p1)
	}
	var sum bytes.Buffer
	res.WriteSummary(&sum)
	for _, want := range []string{"total-queue check", "failover: kill -9", "producer 0 on", "reconnected at", "consumer 1 on"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	if p0.GapMillis <= 0 || p0.ResumedMillis <= 0 || p0.GapStartMillis >= p0.ResumedMillis ||
		p0.LastBeforeMillis == nil || *p0.LastBeforeMillis > 0 || p0.FirstAfterMillis == nil || *p0.FirstAfterMillis <= 0 {
		t.Errorf("producer 0's pause: %+v", p0)
	}
}

func TestWithoutReconnectAKillFailsTheRun(t *testing.T) {
	c := failoverConfig(t)
	c.DrainTimeout = time.Second
	res, err := perf.Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	for _, a := range res.Anomalies {
		closed = closed || a.Kind == "connection-closed"
	}
	if res.Status != perf.StatusFailed || !closed {
		t.Errorf("status %s, anomalies %+v: want failed with connection-closed", res.Status, res.Anomalies)
	}
	if res.Failover == nil || !res.Failover.Producers[1].Resumed {
		t.Errorf("failover record %+v: producer 1 went straight to the broker and should have gone on", res.Failover)
	}
}
