package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunRefusesUnusableDataDir: a data dir that is a file, cannot be
// created or cannot be written to stops the start with an error naming
// it, before anything listens.
func TestRunRefusesUnusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"a file", file, "is not a directory"},
		{"below a file", filepath.Join(file, "data"), "cannot be created"},
		{"not writable", "/proc/self", "is not writable"}, // procfs takes no new files, even from root
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dir == "/proc/self" {
				if fi, err := os.Stat(tc.dir); err != nil || !fi.IsDir() {
					t.Skip("no /proc/self directory on this system")
				}
			}
			var logs syncBuffer
			err := run([]string{"--listen", "127.0.0.1:0", "--data-dir", tc.dir}, envOf(), &logs, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.dir) {
				t.Fatalf("run: %v, want an error naming %s and saying it %s", err, tc.dir, tc.want)
			}
			if strings.Contains(logs.String(), "listening") {
				t.Fatalf("the node listened:\n%s", logs.String())
			}
		})
	}
}

// runNode runs a node with args on a free port until the test ends, and
// returns its address and log once it answers AMQP.
func runNode(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &syncBuffer{}
	sig := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- run(append([]string{"--listen", addr}, args...), envOf(), logs, sig) }()
	t.Cleanup(func() {
		sig <- syscall.SIGTERM
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for healthCheck(addr, time.Second) != nil {
		select {
		case err := <-done:
			t.Fatalf("run ended: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node does not answer:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return addr, logs
}

// TestStartupLogLine: with --log-format json every line is a JSON object,
// and the start names the data dir and what was recovered from it.
func TestStartupLogLine(t *testing.T) {
	dir := t.TempDir()
	_, logs := runNode(t, "--data-dir", dir, "--log-format", "json")
	var recovered map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		if line["msg"] == "recovered durable state" {
			recovered = line
		}
	}
	if recovered == nil {
		t.Fatalf("no start-up recovery line:\n%s", logs.String())
	}
	if recovered["level"] != "info" || recovered["data_dir"] != dir {
		t.Fatalf("recovery line %v, want level info and data_dir %s", recovered, dir)
	}
	for _, k := range []string{"vhosts", "exchanges", "queues", "bindings", "messages", "damaged_records", "took"} {
		if _, ok := recovered[k]; !ok {
			t.Errorf("recovery line lacks %s: %v", k, recovered)
		}
	}
}

// TestLogLevel: --log-level sets the least severe level written; a failed
// login (an error) is written at every level.
func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		level        string
		debug, infos bool
	}{
		{"debug", true, true},
		{"info", false, true},
		{"warn", false, false},
		{"error", false, false},
	} {
		t.Run(tc.level, func(t *testing.T) {
			addr, logs := runNode(t, "--data-dir", t.TempDir(), "--log-level", tc.level)
			if _, err := amqp.Dial("amqp://guest:wrong@" + addr + "/"); !errors.Is(err, amqp.ErrCredentials) {
				t.Fatalf("login with a wrong password: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), "\terror\t") {
				if time.Now().After(deadline) {
					t.Fatalf("no error line for the failed login:\n%s", logs)
				}
				time.Sleep(5 * time.Millisecond)
			}
			got := logs.String()
			if has := strings.Contains(got, "\tdebug\t"); has != tc.debug {
				t.Errorf("debug lines written: %v, want %v\n%s", has, tc.debug, got)
			}
			if has := strings.Contains(got, "\tinfo\t"); has != tc.infos {
				t.Errorf("info lines written: %v, want %v\n%s", has, tc.infos, got)
			}
		})
	}
}
