#!/usr/bin/env bash
# cluster-start.sh starts a throwaway three-node RabbitMQ cluster as plain
# processes on spare loopback ports, as RabbitMQ's clustering guide does it
# by hand: three rabbitmq-server processes with their own node names,
# ports and data folders and one shared Erlang cookie, then nodes 2 and 3
# run `rabbitmqctl stop_app; join_cluster <node 1>; start_app`.
#
#   e2e/rabbitmq/cluster-start.sh          # AMQP on 127.0.0.1:5691, 5692, 5693
#   RABBIT_PORT=5701 e2e/rabbitmq/cluster-start.sh
#
# Like start.sh it installs Debian's rabbitmq-server if it is missing
# (without starting a system service), keeps everything under a fresh
# temporary folder, and prints, once all three nodes run as one cluster:
#
#   RABBIT_PIDS=<pid> <pid> <pid>     (beam.smp of nodes 1, 2, 3)
#   RABBIT_PORTS=<port> <port> <port> (their AMQP ports)
#   RABBIT_NODES=<name> <name> <name>
#   RABBIT_DIR=<its folder>           (for cluster-stop.sh)
#
# Ports: node i (1..3) has AMQP RABBIT_PORT+i-1 and Erlang distribution
# that plus 20000; the three share one epmd on RABBIT_PORT-1300. All are
# bound to 127.0.0.1. No plugin is enabled (the enabled-plugins file holds
# an empty list), so there is no management listener.
set -euo pipefail

base=${RABBIT_PORT:-5691}
epmd_port=$((base - 1300))
ctl=/usr/lib/rabbitmq/bin/rabbitmqctl

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
	echo "cluster-start.sh: installing rabbitmq-server" >&2
	# Keep the package's maintainer scripts from starting a system service.
	policy=/usr/sbin/policy-rc.d made_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq rabbitmq-server >&2
	if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
fi

for i in 1 2 3; do
	port=$((base + i - 1))
	for p in $port $((port + 20000)); do
		if command -v ss >/dev/null && ss -ltn 2>/dev/null | grep -q ":$p "; then
			echo "cluster-start.sh: port $p is already in use" >&2
			exit 1
		fi
	done
done

dir=$(mktemp -d /tmp/warren-rabbitmq-cluster.XXXXXX)
# A failed start leaves nothing running.
started=0
trap '[ "$started" = 1 ] || "$(dirname "$0")/cluster-stop.sh" "$dir" >/dev/null 2>&1 || true' EXIT

# One cookie for the three nodes and for rabbitmqctl: they share HOME.
mkdir -p "$dir/home"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/home/.erlang.cookie"
chmod 400 "$dir/home/.erlang.cookie"
echo '[].' >"$dir/enabled_plugins"

nodes=()
for i in 1 2 3; do
	port=$((base + i - 1))
	node="warrenperfc${port}@localhost"
	nodes+=("$node")
	n="$dir/node$i"
	mkdir -p "$n/mnesia" "$n/log"
	cat >"$n/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = $((port + 20000))
distribution.listener.port_range.max = $((port + 20000))
log.console = false
log.file.level = warning
CONF
	cat >"$n/env" <<ENV
export HOME='$dir/home'
export RABBITMQ_NODENAME='$node'
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$((port + 20000))
export ERL_EPMD_PORT=$epmd_port
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CONFIG_FILE='$n/rabbitmq.conf'
export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export RABBITMQ_MNESIA_BASE='$n/mnesia'
export RABBITMQ_LOG_BASE='$n/log'
export RABBITMQ_PID_FILE='$n/rabbitmq.pid'
ENV
	# Each node runs detached in its own session, its console output in a file.
	(
		# shellcheck disable=SC1091
		. "$n/env"
		setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$n/log/console.log" 2>&1 </dev/null &
	)
done

# in_node runs a command with node i's environment.
in_node() {
	local i=$1
	shift
	(
		# shellcheck disable=SC1091
		. "$dir/node$i/env"
		"$@"
	)
}

# await waits until node i has booted (its app running).
await() {
	local i=$1 deadline=$((SECONDS + 90))
	until in_node "$i" "$ctl" -q -n "${nodes[$((i - 1))]}" await_startup --timeout 5 >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "cluster-start.sh: node $i did not start within 90 s; see $dir/node$i/log" >&2
			tail -n 20 "$dir/node$i/log/console.log" >&2 || true
			exit 1
		fi
		sleep 1
	done
}

for i in 1 2 3; do await "$i"; done
for i in 2 3; do
	node=${nodes[$((i - 1))]}
	in_node "$i" "$ctl" -q -n "$node" stop_app >&2
	in_node "$i" "$ctl" -q -n "$node" join_cluster "${nodes[0]}" >&2
	in_node "$i" "$ctl" -q -n "$node" start_app >&2
	await "$i"
done

running=$(in_node 1 "$ctl" -q -n "${nodes[0]}" eval 'length(rabbit_nodes:all_running()).')
if [ "$running" != 3 ]; then
	echo "cluster-start.sh: the cluster has $running running nodes, want 3" >&2
	exit 1
fi

pids=()
for i in 1 2 3; do pids+=("$(cat "$dir/node$i/rabbitmq.pid")"); done
started=1
echo "RABBIT_PIDS=${pids[*]}"
echo "RABBIT_PORTS=$base $((base + 1)) $((base + 2))"
echo "RABBIT_NODES=${nodes[*]}"
echo "RABBIT_DIR=$dir"
