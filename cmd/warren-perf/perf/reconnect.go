package perf

import (
	"fmt"
	"time"
)

// Reconnection (Config.Reconnect): each producer and consumer has a list
// of URLs (its role's --publish-url or --consume-url, else --uri) and
// starts on the one its id picks, as the rest of the tool spreads
// connections. When it loses its connection it closes what is left of
// it and dials the next URL of the list, then the one after, until one
// answers: a client of a killed cluster node moves to a survivor, a
// client of a single restarted node comes back to it.

// urlRing is a client's URLs and the one it uses.
type urlRing struct {
	urls []string
	i    int
}

// newURLRing starts on the id-th URL, taken in turn.
func newURLRing(urls []string, id int) urlRing {
	return urlRing{urls: urls, i: id % len(urls)}
}

// current returns the URL in use.
func (u *urlRing) current() string { return u.urls[u.i] }

// advance moves to the next URL and returns it.
func (u *urlRing) advance() string {
	u.i = (u.i + 1) % len(u.urls)
	return u.urls[u.i]
}

// reconnectPause is the wait between two failed connection attempts.
const reconnectPause = 100 * time.Millisecond

// reconnectLoop dials the next URLs of ring in turn with connect until
// one answers. It gives up, as an anomaly, when the run stops or no URL
// answers within the drain timeout.
func reconnectLoop[T any](r *run, name string, ring *urlRing, connect func(string) (T, error)) (T, string, bool) {
	var zero T
	giveUp := time.NewTimer(r.cfg.DrainTimeout)
	defer giveUp.Stop()
	var last error
	for {
		uri := ring.advance()
		v, err := connect(uri)
		if err == nil {
			return v, uri, true
		}
		last = err
		select {
		case <-r.stopCtx.Done():
			return zero, "", false
		case <-giveUp.C:
			r.anomalies.add("reconnect-failed", 1, fmt.Sprintf("%s: no URL answered within %v: %v", name, r.cfg.DrainTimeout, last))
			return zero, "", false
		case <-time.After(reconnectPause):
		}
	}
}
