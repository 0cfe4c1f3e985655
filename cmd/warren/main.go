// Command warren runs a Warren broker node: an AMQP 0-9-1 message broker
// that behaves as RabbitMQ does.
//
// Flags win over the environment variables WARREN_LISTEN and
// WARREN_DATA_DIR. SIGINT or SIGTERM closes the broker gracefully.
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
	flag.Parse()

	zc := zap.NewProductionConfig()
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := zc.Build()
	if err != nil {
		return err
	}
	defer log.Sync()

	srv, err := broker.NewServer(broker.Config{Listen: *listen, DataDir: *dataDir, Logger: log})
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
