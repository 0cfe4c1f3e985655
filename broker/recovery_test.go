package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestNewServerRefusesUnusableDataDir: a node without a usable data dir
// must not start, since it would keep nothing; only InMemory (asked for
// explicitly) runs without one.
func TestNewServerRefusesUnusableDataDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		cfg      Config
		readOnly bool // needs a directory the process cannot write to
		want     string
	}{
		{name: "empty", cfg: Config{}, want: "no data dir"},
		{name: "a file", cfg: Config{DataDir: file}, want: "is not a directory"},
		{name: "below a file", cfg: Config{DataDir: filepath.Join(file, "data")}, want: "cannot be created"},
		{name: "not writable", cfg: Config{DataDir: "/proc/self"}, readOnly: true, want: "is not writable"},
		{name: "in memory with a dir", cfg: Config{DataDir: tmp, InMemory: true}, want: "both InMemory and a data dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fi, err := os.Stat(tc.cfg.DataDir); tc.readOnly && (err != nil || !fi.IsDir()) {
				t.Skip("no /proc/self directory on this system")
			}
			tc.cfg.Listen = []string{"127.0.0.1:0"}
			s, err := NewServer(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("NewServer(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestInMemoryServer: the explicit in-memory mode works, and says at start
// that nothing survives.
func TestInMemoryServer(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := NewServer(Config{Listen: []string{"127.0.0.1:0"}, InMemory: true, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := logs.FilterMessageSnippet("kept in memory only").Len(); n != 1 {
		t.Fatalf("%d warnings that nothing is kept, want 1", n)
	}
	ch := openChannel(t, dial(t, s))
	if _, err := ch.QueueDeclare("mem", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	publish(t, ch, "", "mem", amqp.Publishing{Body: []byte("x")})
	if _, ok, err := ch.Get("mem", true); err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
}

// TestStartupLogsRecovery: every start logs the data dir (absolute) and
// what came back from it.
func TestStartupLogsRecovery(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Server, *observer.ObservedLogs) {
		core, logs := observer.New(zapcore.InfoLevel)
		return startAt(t, dir, func(c *Config) { c.Logger = zap.New(core) }), logs
	}
	recovered := func(logs *observer.ObservedLogs) map[string]any {
		t.Helper()
		lines := logs.FilterMessage("recovered durable state").All()
		if len(lines) != 1 {
			t.Fatalf("%d recovery lines, want 1", len(lines))
		}
		return lines[0].ContextMap()
	}
	s, logs := start()
	if got := recovered(logs); got["data_dir"] != dir || got["vhosts"] != int64(1) || got["queues"] != int64(0) {
		t.Fatalf("first start logged %v", got)
	}
	ch := openChannel(t, dial(t, s))
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 4))
	if err := ch.ExchangeDeclare("logged-x", "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("logged-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("logged-q", "k", "logged-x", false, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		confirmed(t, ch, confirms, "logged-x", "k", amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("m")})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, logs = start()
	got := recovered(logs)
	want := map[string]any{"data_dir": dir, "vhosts": int64(1), "exchanges": int64(1), "queues": int64(1),
		"bindings": int64(1), "messages": uint64(3), "damaged_records": uint64(0), "skipped": int64(0)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v (%T), want %v (%T)", k, got[k], got[k], v, v)
		}
	}
	if took, ok := got["took"].(time.Duration); !ok || took <= 0 {
		t.Errorf("took = %v", got["took"])
	}
}
