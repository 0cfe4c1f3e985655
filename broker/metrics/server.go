package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// DefaultListen is where the endpoint listens unless told otherwise:
// rabbitmq_prometheus's port 15692, on loopback like the default AMQP
// listener.
const DefaultListen = "127.0.0.1:15692"

// scrapeTimeout bounds the reading of one scrape.
const scrapeTimeout = 30 * time.Second

// Broker is what the endpoint reads of a node: *broker.Server's exported
// listing API. The broker does not know this package.
type Broker interface {
	NodeName() string
	ClusterName() string
	Totals() broker.Totals
	LocalQueues(ctx context.Context) []broker.QueueInfo
	Vhosts() []string
	Exchanges(vhost string) []broker.ExchangeInfo
	Bindings(vhost string) []broker.BindingInfo
	Connections() []broker.ConnectionInfo
	Channels() []broker.ChannelInfo
	Consumers() []broker.ConsumerInfo
	Alarms() (local, all []string)
	MemoryHighWatermark() int64
	DiskFreeLimit() int64
	DiskFree() (uint64, error)
}

var _ Broker = (*broker.Server)(nil)

// Config configures a Server.
type Config struct {
	// Broker is the node whose metrics are served.
	Broker Broker
	// Logger receives the server's logs; nil means none.
	Logger *zap.Logger
}

// Server serves a node's metrics in Prometheus's text format, as
// RabbitMQ's rabbitmq_prometheus plugin does: /metrics, /metrics/per-object
// and /metrics/detailed.
type Server struct {
	b   Broker
	log *zap.Logger
	hs  *http.Server

	mu     sync.Mutex
	ln     net.Listener
	closed bool
	done   chan struct{} // closed when the serve goroutine returns
}

// New returns a server for cfg; Start makes it listen.
func New(cfg Config) *Server {
	s := &Server{b: cfg.Broker, log: cfg.Logger}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.serveAggregated)
	mux.HandleFunc("GET /metrics/per-object", s.servePerObject)
	mux.HandleFunc("GET /metrics/detailed", s.serveDetailed)
	s.hs = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	return s
}

// Start listens on addr and serves in the background; the listener is
// bound when Start returns.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed || s.ln != nil {
		s.mu.Unlock()
		ln.Close()
		return errors.New("metrics: server already started or closed")
	}
	s.ln, s.done = ln, make(chan struct{})
	s.mu.Unlock()
	s.log.Info("listening for Prometheus scrapes", zap.String("addr", ln.Addr().String()))
	go func() {
		defer close(s.done)
		if err := s.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("Prometheus listener stopped", zap.Error(err))
		}
	}()
	return nil
}

// Addr returns the listener's address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops listening, ends the scrapes under way (waiting up to five
// seconds for them) and returns once every goroutine of the server has
// ended.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	done := s.done
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.hs.Shutdown(ctx)
	if err != nil {
		err = s.hs.Close()
	}
	if done != nil {
		<-done
	}
	return err
}

func (s *Server) serveAggregated(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, &collector{b: s.b, ep: aggregated})
}

func (s *Server) servePerObject(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, &collector{b: s.b, ep: perObject})
}

// serveDetailed serves /metrics/detailed: the families named by family=
// (repeated), of the vhosts named by vhost= (repeated; those that do not
// exist are left out, none means every one) and the queues whose names
// match the regular expression queue=.
func (s *Server) serveDetailed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := &collector{b: s.b, ep: detailed, families: map[string]bool{}}
	for _, f := range q["family"] {
		c.families[f] = true
	}
	if vs, ok := q["vhost"]; ok {
		c.vhosts = map[string]bool{}
		known := s.b.Vhosts()
		for _, v := range vs {
			if slices.Contains(known, v) {
				c.vhosts[v] = true
			}
		}
	}
	if expr := q.Get("queue"); expr != "" {
		re, err := regexp.Compile(expr)
		if err != nil {
			http.Error(w, "invalid queue filter: "+err.Error(), http.StatusBadRequest)
			return
		}
		c.queue = re
	}
	s.serve(w, r, c)
}

// serve answers a scrape with what c collects, in the format the
// scraper asks for (the text format by default).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, c *collector) {
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
	defer cancel()
	c.ctx = ctx
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError,
		ErrorLog: zap.NewStdLog(s.log)}).ServeHTTP(w, r)
}
