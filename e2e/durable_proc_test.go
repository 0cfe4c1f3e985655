package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file runs Warren as a child process (the built cmd/warren), for the
// tests that kill it with SIGKILL or damage its files while it is stopped.

// buildWarren builds cmd/warren into a temporary folder and returns the
// binary's path.
func buildWarren(t *testing.T) string {
	t.Helper()
	if external {
		t.Skip("runs its own Warren processes")
	}
	bin := filepath.Join(t.TempDir(), "warren")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/warrenmq/warren/cmd/warren").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/warren: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// warrenProc is a Warren child process on a fixed address and data dir,
// restarted as often as a test likes.
type warrenProc struct {
	bin, dir, addr string
	args           []string // flags beyond listen, data dir and disk limit
	mgmt           string   // the management API's address, when args set one
	cmd            *exec.Cmd
	out            *lockedBuffer // the current run's log
	exited         chan struct{}
}

func newWarrenProc(t *testing.T, bin, dir string) *warrenProc {
	p := &warrenProc{bin: bin, dir: dir, addr: freeAddr(t)}
	t.Cleanup(p.kill)
	return p
}

func (p *warrenProc) url() string { return "amqp://guest:guest@" + p.addr + "/" }

// start runs the broker and waits until it accepts AMQP connections; it
// returns how long that took from exec.
func (p *warrenProc) start(t *testing.T) time.Duration {
	t.Helper()
	begin := time.Now()
	p.launch(t)
	p.waitReady(t)
	return time.Since(begin)
}

// launch runs the broker without waiting for it.
func (p *warrenProc) launch(t *testing.T) {
	t.Helper()
	p.out = &lockedBuffer{}
	args := append([]string{"--listen", p.addr, "--data-dir", p.dir, "--disk-free-limit", "1MB"}, p.args...)
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	p.exited = exited
	cmd := p.cmd
	go func() { cmd.Wait(); close(exited) }()
}

// waitReady waits until the launched broker accepts AMQP connections on
// the default vhost.
func (p *warrenProc) waitReady(t *testing.T) {
	t.Helper()
	cmd, exited := p.cmd, p.exited
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := amqp.DialConfig(p.url(), amqp.Config{Dial: amqp.DefaultDial(time.Second)})
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("warren exited at start-up: %v\n%s", cmd.ProcessState, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("warren does not accept connections: %v\n%s", err, p.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill9 kills the broker with SIGKILL and waits for it to be gone.
func (p *warrenProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// stop stops the broker gracefully (SIGTERM) and waits for it.
func (p *warrenProc) stop(t *testing.T) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("warren did not stop on SIGTERM\n%s", p.out)
	}
	p.cmd = nil
}

// copyDir copies a stopped broker's data dir, for damaging a copy.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", from, err)
	}
}

// msgID reads the id a durability test put at the start of a body.
func msgID(body []byte) (int, bool) {
	var id int
	_, err := fmt.Sscanf(string(body), "id:%d", &id)
	return id, err == nil
}
