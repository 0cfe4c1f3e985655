//go:build !e2e_nowarren

package e2e

import (
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/mgmt"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/queuetest"
)

// statsInterval is how often the in-process management API samples
// message rates: RabbitMQ's 5 s shortened, so that rates rise and fall
// within a test's polling.
const statsInterval = 100 * time.Millisecond

// This file starts Warren in-process for the suite (see TestMain). Build
// with -tags e2e_nowarren to run against WARREN_E2E_URL without compiling
// the broker (for instance while it is mid-change). With WARREN_E2E_LATE
// set, the in-process broker's classic queues answer late, as queues on
// another node would (queuetest.Late: every session operation completes
// on another goroutine after a random delay).

func init() {
	startWarren = func(opts warrenOptions) (string, func(), error) {
		dir, keep := opts.DataDir, opts.DataDir != ""
		if !keep {
			var err error
			if dir, err = os.MkdirTemp("", "warren-e2e-"); err != nil {
				return "", nil, err
			}
		}
		remove := func() {
			if !keep {
				_ = os.RemoveAll(dir)
			}
		}
		var wrap func(queue.Type) queue.Type
		if lateQueues {
			wrap = func(t queue.Type) queue.Type { return &queuetest.Late{Inner: t} }
		}
		srv, err := broker.NewServer(broker.Config{
			WrapClassic:         wrap,
			Listen:              []string{"127.0.0.1:0"},
			DataDir:             dir,
			Logger:              zap.NewNop(),
			Heartbeat:           opts.Heartbeat,
			ConsumerTimeout:     opts.ConsumerTimeout,
			HandshakeTimeout:    opts.HandshakeTimeout,
			MemoryHighWatermark: opts.MemoryHighWatermark,
			LoadDefinitions:     opts.LoadDefinitions,
		})
		if err != nil {
			remove()
			return "", nil, err
		}
		if err := srv.Start(); err != nil {
			remove()
			return "", nil, err
		}
		api := mgmt.New(mgmt.Config{Broker: srv, Logger: zap.NewNop(), StatsInterval: statsInterval})
		if err := api.Start("127.0.0.1:0"); err != nil {
			_ = srv.Close()
			remove()
			return "", nil, err
		}
		mgmtURLs.Store(srv.Addr().String(), "http://"+api.Addr().String())
		if opts.Started != nil {
			opts.Started(srv)
		}
		stop := func() {
			_ = api.Close()
			_ = srv.Close()
			remove()
		}
		return srv.Addr().String(), stop, nil
	}
}
