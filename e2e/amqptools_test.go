package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// amqpTools are Debian's amqp-tools: rabbitmq-c's command-line clients.
var amqpTools = []string{"amqp-declare-queue", "amqp-publish", "amqp-get", "amqp-consume", "amqp-delete-queue"}

// requireAmqpTools skips the test (or fails it under CI) when any of
// amqp-tools is missing.
func requireAmqpTools(t *testing.T) {
	t.Helper()
	for _, tool := range amqpTools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found (apt-get install amqp-tools): %v", tool, err)
			}
			t.Skipf("%s not found (apt-get install amqp-tools): %v", tool, err)
		}
	}
}

// amqpToolsConn returns the connection flags for rabbitmq-c's tools. They
// are spelled out rather than passed as --url because rabbitmq-c reads the
// path of amqp://host:port/ as the empty vhost, not "/".
func amqpToolsConn(t *testing.T) []string {
	t.Helper()
	u, err := amqp.ParseURI(brokerURLOrSkip(t))
	if err != nil {
		t.Fatalf("parse %s: %v", brokerURL, err)
	}
	return []string{
		"--server=" + u.Host, "--port=" + strconv.Itoa(u.Port),
		"--username=" + u.Username, "--password=" + u.Password, "--vhost=" + u.Vhost,
	}
}

// toolRun is the outcome of one amqp-tools command.
type toolRun struct {
	stdout, stderr string
	status         int
}

// runTool runs tool with the connection flags and args, feeding it stdin,
// and fails the test if it does not exit within waitFor (a tool waiting
// for a delivery that never comes).
func runTool(t *testing.T, conn []string, stdin string, tool string, args ...string) toolRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append(append([]string{}, conn...), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish within %s\nstdout: %s\nstderr: %s", tool, args, waitFor, stdout.Bytes(), stderr.Bytes())
	}
	run := toolRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.status = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", tool, err)
	}
	return run
}

// mustRunTool is runTool that fails the test unless the tool exits 0.
func mustRunTool(t *testing.T, conn []string, stdin string, tool string, args ...string) string {
	t.Helper()
	run := runTool(t, conn, stdin, tool, args...)
	if run.status != 0 {
		t.Fatalf("%s %q exited %d\nstdout: %s\nstderr: %s", tool, args, run.status, run.stdout, run.stderr)
	}
	return run.stdout
}

// TestAmqpToolsRoundTrip drives a queue's life through rabbitmq-c's
// command-line tools: declare, publish with properties (one message per
// run and several per run with -l), basic.get, consume with a count and a
// prefetch, get on an empty queue, delete, and get on the deleted queue.
// What the tools cannot show (a message's properties) is read with
// amqp091-go. Without amqp-tools the test skips, or fails under CI.
func TestAmqpToolsRoundTrip(t *testing.T) {
	t.Parallel()
	conn := amqpToolsConn(t)
	requireAmqpTools(t)
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })

	if got := mustRunTool(t, conn, "", "amqp-declare-queue", "--durable", "--queue="+q); got != q+"\n" {
		t.Fatalf("amqp-declare-queue printed %q, want %q", got, q+"\n")
	}

	// Three messages, one per run, with every property the tool can set.
	for i := range 3 {
		mustRunTool(t, conn, "", "amqp-publish", "--routing-key="+q, "--persistent",
			"--content-type=application/json", "--content-encoding=utf-8", "--reply-to=replies",
			"-H", "seq: "+strconv.Itoa(i), "-H", "origin: amqp-tools",
			fmt.Sprintf(`--body={"n":%d}`, i))
	}
	// Three more in one run: each line (with its newline) is a message.
	mustRunTool(t, conn, "line-a\nline-b\nline-c", "amqp-publish", "--routing-key="+q, "--line-buffered", "--content-type=text/plain")
	_, ch := open(t)
	waitMessages(t, ch, q, 6)

	// The first message, read with amqp091-go: the properties as set.
	d := getN(t, ch, q, 1, true)[0]
	if string(d.Body) != `{"n":0}` || d.ContentType != "application/json" || d.ContentEncoding != "utf-8" ||
		d.ReplyTo != "replies" || d.DeliveryMode != amqp.Persistent || d.Exchange != "" || d.RoutingKey != q {
		t.Fatalf("first message: body %q, content type %q, encoding %q, reply-to %q, delivery mode %d, exchange %q, key %q; want %q application/json utf-8 replies 2 \"\" %q",
			d.Body, d.ContentType, d.ContentEncoding, d.ReplyTo, d.DeliveryMode, d.Exchange, d.RoutingKey, `{"n":0}`, q)
	}
	if want := (amqp.Table{"seq": "0", "origin": "amqp-tools"}); !reflect.DeepEqual(d.Headers, want) {
		t.Fatalf("first message headers = %v, want %v", d.Headers, want)
	}

	// The second through amqp-get, which prints the body as is.
	if got := mustRunTool(t, conn, "", "amqp-get", "--queue="+q); got != `{"n":1}` {
		t.Fatalf("amqp-get printed %q, want %q", got, `{"n":1}`)
	}

	// The other four through amqp-consume, which pipes each body into a
	// command, acks it when the command succeeds and stops after --count.
	got := mustRunTool(t, conn, "", "amqp-consume", "--queue="+q, "--count=4", "--prefetch-count=2",
		"--", "sh", "-c", `printf '<'; cat; printf '>'`)
	if want := `<{"n":2}><line-a` + "\n" + `><line-b` + "\n" + `><line-c>`; got != want {
		t.Fatalf("amqp-consume bodies = %q, want %q", got, want)
	}
	// The tool closed its connection only after acking: nothing requeued.
	waitMessages(t, ch, q, 0)
	if run := runTool(t, conn, "", "amqp-get", "--queue="+q); run.status != 2 || run.stdout != "" {
		t.Fatalf("amqp-get on an empty queue: status %d, stdout %q, stderr %q; want status 2 (basic.get-empty) and no output",
			run.status, run.stdout, run.stderr)
	}

	// amqp-delete-queue prints the number of messages deleted.
	if got := mustRunTool(t, conn, "", "amqp-delete-queue", "--queue="+q); got != "0\n" {
		t.Fatalf("amqp-delete-queue printed %q, want %q", got, "0\n")
	}
	_, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	expectChannelError(t, ch, err, codeNotFound, fmt.Sprintf("NOT_FOUND - no queue '%s' in vhost '/'", q))
	run := runTool(t, conn, "", "amqp-get", "--queue="+q)
	if want := fmt.Sprintf("server channel error 404, message: NOT_FOUND - no queue '%s' in vhost '/'", q); run.status != 1 || !strings.Contains(run.stderr, want) {
		t.Fatalf("amqp-get on a deleted queue: status %d, stderr %q; want status 1 and %q", run.status, run.stderr, want)
	}
}
