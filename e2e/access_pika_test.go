//go:build !e2e_nowarren

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// pikaOutcome is what e2e/pika/permissions.py expects of one case: nil
// when it is allowed, else the reply code and either the exact reply text
// or a regular expression (Python's re, matched in full) for it.
type pikaOutcome struct {
	Code  int    `json:"code"`
	Text  string `json:"text,omitempty"`
	Match string `json:"match,omitempty"`
}

// refusedBy is the outcome of a case refused with 403 and refusedText.
func refusedBy(perm, kind, name string) *pikaOutcome {
	return &pikaOutcome{Code: codeAccessRefused, Text: refusedText(perm, kind, name)}
}

// pikaPermissionCases are the cases of e2e/pika/permissions.py and what
// each must do against accessDefinitions: the rules of TestPermissions,
// TestPublishPermissions, TestVhostAccessRefused,
// TestServerNamedQueuePermission, TestVhostLimits and TestUserLimits, each
// allowed and refused, as pika reports them.
var pikaPermissionCases = map[string]*pikaOutcome{
	"connection.open shop as app":              nil,
	"connection.open shop without permissions": {Code: codeNotAllowed, Text: "NOT_ALLOWED - access to vhost 'shop' refused for user 'nohost'"},
	"connection.open with a wrong password": {Code: codeAccessRefused,
		Text: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."},

	"exchange.declare app.*":               nil,
	"exchange.declare elsewhere":           refusedBy("configure", "exchange", "other.mine"),
	"exchange.declare passive with read":   nil,
	"exchange.declare passive without any": refusedBy("configure", "exchange", "other.x"),

	"queue.declare app.*":               nil,
	"queue.declare exclusive app.*":     nil,
	"queue.declare elsewhere":           refusedBy("configure", "queue", "other.mine"),
	"queue.declare passive app.*":       nil,
	"queue.declare passive without any": refusedBy("configure", "queue", "other.q"),
	"queue.declare server-named": {Code: codeAccessRefused,
		Match: `ACCESS_REFUSED - configure access to queue 'amq\.gen-[^']+' in vhost 'shop' refused for user 'app'`},
	"queue.delete app.*":     nil,
	"queue.delete elsewhere": refusedBy("configure", "queue", "other.q"),
	"queue.purge app.*":      nil,
	"queue.purge elsewhere":  refusedBy("read", "queue", "other.q"),

	"queue.bind app.q to app.x":                         nil,
	"queue.bind from an exchange not readable":          refusedBy("read", "exchange", "amq.direct"),
	"queue.bind a queue not writable":                   refusedBy("write", "queue", "other.q"),
	"queue.unbind app.q from app.x":                     nil,
	"queue.unbind a queue not writable":                 refusedBy("write", "queue", "other.q"),
	"exchange.bind app.mine to app.x":                   nil,
	"exchange.bind to a destination not writable":       refusedBy("write", "exchange", "other.x"),
	"exchange.bind from a source not readable":          refusedBy("read", "exchange", "amq.direct"),
	"exchange.delete app.*":                             nil,
	"exchange.delete elsewhere":                         refusedBy("configure", "exchange", "other.x"),
	"topic bind with a key of the vhost":                nil,
	"topic bind with another key":                       {Code: codeAccessRefused, Text: "ACCESS_REFUSED - read access to topic 'x.#' in exchange 'amq.topic' in vhost 'shop' refused for user 'app'"},
	"basic.consume app.q":                               nil,
	"basic.consume elsewhere":                           refusedBy("read", "queue", "other.q"),
	"basic.get app.q":                                   nil,
	"basic.get elsewhere":                               refusedBy("read", "queue", "other.q"),
	"basic.publish to the default exchange":             nil,
	"basic.publish to amq.topic with a key of the user": nil,
	"basic.publish to amq.topic with a key of another user": {Code: codeAccessRefused,
		Text: "ACCESS_REFUSED - write access to topic 'eve.orders' in exchange 'amq.topic' in vhost 'shop' refused for user 'app'"},
	"basic.publish to an exchange not writable":        refusedBy("write", "exchange", "amq.fanout"),
	"basic.publish to a missing exchange not writable": refusedBy("write", "exchange", "nowhere"),

	"vhost max-connections: the first": nil,
	"vhost max-connections: one more": {Code: codeNotAllowed,
		Text: "NOT_ALLOWED - access to vhost 'tiny' refused for user 'admin': connection limit (1) is reached"},
	"vhost max-queues: the first": nil,
	"vhost max-queues: one more": {Code: codePreconditionFail,
		Text: "PRECONDITION_FAILED - cannot declare queue 'q2': queue limit in vhost 'tiny' (1) is reached"},
	"vhost max-connections: once the first is closed": nil,

	"user max-connections: the first": nil,
	"user max-connections: one more": {Code: codeNotAllowed,
		Text: "NOT_ALLOWED - connection refused for user 'lim': user connection limit (1) is reached"},
	"user max-channels: two": nil,
	"user max-channels: one more": {Code: codeNotAllowed,
		Text: "NOT_ALLOWED - number of channels opened for user 'lim' has reached the maximum allowed user limit of 2"},
}

// TestPikaPermissions: a second client, pika, sees every permission rule,
// topic permission and limit as amqp091-go does: each case allowed or
// refused with RabbitMQ's reply code and text (e2e/pika/permissions.py).
func TestPikaPermissions(t *testing.T) {
	requirePika(t)
	addr, _ := accessBroker(t)
	expect, err := json.Marshal(pikaPermissionCases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, debianPython, "pika/permissions.py", host, port)
	cmd.Stdin = bytes.NewReader(expect)
	out, runErr := cmd.CombinedOutput()
	lines := pikaCaseLines(string(out))
	for _, name := range slices.Sorted(maps.Keys(pikaPermissionCases)) {
		t.Run(name, func(t *testing.T) {
			line, ok := lines[name]
			if !ok {
				t.Fatalf("no line for the case; pika printed:\n%s", out)
			}
			if !strings.HasPrefix(line, "ok\t") {
				t.Fatal(line)
			}
		})
	}
	if runErr != nil {
		t.Fatalf("pika client: %v\n%s", runErr, out)
	}
}

// pikaCaseLines maps each case that permissions.py reported to its line
// ("ok<TAB><case><TAB>..." or "FAIL<TAB><case><TAB>...").
func pikaCaseLines(out string) map[string]string {
	lines := make(map[string]string)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, "\t"); len(f) == 3 && (f[0] == "ok" || f[0] == "FAIL") {
			lines[f[1]] = line
		}
	}
	return lines
}

// requirePika skips the test when Debian's python3-pika is not installed,
// and fails it instead under CI.
func requirePika(t *testing.T) {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import pika").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
		}
		t.Skipf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
	}
}
