package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Target is one broker the suite measures.
type Target struct {
	// Label names the broker in the table and charts.
	Label string
	// URI is its AMQP URL.
	URI string
	// PID is its process id for /proc sampling; zero disables it.
	PID int
}

// Suite runs the standard scenarios against one broker, or two in
// alternation, and writes the results folder.
type Suite struct {
	// Ours is the broker under test.
	Ours Target
	// Theirs is the broker to compare with; an empty URI runs Ours alone.
	Theirs Target
	// Out is the folder for results.md, results.json and the SVG charts.
	Out string
	// Duration is each scenario's measured window.
	Duration time.Duration
	// DrainTimeout is each scenario's drain timeout.
	DrainTimeout time.Duration
	// IdleConnections is the connection count of the idle-connections scenario.
	IdleConnections int
	// Only, when set, restricts the suite to these scenario names.
	Only []string
	// Command is the command line recorded in results.md.
	Command string

	// loadBefore and loadAfter are the machine's load averages around the
	// run, recorded because a busy machine skews every figure.
	loadBefore, loadAfter string
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "" off Linux.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// DefaultSuite returns a suite of ten-second scenarios against a broker on
// the default port, writing into ./perf-results.
func DefaultSuite() Suite {
	return Suite{
		Ours:            Target{Label: "ours", URI: "amqp://guest:guest@127.0.0.1:5672/"},
		Theirs:          Target{Label: "theirs"},
		Out:             "perf-results",
		Duration:        10 * time.Second,
		DrainTimeout:    10 * time.Second,
		IdleConnections: 1000,
	}
}

// Measures, the headline figure of a scenario.
const (
	// MeasureConsumed is deliveries a second.
	MeasureConsumed = "consumed msg/s"
	// MeasureConfirmed is publisher confirms a second.
	MeasureConfirmed = "confirmed msg/s"
	// MeasureLatency is median end-to-end latency in microseconds.
	MeasureLatency = "p50 latency µs"
	// MeasureRSSPerConn is broker RSS growth per idle connection in KiB.
	MeasureRSSPerConn = "RSS KiB/conn"
)

// SuiteMaxInFlight bounds each producer's unconsumed messages in the
// suite's scenarios, so that throughput is what a broker sustains with short
// queues rather than how fast it can buffer, and every run drains quickly.
const SuiteMaxInFlight = 10_000

// Scenario is one standard scenario: a name, the figure it is judged by
// and how it changes the default config.
type Scenario struct {
	// Name is the scenario's file-safe name.
	Name string
	// Title describes it in the table.
	Title string
	// Measure is its headline figure.
	Measure string
	// Configure adjusts a DefaultConfig for the scenario.
	Configure func(c *Config)
}

// Scenarios returns the standard scenarios; idle is the connection count
// of the idle-connections one.
func Scenarios(idle int) []Scenario {
	return []Scenario{
		{"transient-16b", "transient, 1→1, manual ack, prefetch 1000, 16 B", MeasureConsumed,
			func(c *Config) { c.Size = 16 }},
		{"transient-1kib", "transient, 1→1, manual ack, prefetch 1000, 1 KiB", MeasureConsumed,
			func(c *Config) { c.Size = 1024 }},
		{"persistent-confirm-16b", "persistent, durable queue, confirms (window 1000), 16 B", MeasureConfirmed,
			func(c *Config) { c.Size, c.Persistent, c.ConfirmWindow = 16, true, 1000 }},
		{"persistent-confirm-1kib", "persistent, durable queue, confirms (window 1000), 1 KiB", MeasureConfirmed,
			func(c *Config) { c.Size, c.Persistent, c.ConfirmWindow = 1024, true, 1000 }},
		{"quorum-confirm-1kib", "quorum queue, persistent, confirms (window 1000), 1 KiB", MeasureConfirmed,
			func(c *Config) {
				c.Size, c.Persistent, c.ConfirmWindow = 1024, true, 1000
				c.QueueArgs = map[string]any{"x-queue-type": "quorum"}
			}},
		{"fanout-10", "fanout exchange to 10 queues, 1 consumer each, 16 B", MeasureConsumed,
			func(c *Config) { c.ExchangeType, c.Queues = ExchangeFanout, 10 }},
		{"topic-1000-bindings", "topic exchange, 10 queues × 100 bindings (* and #), 16 B", MeasureConsumed,
			func(c *Config) { c.ExchangeType, c.Queues, c.BindingsPerQueue = ExchangeTopic, 10, 100 }},
		{"one-in-flight", "one message in flight, 1→1, 16 B (latency)", MeasureLatency,
			func(c *Config) { c.MaxInFlight, c.Prefetch = 1, 1 }},
		{fmt.Sprintf("idle-connections-%d", idle), fmt.Sprintf("%d idle connections, one channel each", idle), MeasureRSSPerConn,
			func(c *Config) { c.Producers, c.Consumers, c.Queues, c.IdleConnections = 0, 0, 0, idle }},
	}
}

// ScenarioNames lists the standard scenarios' names.
func ScenarioNames() []string {
	var names []string
	for _, s := range Scenarios(1000) {
		names = append(names, s.Name)
	}
	return names
}

// Row is one scenario's results on both brokers.
type Row struct {
	// Scenario is the scenario run.
	Scenario Scenario
	// Ours is the result on the broker under test.
	Ours *Result
	// Theirs is the result on the compared broker, nil when there is none.
	Theirs *Result
}

// Run runs the scenarios, alternating which broker goes first, and writes
// results.md, results.json and one SVG per scenario into Out. live receives
// the progress lines.
func (s *Suite) Run(ctx context.Context, live io.Writer) ([]*Result, error) {
	if s.Ours.URI == "" || s.Out == "" {
		return nil, errors.New("the suite needs --uri and --out")
	}
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return nil, err
	}
	scenarios := Scenarios(s.IdleConnections)
	if len(s.Only) > 0 {
		var picked []Scenario
		for _, sc := range scenarios {
			if slices.Contains(s.Only, sc.Name) {
				picked = append(picked, sc)
			}
		}
		if len(picked) == 0 {
			return nil, fmt.Errorf("no scenario named %s; have %s", strings.Join(s.Only, ", "), strings.Join(ScenarioNames(), ", "))
		}
		scenarios = picked
	}
	compare := s.Theirs.URI != ""
	s.loadBefore = loadAverage()
	var rows []Row
	var all []*Result
	for i, sc := range scenarios {
		row := Row{Scenario: sc}
		order := []*Target{&s.Ours}
		if compare {
			order = append(order, &s.Theirs)
			if i%2 == 1 {
				// Alternate who goes first, so neither always inherits a
				// warm (or tired) machine.
				order[0], order[1] = order[1], order[0]
			}
		}
		for _, t := range order {
			if ctx.Err() != nil {
				break
			}
			if live != nil {
				fmt.Fprintf(live, "-- %s on %s\n", sc.Name, t.Label)
			}
			res := s.runOne(ctx, sc, t, live)
			if t == &s.Ours {
				row.Ours = res
			} else {
				row.Theirs = res
			}
			all = append(all, res)
		}
		if row.Ours == nil || (compare && row.Theirs == nil) {
			break // interrupted
		}
		rows = append(rows, row)
		if err := s.writeChart(row); err != nil {
			return all, err
		}
	}
	s.loadAfter = loadAverage()
	if err := s.writeTable(rows); err != nil {
		return all, err
	}
	f, err := os.Create(filepath.Join(s.Out, "results.json"))
	if err != nil {
		return all, err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(all); err != nil {
		f.Close()
		return all, err
	}
	return all, f.Close()
}

// runOne runs one scenario on one broker; a config error becomes a failed
// result so the suite goes on.
func (s *Suite) runOne(ctx context.Context, sc Scenario, t *Target, live io.Writer) *Result {
	c := DefaultConfig()
	c.Name = sc.Name
	c.URIs = []string{t.URI}
	c.Duration = s.Duration
	c.DrainTimeout = s.DrainTimeout
	c.BrokerPID = t.PID
	sc.Configure(&c)
	if c.MaxInFlight == 0 && c.Producers > 0 && c.Consumers > 0 && c.Queues > 0 {
		c.MaxInFlight = SuiteMaxInFlight
	}
	res, err := Run(ctx, c, live)
	if err != nil {
		res = &Result{Scenario: sc.Name, Brokers: []string{RedactURI(t.URI)}, Status: StatusFailed, Reason: err.Error()}
	}
	return res
}

// writeTable writes results.md.
func (s *Suite) writeTable(rows []Row) error {
	f, err := os.Create(filepath.Join(s.Out, "results.md"))
	if err != nil {
		return err
	}
	if err := WriteMarkdown(f, s, rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeChart writes DIR/<scenario>.svg: throughput over the window for each
// broker, or broker RSS for the idle-connections scenario.
func (s *Suite) writeChart(row Row) error {
	f, err := os.Create(filepath.Join(s.Out, row.Scenario.Name+".svg"))
	if err != nil {
		return err
	}
	chart := chartFor(row, s.Ours.Label, s.Theirs.Label)
	if err := WriteSVG(f, chart); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// chartFor picks the series a scenario's chart shows.
func chartFor(row Row, ours, theirs string) Chart {
	c := Chart{Title: row.Scenario.Name + ": " + row.Scenario.Title, XLabel: "seconds into the window"}
	pick := func(p Point) float64 { return p.Consumed }
	c.YLabel = "deliveries/s"
	switch row.Scenario.Measure {
	case MeasureConfirmed:
		pick, c.YLabel = func(p Point) float64 { return p.Confirmed }, "confirms/s"
	case MeasureRSSPerConn:
		pick, c.YLabel = func(p Point) float64 { return float64(p.RSS) / (1 << 20) }, "broker RSS (MiB)"
	case MeasureLatency:
		c.YLabel = "round trips/s"
	}
	add := func(label, color string, r *Result) {
		if r == nil {
			return
		}
		if r.Status == StatusUnsupported {
			// A legend entry without a line says why it is missing.
			c.Series = append(c.Series, Series{Label: label + ": unsupported", Color: color})
			return
		}
		sr := Series{Label: label, Color: color}
		for _, p := range r.Timeline {
			sr.X = append(sr.X, p.Second)
			sr.Y = append(sr.Y, pick(p))
		}
		c.Series = append(c.Series, sr)
	}
	add(ours, "#d9480f", row.Ours)
	add(theirs, "#1971c2", row.Theirs)
	return c
}
