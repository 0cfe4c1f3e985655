#!/usr/bin/env bash
# cluster.sh measures cross-node messaging: the queue on node 3, its
# publisher connected to node 1 and its consumer to node 2, on a three-node
# Warren cluster and on a three-node RabbitMQ cluster, against Warren on one
# node with all three in one place. Same client (warren-perf) and settings
# for all; one broker set runs at a time (the machine's cores are shared
# between the nodes and the client). It prints a Markdown report with the
# ratios: Warren cluster ÷ RabbitMQ cluster, Warren cluster ÷ Warren single.
#
#   cmd/warren-perf/cluster.sh
#   DURATION=5s cmd/warren-perf/cluster.sh        # a quick check
#
# Scenarios, each 1 publisher → 1 queue → 1 consumer (manual acks, prefetch
# 1000), SIZE-byte bodies, at most MAX_IN_FLIGHT messages published and not
# yet consumed:
#   transient   transient messages, no publisher confirms
#   persistent  persistent messages, durable queue, confirms (window CONFIRM)
#
# Environment:
#   DURATION       each run's measured window (default 15s)
#   ROUNDS         runs of each scenario per broker set (default 1)
#   SIZE           body size in bytes (default 1024)
#   MAX_IN_FLIGHT  warren-perf --max-in-flight (default 10000, the suite's)
#   CONFIRM        publisher-confirm window of the persistent scenario (1000)
#   WARREN_PORT    Warren's single node's AMQP port (default 5780); the
#                  cluster's nodes use the next three, and their cluster
#                  ports are those plus 20000
#   RABBIT_PORT    node 1's AMQP port of the RabbitMQ cluster (default 5691;
#                  e2e/rabbitmq/cluster-start.sh, which installs RabbitMQ if
#                  it is missing)
#   RABBIT         0 to leave RabbitMQ out
#   WORK_DIR, KEEP as for durable.sh (brokers.sh): the data is on a disk
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
args="$*"
duration=${DURATION:-15s}
rounds=${ROUNDS:-1}
size=${SIZE:-1024}
inflight=${MAX_IN_FLIGHT:-10000}
confirm=${CONFIRM:-1000}
warren_port=${WARREN_PORT:-5780}
rabbit_port=${RABBIT_PORT:-5691}

script=cluster.sh
# shellcheck source=cmd/warren-perf/brokers.sh
. cmd/warren-perf/brokers.sh
need_jq

node_pids=()
rabbit_cluster_dir=""

# stop_cluster stops the Warren cluster's nodes, gracefully.
stop_cluster() {
	local pid
	for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	node_pids=()
}

# stop_rabbit_cluster stops the RabbitMQ cluster and removes its folder.
stop_rabbit_cluster() {
	if [ -n "$rabbit_cluster_dir" ]; then
		e2e/rabbitmq/cluster-stop.sh "$rabbit_cluster_dir" >/dev/null 2>&1 || true
		rabbit_cluster_dir=""
	fi
}

cleanup() {
	stop_cluster
	stop_rabbit_cluster
	stop_brokers
}
trap cleanup EXIT

# await_amqp waits until something answers AMQP on port, while pid lives.
await_amqp() {
	local port=$1 pid=$2 log=$3
	for _ in $(seq 1 150); do
		"$work/warren" --health-check --listen "127.0.0.1:$port" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$script: the warren on port $port exited; its log:" >&2
			cat "$log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "$script: nothing answers AMQP on port $port" >&2
	exit 1
}

# start_single starts Warren on one node.
start_single() {
	"$work/warren" --listen "127.0.0.1:$warren_port" --data-dir "$work/data/single" \
		>"$work/single.log" 2>&1 &
	warren_pid=$!
	await_amqp "$warren_port" "$warren_pid" "$work/single.log"
}

# stop_single stops it.
stop_single() {
	kill "$warren_pid" 2>/dev/null || true
	wait "$warren_pid" 2>/dev/null || true
	warren_pid=""
}

