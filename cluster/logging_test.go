package cluster

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestStdLoggerLevels(t *testing.T) {
	for _, tc := range []struct {
		line  string
		level zapcore.Level
		msg   string
	}{
		{"[ERR] memberlist: Failed to send ping\n", zapcore.WarnLevel, "memberlist: Failed to send ping"},
		{"[WARN] yamux: frame for missing stream", zapcore.WarnLevel, "yamux: frame for missing stream"},
		{"[INFO] memberlist: Marking n2 as failed\n", zapcore.InfoLevel, "memberlist: Marking n2 as failed"},
		{"[DEBUG] memberlist: Stream connection\n", zapcore.DebugLevel, "memberlist: Stream connection"},
		{"no level at all\n", zapcore.DebugLevel, "no level at all"},
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		newStdLogger(zap.New(core)).Print(tc.line)
		if logs.Len() != 1 {
			t.Fatalf("%q: %d entries", tc.line, logs.Len())
		}
		e := logs.All()[0]
		if e.Level != tc.level || e.Message != tc.msg {
			t.Errorf("%q logged as %v %q, want %v %q", tc.line, e.Level, e.Message, tc.level, tc.msg)
		}
	}
}

func TestHCLogger(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := NewHCLogger(zap.New(core), "raft").With("group", "defs")
	h.Debug("dropped below Info")
	h.Info("entering leader state", "leader", "n1", "term", 3)
	h.Named("net").Error("failed", "odd")
	if h.IsDebug() || !h.IsInfo() || h.GetLevel() != hclog.Info {
		t.Errorf("levels: IsDebug %v IsInfo %v GetLevel %v", h.IsDebug(), h.IsInfo(), h.GetLevel())
	}
	all := logs.All()
	if len(all) != 2 {
		t.Fatalf("%d entries, want 2: %v", len(all), all)
	}
	got := all[0].ContextMap()
	if all[0].LoggerName != "raft" || got["group"] != "defs" || got["leader"] != "n1" || got["term"] != int64(3) {
		t.Errorf("entry %q %v", all[0].LoggerName, got)
	}
	if all[1].Level != zapcore.ErrorLevel || all[1].LoggerName != "raft.net" || all[1].ContextMap()["EXTRA_VALUE_AT_END"] != "odd" {
		t.Errorf("entry %v %q %v", all[1].Level, all[1].LoggerName, all[1].ContextMap())
	}
}

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(10 * time.Second)
	now := time.Now()
	steps := []struct {
		key      string
		at       time.Duration
		ok       bool
		withheld int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"b", time.Second, true, 0},
		{"a", 5 * time.Second, false, 0},
		{"a", 11 * time.Second, true, 2},
		{"a", 12 * time.Second, false, 0},
	}
	for i, s := range steps {
		ok, n := l.allow(s.key, now.Add(s.at))
		if ok != s.ok || n != s.withheld {
			t.Errorf("step %d (%s at %v): allow = %v, %d; want %v, %d", i, s.key, s.at, ok, n, s.ok, s.withheld)
		}
	}
}
