package cluster

import (
	"bytes"
	"log"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newStdLogger returns a log.Logger for the libraries that take one
// (memberlist, yamux). Their lines start with a level in brackets, which
// picks the zap level: [ERR] and [WARN] are logged at Warn, since they
// report the network (a peer gone, a probe unanswered) that the node
// survives; [INFO] at Info; anything else at Debug.
func newStdLogger(z *zap.Logger) *log.Logger {
	return log.New(&stdWriter{z: z}, "", 0)
}

// stdWriter is the io.Writer behind newStdLogger: one Write per line.
type stdWriter struct{ z *zap.Logger }

func (w *stdWriter) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\r\n")
	level := zapcore.DebugLevel
	for _, l := range stdLevels {
		if bytes.HasPrefix(line, l.prefix) {
			level = l.level
			line = bytes.TrimLeft(line[len(l.prefix):], " ")
			break
		}
	}
	if ce := w.z.Check(level, string(line)); ce != nil {
		ce.Write()
	}
	return len(p), nil
}

var stdLevels = []struct {
	prefix []byte
	level  zapcore.Level
}{
	{[]byte("[ERR]"), zapcore.WarnLevel},
	{[]byte("[ERROR]"), zapcore.WarnLevel},
	{[]byte("[WARN]"), zapcore.WarnLevel},
	{[]byte("[INFO]"), zapcore.InfoLevel},
	{[]byte("[DEBUG]"), zapcore.DebugLevel},
	{[]byte("[TRACE]"), zapcore.DebugLevel},
}

// logLimiter lets one line per key through per interval and counts the
// rest, so that a peer or scanner repeating a mistake cannot flood the log.
// It keeps at most limiterKeys keys; past that it starts afresh.
type logLimiter struct {
	every time.Duration

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

const limiterKeys = 1024

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether a line for key may be logged now, and how many
// were held back since the last one that was.
func (l *logLimiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.last[key]; ok && now.Sub(last) < l.every {
		l.suppressed[key]++
		return false, 0
	}
	if len(l.last) >= limiterKeys {
		l.last = map[string]time.Time{}
		l.suppressed = map[string]int{}
	}
	n := l.suppressed[key]
	delete(l.suppressed, key)
	l.last[key] = now
	return true, n
}
