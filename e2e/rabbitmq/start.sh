#!/usr/bin/env bash
# start.sh starts a throwaway RabbitMQ node as plain processes on spare
# loopback ports, for comparing Warren with the broker it imitates.
#
#   e2e/rabbitmq/start.sh            # AMQP on 127.0.0.1:5673
#   RABBIT_PORT=5674 e2e/rabbitmq/start.sh
#   RABBIT_MGMT_PORT=15673 e2e/rabbitmq/start.sh   # with the management plugin's HTTP API on 127.0.0.1:15673
#   RABBIT_PROM_PORT=15693 e2e/rabbitmq/start.sh   # with rabbitmq_prometheus on 127.0.0.1:15693
#
# It installs Debian's rabbitmq-server if it is missing (without letting the
# package start a system service on 5672, Warren's port), writes the node's
# config, data and logs under a fresh temporary folder, waits until the node
# accepts AMQP connections and prints two lines:
#
#   RABBIT_PID=<pid of beam.smp>    (for warren-perf --broker-pid)
#   RABBIT_DIR=<its folder>         (for stop.sh)
#
# Ports: AMQP RABBIT_PORT (5673), Erlang distribution RABBIT_PORT+20000
# (25673), epmd RABBIT_PORT-1300 (4373); all bound to 127.0.0.1.
set -euo pipefail

port=${RABBIT_PORT:-5673}
dist_port=$((port + 20000))
epmd_port=$((port - 1300))
node="warrenperf${port}@localhost"

install_rabbitmq() {
	echo "start.sh: installing rabbitmq-server" >&2
	# Keep the package's maintainer scripts from starting a system service.
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq rabbitmq-server >&2
	if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
}

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
	install_rabbitmq
fi

# A system service (from an install made elsewhere) must not hold 5672.
if command -v ss >/dev/null && ss -ltn 2>/dev/null | grep -q ':5672 '; then
	if pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1; then
		echo "start.sh: stopping the system rabbitmq-server that holds 5672" >&2
		service rabbitmq-server stop >&2 2>&1 || invoke-rc.d rabbitmq-server stop >&2 2>&1 || true
	fi
fi

if command -v ss >/dev/null && ss -ltn 2>/dev/null | grep -q ":$port "; then
	echo "start.sh: port $port is already in use" >&2
	exit 1
fi

dir=$(mktemp -d /tmp/warren-rabbitmq.XXXXXX)
mkdir -p "$dir/mnesia" "$dir/log"
cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = $dist_port
distribution.listener.port_range.max = $dist_port
log.console = false
log.file.level = warning
CONF
plugins=()
if [ -n "${RABBIT_MGMT_PORT:-}" ]; then
	cat >>"$dir/rabbitmq.conf" <<CONF
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBIT_MGMT_PORT
CONF
	plugins+=(rabbitmq_management)
fi
if [ -n "${RABBIT_PROM_PORT:-}" ]; then
	cat >>"$dir/rabbitmq.conf" <<CONF
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $RABBIT_PROM_PORT
CONF
	plugins+=(rabbitmq_prometheus)
fi
echo "[$(IFS=,; echo "${plugins[*]}")]." >"$dir/enabled_plugins"

cat >"$dir/env" <<ENV
export HOME='$dir'
export RABBITMQ_NODENAME='$node'
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$dist_port
export ERL_EPMD_PORT=$epmd_port
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CONFIG_FILE='$dir/rabbitmq.conf'
export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export RABBITMQ_MNESIA_BASE='$dir/mnesia'
export RABBITMQ_LOG_BASE='$dir/log'
export RABBITMQ_PID_FILE='$dir/rabbitmq.pid'
ENV
# shellcheck disable=SC1091
. "$dir/env"

# The node runs detached in its own session; its console output goes to a file.
setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$dir/log/console.log" 2>&1 </dev/null &

deadline=$((SECONDS + 90))
until /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$node" await_startup --timeout 5 >/dev/null 2>&1; do
	if [ $SECONDS -ge $deadline ]; then
		echo "start.sh: RabbitMQ did not start within 90 s; see $dir/log" >&2
		tail -n 20 "$dir/log/console.log" >&2 || true
		exit 1
	fi
	sleep 1
done

pid=$(cat "$dir/rabbitmq.pid" 2>/dev/null || true)
if [ -z "$pid" ]; then
	pid=$(/usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$node" eval 'os:getpid().' | tr -d '"')
fi
echo "RABBIT_PID=$pid"
echo "RABBIT_DIR=$dir"
