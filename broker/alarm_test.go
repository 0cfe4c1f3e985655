package broker

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestMemoryAlarmBlocksPublishers sets a watermark every heap exceeds: a
// connection that publishes hears connection.blocked and is no longer
// read from its first publish on, so none of its messages is enqueued,
// while a connection that only consumes keeps working, and the server
// still shuts down promptly.
func TestMemoryAlarmBlocksPublishers(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MemoryHighWatermark = 1 })
	// Close the broker before the clients: a blocked connection does not
	// read the client's connection.close (nor does RabbitMQ's), and
	// amqp091-go waits for close-ok without a timeout.
	defer s.Close()
	pc := dial(t, s)
	blocked := pc.NotifyBlocked(make(chan amqp.Blocking, 1))
	pch := openChannel(t, pc)
	pch.QueueDeclare("alarm", false, false, false, false, nil)
	publish(t, pch, "", "alarm", amqp.Publishing{Body: []byte("first")})
	expectBlocking(t, blocked, true, "low on memory")
	publish(t, pch, "", "alarm", amqp.Publishing{Body: []byte("second")})
	eventually(t, "publisher paused", s.publisherPaused)
	publish(t, pch, "", "alarm", amqp.Publishing{Body: []byte("held back")})

	cch := openChannel(t, dial(t, s))
	for range 10 {
		q, err := cch.QueueDeclarePassive("alarm", false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Messages != 0 {
			t.Fatalf("%d of a blocked publisher's messages enqueued", q.Messages)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("close took %v", el)
	}
}

// TestMemoryLimit: the watermark's base is the machine's memory or, when
// lower, the container's cgroup limit, v1 or v2; "no limit" in either
// form, unreadable values and missing files fall back to the machine's.
func TestMemoryLimit(t *testing.T) {
	const meminfo = "MemTotal:        8000000 kB\nMemFree:         100 kB\n"
	const machine = 8000000 << 10
	const v1, v2 = "sys/fs/cgroup/memory/memory.limit_in_bytes", "sys/fs/cgroup/memory.max"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  uint64
	}{
		{"no cgroup", map[string]string{"proc/meminfo": meminfo}, machine},
		{"v2 limit", map[string]string{"proc/meminfo": meminfo, v2: "536870912\n"}, 512 << 20},
		{"v2 max", map[string]string{"proc/meminfo": meminfo, v2: "max\n"}, machine},
		{"v2 above the machine", map[string]string{"proc/meminfo": meminfo, v2: "99999999999999\n"}, machine},
		{"v1 limit", map[string]string{"proc/meminfo": meminfo, v1: "1073741824\n"}, 1 << 30},
		{"v1 no limit", map[string]string{"proc/meminfo": meminfo, v1: "9223372036854771712\n"}, machine},
		{"v1 garbage", map[string]string{"proc/meminfo": meminfo, v1: "lots\n"}, machine},
		{"cgroup without meminfo", map[string]string{v1: "1073741824"}, 1 << 30},
		{"v1 no limit without meminfo", map[string]string{v1: "9223372036854771712"}, 0},
		{"nothing readable", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, text := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := memoryLimit(root); got != tc.want {
				t.Fatalf("memoryLimit = %d, want %d", got, tc.want)
			}
		})
	}
}

// publisherPaused reports whether some connection's read loop is paused
// by an alarm.
func (s *Server) publisherPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.paused.Load() {
			return true
		}
	}
	return false
}

// expectBlocking waits for connection.blocked with reason (active) or
// connection.unblocked.
func expectBlocking(t *testing.T, blocked <-chan amqp.Blocking, active bool, reason string) {
	t.Helper()
	select {
	case b := <-blocked:
		if b.Active != active || b.Reason != reason {
			t.Fatalf("blocking %+v, want active=%v reason %q", b, active, reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no connection.blocked (active=%v) within 5s", active)
	}
}
