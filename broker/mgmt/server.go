package mgmt

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/mgmt/console"
)

// DefaultListen is where the API listens unless told otherwise:
// RabbitMQ's management port, on loopback like the default AMQP listener.
const DefaultListen = "127.0.0.1:15672"

// maxBody bounds a request body, as RabbitMQ's max_http_body_size
// (20 MiB by default).
const maxBody = 20 << 20

// requestTimeout bounds the work of one request (a definitions commit, a
// queue's counters).
const requestTimeout = 30 * time.Second

// Config configures a Server.
type Config struct {
	// Broker is the node the API serves.
	Broker Broker
	// Listen is the TCP address, such as DefaultListen or "127.0.0.1:0".
	Listen string
	// Logger receives the API's logs; nil means none.
	Logger *zap.Logger
	// StatsInterval is how often message rates are sampled (RabbitMQ's
	// collect_statistics_interval); 0 means DefaultStatsInterval. Tests
	// shorten it.
	StatsInterval time.Duration
}

// Server is the HTTP management API of one node.
type Server struct {
	b       Broker
	log     *zap.Logger
	rt      router
	hs      *http.Server
	console http.Handler
	stats   *sampler

	mu     sync.Mutex
	ln     net.Listener // the plain HTTP listener (Start)
	tlsLn  net.Listener // the HTTPS listener (StartTLS)
	closed bool
	serves sync.WaitGroup // the Serve goroutines, one per listener

	sampling bool // under mu: stats started (by the first listener)
}

// New returns a server for cfg; Start makes it listen.
func New(cfg Config) *Server {
	s := &Server{b: cfg.Broker, log: cfg.Logger, console: console.Handler()}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.stats = newSampler(s.b, s.log, cfg.StatsInterval)
	s.routes()
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	return s
}

// Start listens for HTTP on addr and serves in the background; the
// listener is bound when Start returns.
func (s *Server) Start(addr string) error {
	return s.listen(addr, nil)
}

// StartTLS listens for HTTPS on addr with conf (broker.ServerTLSConfig,
// RabbitMQ's management.ssl.*) and serves in the background, beside or
// instead of Start's listener; the listener is bound when StartTLS
// returns.
func (s *Server) StartTLS(addr string, conf *tls.Config) error {
	if conf == nil {
		return errors.New("mgmt: HTTPS without a TLS configuration")
	}
	return s.listen(addr, conf)
}

// listen binds addr, wrapped in TLS when conf is set, and serves it on a
// goroutine of its own.
func (s *Server) listen(addr string, conf *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	slot, what := &s.ln, "HTTP"
	if conf != nil {
		slot, what = &s.tlsLn, "HTTPS"
	}
	if s.closed || *slot != nil {
		s.mu.Unlock()
		ln.Close()
		return errors.New("mgmt: server already started or closed")
	}
	*slot = ln
	s.serves.Add(1)
	if !s.sampling {
		s.sampling = true
		s.stats.start()
	}
	s.mu.Unlock()
	s.log.Info("listening for management API clients", zap.String("protocol", what), zap.String("addr", ln.Addr().String()))
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	go func() {
		defer s.serves.Done()
		if err := s.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("management API listener stopped", zap.String("protocol", what), zap.Error(err))
		}
	}()
	return nil
}

// Addr returns the HTTP listener's address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// TLSAddr returns the HTTPS listener's address, or nil before StartTLS.
func (s *Server) TLSAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr()
}

// Close stops listening, ends the requests under way (waiting up to five
// seconds for them) and returns once every goroutine of the server has
// ended.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.hs.Shutdown(ctx)
	if err != nil {
		err = s.hs.Close()
	}
	s.serves.Wait()
	s.stats.close()
	return err
}

// ServeHTTP serves the web console outside /api/ (as RabbitMQ serves its
// UI at /), and under /api/ routes a request, checks who sends it and
// runs its handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != "/api" && !strings.HasPrefix(p, "/api/") {
		s.console.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("X-Requested-With") == "XMLHttpRequest" {
		w = noChallenge{w}
	}
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		writeError(w, notFound())
		return
	}
	h, vals, allowed := s.rt.match(r.Method, segs)
	if h == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", joinMethods(allowed))
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		writeError(w, notFound())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	r = r.WithContext(context.WithValue(ctx, pathKey{}, vals))
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	h.ServeHTTP(w, r)
}

type pathKey struct{}

func joinMethods(ms []string) string {
	out := ""
	for i, m := range ms {
		if i > 0 {
			out += ", "
		}
		out += m
	}
	return out
}

// noChallenge drops the basic-auth challenge from the answers to a
// script's requests (X-Requested-With: XMLHttpRequest, which the console
// sends), so that a browser shows the console's own "Login failed"
// rather than its login dialog.
type noChallenge struct{ http.ResponseWriter }

// WriteHeader sends the status without WWW-Authenticate.
func (w noChallenge) WriteHeader(status int) {
	w.Header().Del("WWW-Authenticate")
	w.ResponseWriter.WriteHeader(status)
}
