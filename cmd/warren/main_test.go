package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// binary is the warren binary built once for the tests that run it.
var binary struct {
	once sync.Once
	path string
	err  error
	dir  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// warrenBinary builds the warren binary on first use and returns its path.
func warrenBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "warren-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "warren")
		if out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// startWarren starts the warren binary with args and extra environment,
// and returns the address it logged it listens on. The process is stopped
// with SIGTERM at cleanup, and must exit cleanly.
func startWarren(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(warrenBinary(t), args...)
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

// TestBinaryRefusesEmptyDataDir: an empty data dir, from the flag (an
// unset shell variable: --data-dir "$UNSET") or from WARREN_DATA_DIR set
// to nothing, stops warren at once with exit status 1 and says why; it
// never starts a node that keeps nothing.
func TestBinaryRefusesEmptyDataDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"flag", nil, []string{"--data-dir", ""}},
		{"environment", []string{"WARREN_DATA_DIR="}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(warrenBinary(t), append([]string{"--listen", "127.0.0.1:0"}, tc.args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Fatalf("exit: %v, want status 1", err)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("warren started with an empty data dir")
			}
			want := "warren: --data-dir (WARREN_DATA_DIR) is empty"
			if !bytes.HasPrefix(stderr.Bytes(), []byte(want)) {
				t.Fatalf("stderr %q, want it to start with %q", stderr.String(), want)
			}
		})
	}
}
