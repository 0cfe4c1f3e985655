// Command warren runs a Warren broker node: an AMQP 0-9-1 message broker
// that behaves as RabbitMQ does.
//
// Flags win over the environment variables WARREN_LISTEN, WARREN_DATA_DIR,
// WARREN_DISK_FREE_LIMIT, WARREN_DEFAULT_USER and WARREN_DEFAULT_PASS.
// SIGINT or SIGTERM closes the broker gracefully; durable queues and
// definitions survive any stop, kill -9 included.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/warrenmq/warren/broker"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "warren:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run() error {
	listen := flag.String("listen", envOr("WARREN_LISTEN", "127.0.0.1:5672"), "AMQP listen address (env WARREN_LISTEN)")
	dataDir := flag.String("data-dir", envOr("WARREN_DATA_DIR", "./data"), "data directory, created if missing (env WARREN_DATA_DIR)")
	diskLimit := flag.String("disk-free-limit", envOr("WARREN_DISK_FREE_LIMIT", "50MB"),
		"block publishers below this much free disk on the data dir: bytes or a unit such as 50MB, 1GB, 2GiB; 0 disables (env WARREN_DISK_FREE_LIMIT)")
	user := flag.String("default-user", envOr("WARREN_DEFAULT_USER", "guest"),
		"the user clients log in as; the user named guest may connect only from loopback, as in RabbitMQ (env WARREN_DEFAULT_USER)")
	pass := flag.String("default-pass", envOr("WARREN_DEFAULT_PASS", "guest"), "that user's password (env WARREN_DEFAULT_PASS)")
	flag.Parse()
	limit, err := broker.ParseSize(*diskLimit)
	if err != nil {
		return fmt.Errorf("--disk-free-limit: %w", err)
	}
	if limit == 0 {
		limit = -1 // disabled
	}

	zc := zap.NewProductionConfig()
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := zc.Build()
	if err != nil {
		return err
	}
	defer log.Sync()

	srv, err := broker.NewServer(broker.Config{
		Listen: *listen, DataDir: *dataDir, Logger: log, DiskFreeLimit: limit,
		DefaultUser: *user, DefaultPass: *pass,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("shutting down", zap.String("signal", s.String()))
	return srv.Close()
}
