package broker

import (
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "52428800", want: 52428800},
		{in: "50MB", want: 50_000_000},
		{in: "1GB", want: 1_000_000_000},
		{in: "2kB", want: 2000},
		{in: "2KB", want: 2000},
		{in: "1k", want: 1024},
		{in: "1KiB", want: 1024},
		{in: "512MiB", want: 512 << 20},
		{in: "1.5G", want: 3 << 29},
		{in: " 3 GiB ", want: 3 << 30},
		{in: "", bad: true},
		{in: "MB", bad: true},
		{in: "10XB", bad: true},
		{in: "-5MB", bad: true},
		{in: "1e30", bad: true},
	} {
		got, err := ParseSize(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
	for set, want := range map[alarm]string{alarmMemory: "low on memory", alarmDisk: "low on disk",
		alarmMemory | alarmDisk: "low on memory & disk"} {
		if got := blockedReason(set); got != want {
			t.Errorf("blockedReason(%d) = %q, want %q", set, got, want)
		}
	}
}

// TestDiskAlarmBlocksPublishers: with free space (from an injected probe)
// below disk_free_limit, a publishing connection hears connection.blocked
// "low on disk" and is no longer read; when space returns it hears
// connection.unblocked and its held-back publish goes through.
func TestDiskAlarmBlocksPublishers(t *testing.T) {
	var free atomic.Int64
	free.Store(1 << 30)
	s := startServer(t, func(c *Config) {
		c.DiskFreeLimit = 50_000_000
		c.DiskFree = func(string) (uint64, error) { return uint64(free.Load()), nil }
	})
	pc := dial(t, s)
	blocked := pc.NotifyBlocked(make(chan amqp.Blocking, 2))
	pch := openChannel(t, pc)
	if _, err := pch.QueueDeclare("disk", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	publish(t, pch, "", "disk", amqp.Publishing{Body: []byte("before")})
	cch := openChannel(t, dial(t, s))
	count := func() int {
		q, err := cch.QueueDeclarePassive("disk", false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return q.Messages
	}
	eventually(t, "first message", func() bool { return count() == 1 })

	free.Store(10_000_000)
	s.checkDisk() // the clock would, within a second
	expectBlocking(t, blocked, true, "low on disk")
	eventually(t, "publisher paused", s.publisherPaused)
	publish(t, pch, "", "disk", amqp.Publishing{Body: []byte("held back")})
	for range 5 {
		if n := count(); n != 1 {
			t.Fatalf("%d messages while the disk alarm is raised", n)
		}
	}

	free.Store(1 << 30)
	s.checkDisk()
	expectBlocking(t, blocked, false, "")
	eventually(t, "held-back publish", func() bool { return count() == 2 })
}

// TestDiskAlarmHoldsFirstPublish: with the disk alarm raised before the
// client connects, even its first persistent publish is held (its frames
// arrive in one write, so this also covers input already buffered): it is
// not enqueued or confirmed, and the client hears connection.blocked; once
// space returns it hears connection.unblocked and the message is confirmed
// and delivered. A connection that does not publish keeps working.
func TestDiskAlarmHoldsFirstPublish(t *testing.T) {
	var free atomic.Int64
	free.Store(1 << 20)
	s := startServer(t, func(c *Config) {
		c.DiskFreeLimit = 50_000_000
		c.DiskFree = func(string) (uint64, error) { return uint64(free.Load()), nil }
	})
	// Close the broker before the clients, should the test fail while the
	// publisher is paused: it would not read the client's connection.close.
	defer s.Close()
	cch := openChannel(t, dial(t, s))
	if _, err := cch.QueueDeclare("first", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		q, err := cch.QueueDeclarePassive("first", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return q.Messages
	}

	pc := dial(t, s)
	blocked := pc.NotifyBlocked(make(chan amqp.Blocking, 2))
	pch := openChannel(t, pc)
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pch.NotifyPublish(make(chan amqp.Confirmation, 1))
	publish(t, pch, "", "first", amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("first")})
	expectBlocking(t, blocked, true, "low on disk")
	eventually(t, "publisher paused", s.publisherPaused)
	// Paused before the message was complete: nothing can reach the queue.
	if n := count(); n != 0 {
		t.Fatalf("%d messages enqueued under the disk alarm, want 0", n)
	}
	select {
	case c := <-confirms:
		t.Fatalf("publish confirmed under the disk alarm: %+v", c)
	default:
	}

	free.Store(1 << 30)
	s.checkDisk()
	expectBlocking(t, blocked, false, "")
	select {
	case c := <-confirms:
		if !c.Ack || c.DeliveryTag != 1 {
			t.Fatalf("confirm %+v, want ack of 1", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no confirm once the alarm cleared")
	}
	d, ok, err := cch.Get("first", true)
	if err != nil || !ok || string(d.Body) != "first" {
		t.Fatalf("get: %q %v %v", d.Body, ok, err)
	}
}
