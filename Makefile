# Warren's build, test and benchmark entry points. `make help` lists them.

GO        ?= go
BIN       ?= bin
DATA_DIR  ?= ./data
FUZZTIME  ?= 500000x
BENCHTIME ?= 1s
ARGS      ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets with what they do.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the static binaries warren, warrenctl and warren-perf into ./bin.
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

.PHONY: run
run: ## Run a single node on 127.0.0.1:5672 with data in ./data (guest/guest from loopback); more flags in ARGS="--listen 127.0.0.1:5673 --log-level debug".
	$(GO) run ./cmd/warren --data-dir "$(DATA_DIR)" $(ARGS)

.PHONY: cluster
cluster: build ## Start a three-node cluster on loopback as plain processes (AMQP 5672-5674, HAProxy on 5670 where installed), data in ./data/cluster.
	BIN=$(BIN)/warren bash cluster/local/start.sh

.PHONY: cluster-down
cluster-down: ## Stop exactly the processes `make cluster` started (the data stays).
	bash cluster/local/stop.sh

.PHONY: deps
deps: ## Install what the tests need besides Go: python3-pika, amqp-tools, chromium for the console's tests and rabbitmq-server for its rabbitmqadmin (apt; the service is not started), amqplib (npm ci in e2e/node).
	@missing=""; \
	/usr/bin/python3 -c 'import pika' 2>/dev/null || missing="$$missing python3-pika"; \
	command -v amqp-consume >/dev/null 2>&1 || missing="$$missing amqp-tools"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v rabbitmqadmin >/dev/null 2>&1 || missing="$$missing rabbitmq-server"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		made_policy=""; \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1; \
		fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		status=$$?; [ -z "$$made_policy" ] || rm -f /usr/sbin/policy-rc.d; exit $$status; \
	fi
	@if [ ! -d e2e/node/node_modules ]; then \
		if command -v npm >/dev/null 2>&1; then \
			echo "installing e2e/node's locked dependencies (npm ci)"; \
			npm ci --prefix e2e/node --no-audit --no-fund; \
		else \
			echo "npm not found: install Node.js 18 or later with npm for the amqplib e2e test (it skips without them, and fails when CI is set)"; \
		fi; \
	fi

.PHONY: test
test: deps ## Run every test with the race detector (installs test dependencies first).
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory test-late
	$(MAKE) --no-print-directory test-scale

.PHONY: test-late
test-late: ## Run the broker's tests and the e2e suite again with classic queues that answer late (queuetest.Late), as queues on another node would.
	WARREN_TEST_LATE=1 $(GO) test -race -count=1 -timeout 10m ./broker
	WARREN_E2E_LATE=1 $(GO) test -race -count=1 -timeout 10m ./e2e

.PHONY: test-scale
test-scale: ## With 10,000 queues, measure the management API (a page of 100, the whole list; target 200 ms), a sample of the rates' counters and the console's queues page, without the race detector.
	$(GO) test -p 1 -count=1 -run 'TenThousand' -v ./broker/mgmt/...

.PHONY: test-short
test-short: ## Run the fast tests only.
	$(GO) test -race -short -count=1 ./...

.PHONY: quorum-kills
quorum-kills: ## Kill a quorum queue's leader with kill -9 20 times on three nodes under load, then check that no confirmed message was lost (TestQuorumLeaderKills, -v).
	WARREN_QUORUM_KILLS=20 $(GO) test -race -count=1 -timeout 20m -v -run '^TestQuorumLeaderKills$$' ./e2e

.PHONY: bench
bench: ## Run the Go benchmarks (codec, routing, queue, publish→consume) with allocations.
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME inputs each (default 500000x), then list the targets that failed.
	@failed=""; \
	for pkg in $$($(GO) list ./...); do \
		targets=$$($(GO) test -list='^Fuzz' $$pkg) || { failed="$$failed $$pkg(build)"; continue; }; \
		for f in $$(echo "$$targets" | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || failed="$$failed $$pkg.$$f"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi; \
	echo "fuzz: every target passed"

.PHONY: gen
gen: ## Regenerate the AMQP codec from protocol/internal/gen/amqp0-9-1.spec.
	$(GO) generate ./protocol

.PHONY: bench-compare
bench-compare: ## Run the warren-perf suite against Warren and RabbitMQ (installed if missing) on spare ports; writes the README's table.
	DURATION=10s bash cmd/warren-perf/compare.sh cmd/warren-perf/results/warren-vs-rabbitmq

.PHONY: bench-durable
bench-durable: ## Persistent messages with confirms, Warren vs RabbitMQ, 16 B and 1 KiB.
	bash cmd/warren-perf/durable.sh

.PHONY: bench-backlog
bench-backlog: ## A backlog of N (default 10 million) 1 KiB persistent messages: RSS, restart time, drain rate.
	bash cmd/warren-perf/backlog.sh

.PHONY: bench-cluster
bench-cluster: ## Cross-node throughput: Warren on one node, Warren on three, and a RabbitMQ three-node cluster (installed if missing), one run.
	DURATION=15s bash cmd/warren-perf/cluster.sh

.PHONY: bench-fsyncs
bench-fsyncs: ## Count each broker's fsync calls per confirmed persistent message (strace; installs it if missing).
	bash cmd/warren-perf/fsyncs.sh

.PHONY: clean
clean: ## Remove built binaries.
	rm -rf $(BIN)