# start_cluster starts three Warren nodes that form one cluster.
start_cluster() {
	local i join=""
	for i in 1 2 3; do join+="${join:+,}127.0.0.1:$((warren_port + 20000 + i))"; done
	for i in 1 2 3; do
		WARREN_CLUSTER_SECRET=cluster-bench "$work/warren" --node-name "warren$i@localhost" \
			--listen "127.0.0.1:$((warren_port + i))" --data-dir "$work/data/node$i" \
			--cluster-listen "127.0.0.1:$((warren_port + 20000 + i))" --join "$join" \
			--bootstrap-expect 3 >"$work/node$i.log" 2>&1 &
		node_pids+=($!)
	done
	for i in 1 2 3; do await_amqp "$((warren_port + i))" "${node_pids[$((i - 1))]}" "$work/node$i.log"; done
}

# warm_up runs a short placed run until one succeeds: the cluster has
# formed and serves a queue across nodes.
warm_up() {
	local declare=$1 publish=$2 consume=$3 deadline=$((SECONDS + 60))
	until "$work/warren-perf" --declare-url "$declare" --publish-url "$publish" --consume-url "$consume" \
		--count 1000 --duration 0 --drain-timeout 5s >"$work/warm-up.log" 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "$script: no successful run across the nodes within 60 s:" >&2
			tail -n 5 "$work/warm-up.log" >&2
			exit 1
		fi
		sleep 1
	done
}

# measure runs both scenarios ROUNDS times on one broker set.
#   measure SET DECLARE_URL PUBLISH_URL CONSUME_URL PID...
failed=0
measure() {
	local set=$1 declare=$2 publish=$3 consume=$4
	shift 4
	local pids
	pids=$(
		IFS=,
		echo "$*"
	)
	local round scenario extra rc out
	for round in $(seq 1 "$rounds"); do
		for scenario in transient persistent; do
			extra=()
			if [ "$scenario" = persistent ]; then extra=(--persistent --confirm "$confirm"); fi
			out="$work/runs/$set-$scenario-$round"
			echo "$script: $set, $scenario, round $round" >&2
			rc=0
			"$work/warren-perf" --declare-url "$declare" --publish-url "$publish" --consume-url "$consume" \
				--broker-pid "$pids" --size "$size" --max-in-flight "$inflight" --duration "$duration" \
				--name "$scenario" "${extra[@]}" --json >"$out.json" 2>"$out.log" || rc=$?
			if [ "$rc" != 0 ]; then
				failed=1
				echo "$script: warren-perf exited $rc; its last lines:" >&2
				tail -n 5 "$out.log" >&2
			fi
		done
	done
}

echo "$script: building warren and warren-perf into $work" >&2
go build -o "$work/warren" ./cmd/warren
go build -o "$work/warren-perf" ./cmd/warren-perf
mkdir -p "$work/data" "$work/runs"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
url() { echo "amqp://guest:guest@127.0.0.1:$1/"; }

sets=(single cluster)
labels=("Warren, one node" "Warren, 3 nodes")

start_single
single=$(url "$warren_port")
warm_up "$single" "$single" "$single"
measure single "$single" "$single" "$single" "$warren_pid"
stop_single

start_cluster
warm_up "$(url $((warren_port + 3)))" "$(url $((warren_port + 1)))" "$(url $((warren_port + 2)))"
measure cluster "$(url $((warren_port + 3)))" "$(url $((warren_port + 1)))" "$(url $((warren_port + 2)))" "${node_pids[@]}"
stop_cluster

if [ "${RABBIT:-1}" != 0 ]; then
	if started=$(RABBIT_PORT=$rabbit_port e2e/rabbitmq/cluster-start.sh); then
		rabbit_cluster_dir=$(sed -n 's/^RABBIT_DIR=//p' <<<"$started")
		read -r -a rabbit_pids <<<"$(sed -n 's/^RABBIT_PIDS=//p' <<<"$started")"
		version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | cut -d- -f1 || true)
		sets+=(rabbit)
		labels+=("RabbitMQ${version:+ $version}, 3 nodes")
		r1=$(url "$rabbit_port") r2=$(url $((rabbit_port + 1))) r3=$(url $((rabbit_port + 2)))
		warm_up "$r3" "$r1" "$r2"
		measure rabbit "$r3" "$r1" "$r2" "${rabbit_pids[@]}"
		stop_rabbit_cluster
	else
		echo "$script: the RabbitMQ cluster did not start; measuring Warren alone" >&2
	fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The report.
num() { awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = ""; while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) } print s n }'; }
ms() { awk -v x="$1" 'BEGIN { if (x == "") print "–"; else if (x >= 10000) printf "%.0f ms", x / 1000; else printf "%.1f ms", x / 1000 }'; }
field() { jq -r "$2 // empty" "$1" 2>/dev/null || true; }
# mean SET SCENARIO JQ: the mean of a field over the rounds.
mean() {
	local f sum=0 n=0 v
	for round in $(seq 1 "$rounds"); do
		f="$work/runs/$1-$2-$round.json"
		v=$(field "$f" "$3")
		[ -n "$v" ] || continue
		sum=$(awk -v a="$sum" -v b="$v" 'BEGIN { print a + b }')
		n=$((n + 1))
	done
	if [ "$n" -gt 0 ]; then awk -v a="$sum" -v n="$n" 'BEGIN { print a / n }'; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f×", a / b }'; }
measure_of() { if [ "$1" = transient ]; then echo .window.consumed_per_sec; else echo .window.confirmed_per_sec; fi; }
title_of() {
	if [ "$1" = transient ]; then echo "transient, no confirms (consumed msg/s)"; else echo "persistent, durable queue, confirms window $confirm (confirmed msg/s)"; fi
}

kib=$( ((size % 1024 == 0)) && echo "$((size / 1024)) KiB" || echo "$size B")
echo "1 publisher → 1 queue → 1 consumer, $kib bodies, manual acks, prefetch 1000, at most $inflight messages in flight, $duration windows, $rounds round(s)."
echo "Placement: Warren one node, all on it; 3 nodes (Warren and RabbitMQ), the queue declared on node 3 (client-local placement puts it there), the publisher connected to node 1, the consumer to node 2."
echo
head="| scenario |"
rule="|---|"
for l in "${labels[@]}"; do
	head+=" $l |"
	rule+="--:|"
done
has_rabbit=0
[[ " ${sets[*]} " == *" rabbit "* ]] && has_rabbit=1
[ "$has_rabbit" = 1 ] && head+=" Warren cluster ÷ RabbitMQ cluster |" && rule+="--:|"
head+=" Warren cluster ÷ Warren single |"
rule+="--:|"
echo "$head"
echo "$rule"
for scenario in transient persistent; do
	row="| $(title_of $scenario) |"
	for s in "${sets[@]}"; do row+=" $(num "$(mean "$s" $scenario "$(measure_of $scenario)")") |"; done
	c=$(mean cluster $scenario "$(measure_of $scenario)")
	[ "$has_rabbit" = 1 ] && row+=" **$(ratio "$c" "$(mean rabbit $scenario "$(measure_of $scenario)")")** |"
	row+=" **$(ratio "$c" "$(mean single $scenario "$(measure_of $scenario)")")** |"
	echo "$row"
done
echo
echo "| scenario | broker | msg/s | end-to-end p50 / p99 | confirm p50 / p99 | broker CPU µs/msg (all nodes) | status |"
echo "|---|---|--:|---|---|--:|---|"
for scenario in transient persistent; do
	for i in "${!sets[@]}"; do
		s=${sets[$i]}
		conf="–"
		if [ "$scenario" = persistent ]; then
			conf="$(ms "$(mean "$s" $scenario .confirm_latency.p50_us)") / $(ms "$(mean "$s" $scenario .confirm_latency.p99_us)")"
		fi
		status=""
		for round in $(seq 1 "$rounds"); do
			f="$work/runs/$s-$scenario-$round.json"
			st=$(field "$f" .status)
			st=${st:-no result}
			if [ "$st" != ok ]; then st="$st: $(field "$f" .reason)"; fi
			status+="${status:+, }$st"
		done
		echo "| $scenario | ${labels[$i]} | $(num "$(mean "$s" $scenario "$(measure_of $scenario)")") |" \
			"$(ms "$(mean "$s" $scenario .end_to_end_latency.p50_us)") / $(ms "$(mean "$s" $scenario .end_to_end_latency.p99_us)") |" \
			"$conf | $(awk -v x="$(mean "$s" $scenario .broker.cpu_us_per_msg)" 'BEGIN { printf "%.1f", x }') | $status |"
	done
done
echo
echo "Command: \`DURATION=$duration ROUNDS=$rounds SIZE=$size MAX_IN_FLIGHT=$inflight CONFIRM=$confirm cmd/warren-perf/cluster.sh${args:+ $args}\`;" \
	"$(nproc) cores, load average $load_before before and $load_after after."
exit "$failed"
