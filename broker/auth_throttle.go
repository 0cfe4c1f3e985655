package broker

import (
	"net"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
)

// A client retrying bad credentials in a loop must neither flood the log
// nor have the broker refuse it as fast as it can ask. Failed logins are
// tracked per source address (loginFailures): the first failure from a
// source is logged in full, later ones at Debug only, counted and summed up
// by the server's clock in one line per source at most every
// loginLogInterval. The refusal to a source that keeps failing is sent after
// a delay that doubles with its recent failures, up to loginDelayMax. The
// delay runs on the failing connection's own read loop, so it holds up
// neither the accept loop nor any other connection, ends early when the
// server closes, and a successful login is never delayed.

const (
	// loginLogInterval is the shortest time between two log lines about
	// the failed logins of one source.
	loginLogInterval = 10 * time.Second
	// loginForget is how long a source must stay quiet to start afresh:
	// no delay, and its next failure logged in full.
	loginForget = time.Minute
	// loginFreeFailures is how many failures in a row a source is refused
	// without delay: a mistyped password costs nothing.
	loginFreeFailures = 2
	// loginDelayBase is the delay of the first delayed refusal; each
	// further failure doubles it, up to loginDelayMax.
	loginDelayBase = 100 * time.Millisecond
	loginDelayMax  = 2 * time.Second
	// loginMaxSources bounds the sources tracked at once; a new source
	// past it replaces the one quiet the longest.
	loginMaxSources = 4096
	// loginMaxUsers bounds the user names kept per source for its summary,
	// loginMaxUserLen the bytes kept of each.
	loginMaxUsers   = 8
	loginMaxUserLen = 64
)

// loginFailures tracks the failed logins of each source address. It is
// safe for concurrent use.
type loginFailures struct {
	mu      sync.Mutex
	sources map[string]*loginSource
}

// loginSource is the failed-login record of one address.
type loginSource struct {
	fails    int       // failures since the source was last quiet for loginForget
	last     time.Time // the latest failure
	logged   time.Time // the latest log line about the source
	unlogged int       // failures since then, not yet logged
	users    []string  // distinct user names of those, at most loginMaxUsers
}

// loginSummary is the log line owed for a source's unlogged failures.
type loginSummary struct {
	source   string
	failures int
	users    []string
	period   time.Duration // since the previous line about the source
}

func newLoginFailures() *loginFailures {
	return &loginFailures{sources: make(map[string]*loginSource)}
}

// failed records a failed login from source as user at now. It returns how
// long to wait before refusing it, and whether to log it in full (the first
// failure of the source in a while); the others go into the source's next
// summary.
func (l *loginFailures) failed(source, user string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	src := l.sources[source]
	if src == nil {
		if len(l.sources) >= loginMaxSources {
			l.evictQuietest()
		}
		src = &loginSource{}
		l.sources[source] = src
	}
	if now.Sub(src.last) >= loginForget {
		src.fails = 0
	}
	src.fails++
	src.last = now
	if src.fails == 1 && src.unlogged == 0 {
		src.logged = now
		return 0, true
	}
	src.unlogged++
	if len(user) > loginMaxUserLen {
		user = user[:loginMaxUserLen]
	}
	if len(src.users) < loginMaxUsers && !slices.Contains(src.users, user) {
		src.users = append(src.users, user)
	}
	return loginDelay(src.fails), false
}

// evictQuietest forgets the source whose latest failure is the oldest.
func (l *loginFailures) evictQuietest() {
	var oldest string
	var at time.Time
	for addr, src := range l.sources {
		if oldest == "" || src.last.Before(at) {
			oldest, at = addr, src.last
		}
	}
	delete(l.sources, oldest)
}

// loginDelay is the wait before refusing the n-th failure in a row.
func loginDelay(n int) time.Duration {
	if n <= loginFreeFailures {
		return 0
	}
	d := loginDelayBase
	for i := loginFreeFailures + 1; i < n && d < loginDelayMax; i++ {
		d *= 2
	}
	return min(d, loginDelayMax)
}

// flush returns a summary for each source whose failures have not been
// logged for loginLogInterval, and forgets the sources quiet for
// loginForget.
func (l *loginFailures) flush(now time.Time) []loginSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loginSummary
	for addr, src := range l.sources {
		if src.unlogged > 0 && now.Sub(src.logged) >= loginLogInterval {
			slices.Sort(src.users)
			out = append(out, loginSummary{source: addr, failures: src.unlogged, users: src.users, period: now.Sub(src.logged)})
			src.logged, src.unlogged, src.users = now, 0, nil
		}
		if src.unlogged == 0 && now.Sub(src.last) >= loginForget {
			delete(l.sources, addr)
		}
	}
	return out
}

// logLoginFailures logs the summaries of failed logins that are due. The
// server's clock calls it every second.
func (s *Server) logLoginFailures(now time.Time) {
	for _, sum := range s.logins.flush(now) {
		s.log.Warn("repeated failed logins", zap.String("source", sum.source), zap.Int("failures", sum.failures),
			zap.Duration("period", sum.period.Round(time.Second)), zap.Strings("users", sum.users))
	}
}

// sourceAddr is the address failed logins are counted by: the peer's IP.
func sourceAddr(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return a.String()
}

// refuseLogin ends a connection whose login failed. It logs the failure
// (see loginFailures), waits the source's delay, and then, as RabbitMQ
// does, sends 403 ACCESS_REFUSED to a client with the
// authentication_failure_close capability; others see the socket close.
func (c *conn) refuseLogin(mechanism, user, reason string) error {
	delay, full := c.srv.logins.failed(sourceAddr(c.nc.RemoteAddr()), user, time.Now())
	fields := []zap.Field{zap.String("mechanism", mechanism), zap.String("user", user), zap.String("reason", reason)}
	if full {
		c.log.Error("authentication failed", fields...)
	} else {
		c.log.Debug("authentication failed", fields...)
	}
	if delay > 0 && !c.srv.waitOrStop(delay) {
		return errConnDone
	}
	if v, _ := c.capabilities["authentication_failure_close"].(bool); v {
		e := protocol.NewError(protocol.AccessRefused,
			"Login was refused using authentication mechanism %s. For details see the broker logfile.", mechanism)
		// Not closeWith, whose warning would log every refusal again.
		c.closeSent.Store(true)
		c.sendMethod(0, e.ConnectionClose())
		c.endBatch()
	}
	return errConnDone
}

// waitOrStop waits for d, or less if the server closes meanwhile; it
// reports whether the whole of d passed.
func (s *Server) waitOrStop(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}
