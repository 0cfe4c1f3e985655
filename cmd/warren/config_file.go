package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/conf"
	"github.com/warrenmq/warren/broker/mgmt"
)

// readFile reads the configuration file named by --config (found in args
// before the flags are parsed, since the file gives their defaults) or
// WARREN_CONFIG_FILE. Without one, o.file is an empty configuration.
func (o *options) readFile(args []string) error {
	path, ok := configPath(args)
	if !ok {
		path, _ = o.env("WARREN_CONFIG_FILE")
	}
	o.fileName = path
	if path == "" {
		o.file, _ = conf.Parse("", nil)
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("configuration file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > conf.MaxFileSize {
		return fmt.Errorf("configuration file %s: not a regular file of at most %d bytes", path, conf.MaxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("configuration file: %w", err)
	}
	o.file, err = conf.Parse(path, data)
	return err
}

// configPath finds --config in args (-config, --config=FILE, --config
// FILE), up to a "--".
func configPath(args []string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasValue {
			return value, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// fileListen is --listen's default from the file: its listeners.tcp, or
// none, or 127.0.0.1:5672 when the file names no TCP listener.
func fileListen(f *conf.Config) string {
	switch {
	case f.TCP.None:
		return "none"
	case len(f.TCP.Addrs) > 0:
		return strings.Join(f.TCP.Addrs, ",")
	}
	return "127.0.0.1:5672"
}

// fileDiskLimit is --disk-free-limit's default from the file, in bytes:
// disk_free_limit.absolute, or .relative times the memory limit; 50MB
// without either.
func fileDiskLimit(f *conf.Config) string {
	switch l := f.DiskFreeLimit; {
	case l.Absolute >= 0:
		return strconv.FormatInt(l.Absolute, 10)
	case l.Relative > 0:
		return strconv.FormatInt(int64(l.Relative*float64(broker.MemoryLimit())), 10)
	}
	return "50MB"
}

// fileLogLevel maps RabbitMQ's log levels onto Warren's four.
func fileLogLevel(level string) string {
	switch level {
	case "notice":
		return "info"
	case "warning":
		return "warn"
	case "critical", "alert", "emergency":
		return "error"
	}
	return level
}

// fileDuration is d as a flag value, or def when d is zero.
func fileDuration(d time.Duration, def string) string {
	if d == 0 {
		return def
	}
	return d.String()
}

// fileManagementListen is --management-listen's default from the file:
// management.tcp.ip and .port (RabbitMQ's port 15672, every interface,
// when only one of them is set); "" when the file sets neither.
func fileManagementListen(f *conf.Config) string {
	if !f.Has("management.tcp.port") && !f.Has("management.tcp.ip") {
		return ""
	}
	port := f.ManagementPort
	if !f.Has("management.tcp.port") {
		port = 15672
	}
	return net.JoinHostPort(f.ManagementIP, strconv.Itoa(port))
}

// defaultManagementListen is where the API listens unless told: beside
// the first plain AMQP listener, on its host and its port + 10000, as
// RabbitMQ's 15672 is 5672's (so 127.0.0.1:15672 by default, and nodes
// sharing a host on 5672, 5673 … get 15672, 15673 …); port 0 stays 0 (a
// free port, logged); mgmt.DefaultListen without a plain listener.
func defaultManagementListen(listen []string) string {
	return listenBeside(listen, 10000, mgmt.DefaultListen)
}

// listenBeside is the first plain AMQP listener's host with its port +
// offset (0 stays 0; past 65535, 0), or fallback without a plain
// listener.
func listenBeside(listen []string, offset int, fallback string) string {
	if len(listen) == 0 {
		return fallback
	}
	host, port, err := net.SplitHostPort(listen[0])
	if err != nil {
		return fallback
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fallback
	}
	if p != 0 {
		p += offset
	}
	if p > 65535 {
		p = 0
	}
	return net.JoinHostPort(host, strconv.Itoa(p))
}

// brokerConfig is the broker's configuration: the flags' settings and the
// settings only the file has.
func (o *options) brokerConfig(log *zap.Logger) broker.Config {
	f := o.file
	cfg := broker.Config{
		Listen: o.listen, ListenTLS: f.SSL.Addrs, DataDir: o.dataDir, NodeName: o.nodeName, Logger: log,
		DiskFreeLimit: o.diskFreeLimit, DefaultUser: o.user, DefaultPass: o.pass, Cluster: o.cluster,
		DefaultVhost: f.DefaultVhost, DefaultUserTags: f.DefaultUserTags, LoadDefinitions: o.loadDefinitions,
		ClusterName: f.ClusterName, QueueLeaderLocator: f.QueueLeaderLocator, FrameMax: f.FrameMax, ConsumerTimeout: f.ConsumerTimeout,
		MaxMessageSize: f.MaxMessageSize, HandshakeTimeout: f.HandshakeTimeout, AuthMechanisms: f.AuthMechanisms,
		DefaultPermissions: broker.Permission{Configure: f.DefaultPermissions.Configure, Read: f.DefaultPermissions.Read,
			Write: f.DefaultPermissions.Write},
	}
	if f.Has("heartbeat") {
		cfg.Heartbeat = f.Heartbeat
		if f.Heartbeat == 0 {
			cfg.Heartbeat = -1 // none
		}
	}
	if f.Has("channel_max") || f.Has("max_channels_per_connection") {
		cfg.ChannelMax = uint16(f.ChannelMax)
		if f.ChannelMax == 0 {
			cfg.ChannelMax = 65535 // RabbitMQ's "no limit", AMQP's most
		}
	}
	if f.Has("loopback_users") {
		cfg.LoopbackUsers = append([]string{}, f.LoopbackUsers...)
	}
	switch m := f.MemoryHighWatermark; {
	case m.Absolute >= 0:
		cfg.MemoryHighWatermark = max(m.Absolute, 1)
	case m.Relative > 0:
		cfg.MemoryHighWatermark = max(int64(m.Relative*float64(broker.MemoryLimit())), 1)
	}
	cfg.ManagementListen = o.mgmtListen
	cfg.Audit = broker.AuditConfig{File: o.auditLog, MaxSizeMB: f.Warren.AuditLog.MaxSizeMB, MaxFiles: f.Warren.AuditLog.MaxFiles}
	if len(f.SSL.Addrs) > 0 {
		t := f.TLS
		cfg.TLS = &broker.TLSConfig{CertFile: t.CertFile, KeyFile: t.KeyFile, CACertFile: t.CACertFile,
			VerifyPeer: t.VerifyPeer, FailIfNoPeerCert: t.FailIfNoPeerCert, Versions: t.Versions,
			CipherSuites: t.Ciphers, HandshakeTimeout: t.HandshakeTimeout, LoginFrom: t.LoginFrom,
			SANType: t.SANType, SANIndex: t.SANIndex}
	}
	return cfg
}

// logFile logs what the configuration file set that Warren ignores.
func (o *options) logFile(log *zap.Logger) {
	if o.fileName == "" {
		return
	}
	log.Info("configuration file read", zap.String("file", o.fileName))
	for _, ig := range o.file.Ignored {
		log.Info("configuration key ignored: it tunes RabbitMQ's runtime and changes nothing in Warren",
			zap.String("file", o.fileName), zap.Int("line", ig.Line), zap.String("key", ig.Key))
	}
}
