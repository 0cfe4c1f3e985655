package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// startWarren builds and starts the warren binary with args and extra
// environment, and returns the address it logged it listens on. The process
// is stopped with SIGTERM at cleanup, and must exit cleanly.
func startWarren(t *testing.T, env []string, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "warren")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() {
		listening := regexp.MustCompile(`listening for AMQP 0-9-1 clients.*"addr": "([^"]+)"`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("warren did not exit cleanly on SIGTERM: %v", err)
		}
	})
	select {
	case addr := <-addrs:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("warren did not log its listening address")
		return ""
	}
}

// TestFlagsAndEnvironment checks that a port chosen with :0 is logged, that
// the environment configures the node, and that flags win over it.
func TestFlagsAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	addr := startWarren(t,
		[]string{"WARREN_LISTEN=127.0.0.1:1", "WARREN_DEFAULT_USER=env-user", "WARREN_DEFAULT_PASS=env-pass"},
		"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--default-pass", "flag-pass")

	conn, err := amqp.Dial("amqp://env-user:flag-pass@" + addr + "/")
	if err != nil {
		t.Fatalf("login as the configured user with the flag's password: %v", err)
	}
	conn.Close()

	_, err = amqp.Dial("amqp://guest:guest@" + addr + "/")
	if !errors.Is(err, amqp.ErrCredentials) {
		t.Fatalf("guest login with another default user configured: got %v, want refused credentials", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("data dir not created: %v", err)
	}
}
