package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// debianPython is the interpreter Debian's python3-pika installs for.
const debianPython = "/usr/bin/python3"

// TestPikaConfirmConsume runs a second client, Python's pika: it publishes
// with publisher confirms, consumes with manual acks, and checks bodies,
// headers and order. Without pika the test skips, or fails under CI.
func TestPikaConfirmConsume(t *testing.T) {
	t.Parallel()
	url := brokerURLOrSkip(t)
	if err := exec.Command(debianPython, "-c", "import pika").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
		}
		t.Skipf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })
	out, err := exec.CommandContext(ctx, debianPython, "pika/confirm_consume.py", url, q, "500").CombinedOutput()
	got := strings.TrimSpace(string(out))
	if err != nil {
		t.Fatalf("pika client: %v\n%s", err, got)
	}
	if want := "OK published=500 confirmed=500 consumed=500"; got != want {
		t.Fatalf("pika client printed %q, want %q", got, want)
	}
}
