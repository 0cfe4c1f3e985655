package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sync"
	"testing"
	"time"
)

// nodeDir holds the amqplib client script and its locked dependencies.
const nodeDir = "node"

// npmCI installs e2e/node's locked dependencies once per test binary when
// node_modules is missing.
var (
	npmCIOnce sync.Once
	npmCIErr  error
)

// requireNode skips the test (or fails it under CI) when node or npm is
// missing, and runs `npm ci` in e2e/node if its node_modules is absent.
func requireNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found (install Node.js 18 or later): %v", tool, err)
			}
			t.Skipf("%s not found (install Node.js 18 or later): %v", tool, err)
		}
	}
	npmCIOnce.Do(func() {
		if _, err := os.Stat(nodeDir + "/node_modules/amqplib/package.json"); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = nodeDir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmCIErr = fmt.Errorf("npm ci in e2e/%s: %v\n%s", nodeDir, err, out)
		}
	})
	if npmCIErr != nil {
		t.Fatal(npmCIErr)
	}
}

// amqplibResult is the JSON line e2e/node/rpc_confirm.js prints.
type amqplibResult struct {
	OK                bool     `json:"ok"`
	Error             string   `json:"error"`
	Published         int      `json:"published"`
	Acked             int      `json:"acked"`
	Nacked            int      `json:"nacked"`
	ReadyAfterPublish int      `json:"readyAfterPublish"`
	Consumed          int      `json:"consumed"`
	MaxUnacked        int      `json:"maxUnacked"`
	ReadyAtFullWindow int      `json:"readyAtFullWindow"`
	ReadyAfterAcks    int      `json:"readyAfterAcks"`
	ServerNamedQueue  bool     `json:"serverNamedQueue"`
	TopicQueued       int      `json:"topicQueued"`
	TopicRouted       []string `json:"topicRouted"`
	RPCReplies        []string `json:"rpcReplies"`
	RPCReplyTo        bool     `json:"rpcReplyTo"`
	NotFound          struct {
		Code         int    `json:"code"`
		ClassID      int    `json:"classId"`
		MethodID     int    `json:"methodId"`
		Message      string `json:"message"`
		ChannelError string `json:"channelError"`
	} `json:"notFound"`
	ConnectionUsable bool `json:"connectionUsable"`
}

// TestAmqplibConfirmConsumeRPC runs Node's amqplib (e2e/node/rpc_confirm.js)
// through what Node services rely on: a confirm channel, a prefetch-limited
// consumer with manual acks checking bodies, order and properties, a topic
// exchange, RPC over direct reply-to, and a 404 on a passive declare.
// Without node and npm the test skips, or fails under CI.
func TestAmqplibConfirmConsumeRPC(t *testing.T) {
	t.Parallel()
	url := brokerURLOrSkip(t)
	requireNode(t)
	const n, prefetch = 200, 10
	prefix := name(t, "")
	t.Cleanup(func() {
		deleteQueue(prefix + ".work")
		deleteQueue(prefix + ".rpc")
		deleteExchange(prefix + ".topic")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "rpc_confirm.js", url, prefix, fmt.Sprint(n))
	cmd.Dir = nodeDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var got amqplibResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
		t.Fatalf("amqplib client (%v) printed no JSON result: %v\nstdout: %s\nstderr: %s", runErr, err, stdout.Bytes(), stderr.Bytes())
	}
	t.Logf("amqplib client: %s", bytes.TrimSpace(stdout.Bytes()))
	if !got.OK || runErr != nil {
		t.Fatalf("amqplib client failed (%v): %s\nstderr: %s", runErr, got.Error, stderr.Bytes())
	}

	// Publisher confirms: every message acked, none nacked, all enqueued.
	if got.Published != n || got.Acked != n || got.Nacked != 0 || got.ReadyAfterPublish != n {
		t.Errorf("confirms: published %d, acked %d, nacked %d, ready %d; want %d acked, 0 nacked, %d ready",
			got.Published, got.Acked, got.Nacked, got.ReadyAfterPublish, n, n)
	}
	// The consumer checked body, order and properties of each delivery.
	if got.Consumed != n {
		t.Errorf("consumed %d messages, want %d", got.Consumed, n)
	}
	if got.MaxUnacked != prefetch || got.ReadyAtFullWindow != n-prefetch {
		t.Errorf("prefetch %d: at most %d unacked at once with %d ready at the first full window; want %d and %d",
			prefetch, got.MaxUnacked, got.ReadyAtFullWindow, prefetch, n-prefetch)
	}
	if got.ReadyAfterAcks != 0 {
		t.Errorf("%d messages ready after acking all and closing the channel, want 0", got.ReadyAfterAcks)
	}
	// Topic: stock.*.nyse and news.# match three of six keys, in order.
	if !got.ServerNamedQueue {
		t.Errorf("server-named queue does not start with amq.gen-")
	}
	wantRouted := []string{"stock.ibm.nyse", "news", "news.tech.ai"}
	if got.TopicQueued != len(wantRouted) || !reflect.DeepEqual(got.TopicRouted, wantRouted) {
		t.Errorf("topic: %d queued, routed %q; want %q", got.TopicQueued, got.TopicRouted, wantRouted)
	}
	// Direct reply-to.
	if want := []string{"PING", "HELLO", "WARREN"}; !reflect.DeepEqual(got.RPCReplies, want) {
		t.Errorf("RPC replies = %q, want %q", got.RPCReplies, want)
	}
	if !got.RPCReplyTo {
		t.Errorf("the RPC server saw a replyTo other than one amq.rabbitmq.reply-to.* name")
	}
	// The error path, as amqplib reports it.
	text := fmt.Sprintf("NOT_FOUND - no queue '%s.missing' in vhost '/'", prefix)
	nf := got.NotFound
	if want := fmt.Sprintf("Operation failed: QueueDeclare; 404 (NOT-FOUND) with message %q", text); nf.Code != codeNotFound ||
		nf.ClassID != 50 || nf.MethodID != 10 || nf.Message != want {
		t.Errorf("passive declare of a missing queue: %d (class %d method %d) %q; want 404 (50, 10) %q",
			nf.Code, nf.ClassID, nf.MethodID, nf.Message, want)
	}
	if want := fmt.Sprintf("Channel closed by server: 404 (NOT-FOUND) with message %q", text); nf.ChannelError != want {
		t.Errorf("channel error event = %q, want %q", nf.ChannelError, want)
	}
	if !got.ConnectionUsable {
		t.Errorf("connection not usable after the channel exception")
	}
}
