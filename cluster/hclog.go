package cluster

import (
	"fmt"
	"io"
	"log"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewHCLogger returns an hclog.Logger that writes to z under the given
// name, for the hashicorp libraries that take one (raft.Config.Logger,
// raft.NetworkTransportConfig.Logger). Trace is logged at Debug; the level
// is z's, so SetLevel does nothing.
func NewHCLogger(z *zap.Logger, name string) hclog.Logger {
	if z == nil {
		z = zap.NewNop()
	}
	return &hcLogger{root: z, z: z.Named(name), name: name}
}

// hcLogger adapts zap to hclog.Logger.
type hcLogger struct {
	root *zap.Logger // without name or implied args, for ResetNamed
	z    *zap.Logger
	name string
	args []interface{}
}

func (h *hcLogger) Log(level hclog.Level, msg string, args ...interface{}) {
	if ce := h.z.Check(zapLevel(level), msg); ce != nil {
		ce.Write(hcFields(args)...)
	}
}

func (h *hcLogger) Trace(msg string, args ...interface{}) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...interface{}) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...interface{})  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...interface{})  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...interface{}) { h.Log(hclog.Error, msg, args...) }

func (h *hcLogger) IsTrace() bool { return h.z.Core().Enabled(zapcore.DebugLevel) }
func (h *hcLogger) IsDebug() bool { return h.z.Core().Enabled(zapcore.DebugLevel) }
func (h *hcLogger) IsInfo() bool  { return h.z.Core().Enabled(zapcore.InfoLevel) }
func (h *hcLogger) IsWarn() bool  { return h.z.Core().Enabled(zapcore.WarnLevel) }
func (h *hcLogger) IsError() bool { return h.z.Core().Enabled(zapcore.ErrorLevel) }

func (h *hcLogger) ImpliedArgs() []interface{} { return h.args }

func (h *hcLogger) With(args ...interface{}) hclog.Logger {
	all := append(append([]interface{}(nil), h.args...), args...)
	return &hcLogger{root: h.root, z: h.z.With(hcFields(args)...), name: h.name, args: all}
}

func (h *hcLogger) Name() string { return h.name }

func (h *hcLogger) Named(name string) hclog.Logger {
	full := name
	if h.name != "" {
		full = h.name + "." + name
	}
	return &hcLogger{root: h.root, z: h.z.Named(name), name: full, args: h.args}
}

func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	return &hcLogger{root: h.root, z: h.root.Named(name).With(hcFields(h.args)...), name: name, args: h.args}
}

// SetLevel does nothing: the zap logger's level rules.
func (h *hcLogger) SetLevel(hclog.Level) {}

func (h *hcLogger) GetLevel() hclog.Level {
	switch {
	case h.IsDebug():
		return hclog.Debug
	case h.IsInfo():
		return hclog.Info
	case h.IsWarn():
		return hclog.Warn
	default:
		return hclog.Error
	}
}

func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hcLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &stdWriter{z: h.z}
}

func zapLevel(l hclog.Level) zapcore.Level {
	switch l {
	case hclog.Warn:
		return zapcore.WarnLevel
	case hclog.Error:
		return zapcore.ErrorLevel
	case hclog.Info, hclog.NoLevel:
		return zapcore.InfoLevel
	default: // Trace, Debug
		return zapcore.DebugLevel
	}
}

// hcFields turns hclog's alternating keys and values into zap fields.
func hcFields(args []interface{}) []zap.Field {
	fields := make([]zap.Field, 0, (len(args)+1)/2)
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			fields = append(fields, zap.Any("EXTRA_VALUE_AT_END", args[i]))
			break
		}
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		fields = append(fields, zap.Any(key, args[i+1]))
	}
	return fields
}
