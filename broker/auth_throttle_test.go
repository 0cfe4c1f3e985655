package broker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestLoginDelayGrowsPerSource: a source's refusals are delayed more with
// each failure in a row, up to the cap, while another source's first
// failure is not delayed, and a source quiet for loginForget starts
// afresh.
func TestLoginDelayGrowsPerSource(t *testing.T) {
	l := newLoginFailures()
	t0 := time.Unix(1_700_000_000, 0)
	ms := time.Millisecond
	want := []time.Duration{0, 0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 2000 * ms, 2000 * ms}
	for i, w := range want {
		got, full := l.failed("10.0.0.1", "guest", t0.Add(time.Duration(i)*time.Second))
		if got != w || full != (i == 0) {
			t.Fatalf("failure %d: delay %v, logged in full %v; want %v, %v", i+1, got, full, w, i == 0)
		}
	}
	for _, other := range []string{"10.0.0.2", "2001:db8::1"} {
		if d, full := l.failed(other, "guest", t0.Add(10*time.Second)); d != 0 || !full {
			t.Fatalf("first failure from %s: delay %v, logged in full %v; want 0, true", other, d, full)
		}
	}
	if d, _ := l.failed("10.0.0.1", "guest", t0.Add(11*time.Second)); d != loginDelayMax {
		t.Fatalf("next failure from the failing source: delay %v, want %v", d, loginDelayMax)
	}
	// Quiet long enough, and its last failures reported: a fresh start.
	later := t0.Add(11*time.Second + loginForget)
	l.flush(later)
	if d, full := l.failed("10.0.0.1", "guest", later); d != 0 || !full {
		t.Fatalf("failure after a quiet minute: delay %v, logged in full %v; want 0, true", d, full)
	}
}

// TestLoginFailureSummaries: after the first failure of a source (logged
// in full), its failures are reported at most once per loginLogInterval,
// with their count and the user names tried (bounded and truncated).
func TestLoginFailureSummaries(t *testing.T) {
	l := newLoginFailures()
	t0 := time.Unix(1_700_000_000, 0)
	l.failed("10.0.0.1", "first", t0)
	long := strings.Repeat("u", 200)
	users := []string{"guest", "admin", long, "guest"}
	for i := range 20 {
		l.failed("10.0.0.1", users[i%len(users)], t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	for i := range 12 {
		l.failed("10.0.0.3", fmt.Sprintf("user-%02d", i), t0)
	}
	if got := l.flush(t0.Add(loginLogInterval - time.Second)); len(got) != 0 {
		t.Fatalf("summaries before the interval passed: %+v", got)
	}
	got := l.flush(t0.Add(loginLogInterval))
	slices.SortFunc(got, func(a, b loginSummary) int { return strings.Compare(a.source, b.source) })
	if len(got) != 2 {
		t.Fatalf("%d summaries, want 2: %+v", len(got), got)
	}
	a, b := got[0], got[1]
	if a.source != "10.0.0.1" || a.failures != 20 || a.period != loginLogInterval ||
		!slices.Equal(a.users, []string{"admin", "guest", long[:loginMaxUserLen]}) {
		t.Fatalf("summary %+v", a)
	}
	if b.source != "10.0.0.3" || b.failures != 11 || len(b.users) != loginMaxUsers {
		t.Fatalf("summary %+v: want 11 failures (the first logged in full) and %d users", b, loginMaxUsers)
	}
	if got := l.flush(t0.Add(2 * loginLogInterval)); len(got) != 0 {
		t.Fatalf("summaries with nothing new: %+v", got)
	}
	l.flush(t0.Add(loginLogInterval + loginForget))
	if n := len(l.sources); n != 0 {
		t.Fatalf("%d sources still tracked after a quiet minute", n)
	}
}

// TestLoginFailuresBounded: however many addresses fail, the tracker
// keeps at most loginMaxSources, dropping the one quiet the longest.
func TestLoginFailuresBounded(t *testing.T) {
	l := newLoginFailures()
	t0 := time.Unix(1_700_000_000, 0)
	for i := range loginMaxSources + 100 {
		l.failed(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "u", t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(l.sources); n != loginMaxSources {
		t.Fatalf("%d sources tracked, want %d", n, loginMaxSources)
	}
	if _, ok := l.sources["10.0.0.0"]; ok {
		t.Fatal("the oldest source was kept")
	}
	last := loginMaxSources + 99
	if _, ok := l.sources[fmt.Sprintf("10.%d.%d.%d", last>>16&255, last>>8&255, last&255)]; !ok {
		t.Fatal("the newest source was dropped")
	}
}

// failures returns how many failures in a row the tracker holds for
// source.
func (l *loginFailures) failures(source string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if src := l.sources[source]; src != nil {
		return src.fails
	}
	return 0
}

// TestLoginStorm: 300 failed logins from one address leave one full log
// line and, per interval, one summary line; the refusals are delayed more
// and more, while a correct login during the storm is not delayed.
func TestLoginStorm(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	s := startServer(t, func(c *Config) { c.Logger = zap.New(core) })
	addr := s.Addr().String()
	logs.TakeAll() // start-up lines
	failLogin := func(user string) time.Duration {
		start := time.Now()
		_, err := amqp.Dial("amqp://" + user + ":wrong@" + addr + "/")
		if !errors.Is(err, amqp.ErrCredentials) {
			t.Errorf("login with a wrong password: %v, want refused credentials", err)
		}
		return time.Since(start)
	}
	if d := failLogin("guest"); d > time.Second {
		t.Fatalf("the first failed login took %v: a single mistake must not be delayed", d)
	}

	const storm = 300
	var wg sync.WaitGroup
	for i := range storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failLogin([]string{"guest", "nobody"}[i%2])
		}()
	}
	eventually(t, "the storm's failures counted", func() bool { return s.logins.failures("127.0.0.1") == storm+1 })
	// The storm's refusals now wait loginDelayMax; a correct login does not.
	start := time.Now()
	c, err := amqp.Dial(url(s))
	if err != nil {
		t.Fatalf("correct login during the storm: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("correct login during the storm took %v", d)
	}
	c.Close()
	wg.Wait()
	if d := failLogin("guest"); d < loginDelayMax {
		t.Errorf("a failed login after the storm was refused after %v, want at least %v", d, loginDelayMax)
	}

	s.logLoginFailures(time.Now().Add(loginLogInterval))
	full, summed, summaries := 0, 0, 0
	for _, e := range logs.All() {
		switch e.Message {
		case "authentication failed":
			full++
		case "repeated failed logins":
			summaries++
			f := e.ContextMap()
			summed += int(f["failures"].(int64))
			if f["source"] != "127.0.0.1" || !slices.Equal(f["users"].([]any), []any{"guest", "nobody"}) {
				t.Errorf("summary %v", f)
			}
		case "connection opened", "connection closed": // the correct login
		default:
			t.Errorf("unexpected log line %q %v", e.Message, e.ContextMap())
		}
		if strings.Contains(fmt.Sprint(e.ContextMap()), "wrong") {
			t.Errorf("a password was logged: %v", e.ContextMap())
		}
	}
	if full != 1 || summaries == 0 || summaries > 2 || summed != storm+1 {
		t.Fatalf("%d full lines and %d summaries of %d failures; want 1 full line and 1 or 2 summaries of %d",
			full, summaries, summed, storm+1)
	}
}
