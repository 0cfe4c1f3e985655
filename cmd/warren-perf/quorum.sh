#!/usr/bin/env bash
# quorum.sh measures quorum queues, Warren against RabbitMQ 3.10, in one
# run on one machine with one client (warren-perf), one broker set at a
# time, and writes a Markdown report (cmd/warren-perf/results/quorum.md):
#
#   1 throughput  1 publisher → 1 quorum queue → 1 consumer, persistent,
#                 confirms (window CONFIRM), SIZES bodies: one node, then
#                 three nodes with the client (publisher and consumer) on
#                 the queue leader's node, then on a follower's
#   2 latency     one message in flight (confirm window 1, the next
#                 message published once the last is consumed): confirm
#                 p50 / p99, same placements
#   3 failover    three nodes; KILL_AFTER into a run the leader's process
#                 is killed with kill -9 (warren-perf --kill-pid). Producer 0
#                 publishes on a survivor, producer 1 on the leader's node
#                 and reconnects to that survivor; consumer 0 is on the other
#                 survivor, consumer 1 on the leader's node and reconnects.
#                 How soon confirms resume, whether the reconnected client
#                 is served, and a total-queue check (lost: confirmed and
#                 never consumed). Once with confirm window CONFIRM, once
#                 with one message in flight; a fresh cluster each time
#   4 restart     N persistent 16 B messages in a quorum queue on one node;
#                 the node is stopped (SIGTERM; RabbitMQ: rabbitmqctl stop)
#                 and started, then killed with kill -9 and started: the
#                 time from its start until a passive declare answers and
#                 until basic.get returns a message (warren-perf ready --get);
#                 first with one message in the queue, for scale
#
#   cmd/warren-perf/quorum.sh
#   PARTS=failover BROKERS=rabbit OUT=/tmp/f.md cmd/warren-perf/quorum.sh
#   DURATION=5s N=100000 cmd/warren-perf/quorum.sh          # a quick check
#
# A broker that refuses quorum queues (exit status 3 of warren-perf) gets
# rows that say so, and the script goes on.
#
# The queue leader in a three-node cluster: RabbitMQ's comes from
# `rabbitmqctl list_queues name leader`. Warren's from `warren cluster
# status --json`, the field `leader` (a node name) of the queue's entry in
# `queues`, once the quorum queue type reports it there; LEADER_URL and
# FOLLOWER_URL override it (AMQP URLs of this script's Warren nodes,
# amqp://guest:guest@127.0.0.1:WARREN_PORT+1..3/; the kill needs a URL whose
# port is one of them). Without either, the cluster rows say the leader is
# unknown.
#
# Environment:
#   PARTS        parts to run (default "throughput latency failover restart")
#   BROKERS      brokers to run (default "warren rabbit")
#   DURATION     throughput window (default 15s); LATENCY_DURATION, the
#                one-in-flight window (default DURATION)
#   ROUNDS       runs of each throughput and latency case (default 1)
#   SIZES        throughput body sizes in bytes (default "16 1024")
#   CONFIRM      publisher-confirm window (default 1000)
#   MAX_IN_FLIGHT  throughput runs' bound on messages published and not yet
#                consumed (default 10000, the suite's)
#   FAILOVER_DURATION  failover window (default 20s); KILL_AFTER (default 5s)
#   FAILOVER_MODES     "window one" (default both)
#   N            messages in the restarted queue (default 1000000);
#                RESTART_ROUNDS, restarts of each kind (default 3)
#   WARREN_PORT  Warren's single node (default 5790); its cluster's nodes
#                use the next three, cluster ports those plus 20000
#   RABBIT_PORT  RabbitMQ's single node (default 5740; e2e/rabbitmq/start.sh)
#   RABBIT_CLUSTER_PORT  node 1 of RabbitMQ's cluster (default 5745;
#                e2e/rabbitmq/cluster-start.sh)
#   LEADER_URL, FOLLOWER_URL  Warren's leader and a follower (see above)
#   OUT          the report (default cmd/warren-perf/results/quorum.md); what
#                follows its hand-notes marker line is kept across reruns
#   WORK_DIR, KEEP  as for durable.sh (brokers.sh): Warren's data is on a disk
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
parts=${PARTS:-throughput latency failover restart}
brokers=${BROKERS:-warren rabbit}
duration=${DURATION:-15s}
lat_duration=${LATENCY_DURATION:-$duration}
rounds=${ROUNDS:-1}
sizes=${SIZES:-16 1024}
confirm=${CONFIRM:-1000}
inflight=${MAX_IN_FLIGHT:-10000}
fo_duration=${FAILOVER_DURATION:-20s}
kill_after=${KILL_AFTER:-5s}
fo_modes=${FAILOVER_MODES:-window one}
n=${N:-1000000}
restart_rounds=${RESTART_ROUNDS:-3}
warren_port=${WARREN_PORT:-5790}
rabbit_port=${RABBIT_PORT:-5740}
rabbit_cluster_port=${RABBIT_CLUSTER_PORT:-5745}
out=${OUT:-cmd/warren-perf/results/quorum.md}
secret=quorum-bench
queue_args=x-queue-type=quorum

script=quorum.sh
# shellcheck source=cmd/warren-perf/brokers.sh
. cmd/warren-perf/brokers.sh
need_jq
# shellcheck source=e2e/rabbitmq/node.sh
. e2e/rabbitmq/node.sh

say() { echo "$script: $*" >&2; }
has() { [[ " $1 " == *" $2 "* ]]; }
url() { echo "amqp://guest:guest@127.0.0.1:$1/"; }
port_of() { sed -n 's|.*:\([0-9]*\)/*$|\1|p' <<<"$1"; }

# The broker set running now: its nodes' URLs, pids and names (Warren:
# warren1@localhost …; RabbitMQ: the names cluster-start.sh printed).
set_name="" node_urls=() node_pids=() node_names=() node_logs=()
rabbit_single_dir="" rabbit_cluster_dir=""

# stop_set stops whatever set runs and forgets it.
stop_set() {
	local pid
	case "$set_name" in
	warren-*)
		for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
		for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
		;;
	rabbit-1) [ -z "$rabbit_single_dir" ] || e2e/rabbitmq/stop.sh "$rabbit_single_dir" >/dev/null 2>&1 || true ;;
	rabbit-3) [ -z "$rabbit_cluster_dir" ] || e2e/rabbitmq/cluster-stop.sh "$rabbit_cluster_dir" >/dev/null 2>&1 || true ;;
	esac
	rabbit_single_dir="" rabbit_cluster_dir=""
	set_name="" node_urls=() node_pids=() node_names=() node_logs=()
}
sampler_pid=""
cleanup() {
	if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
	stop_set
	stop_brokers
}
trap cleanup EXIT

# await_amqp waits until Warren answers AMQP on port, while pid lives.
await_amqp() {
	local port=$1 pid=$2 log=$3
	for _ in $(seq 1 300); do
		"$work/warren" --health-check --listen "127.0.0.1:$port" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			say "the warren on port $port exited; its log:"
			tail -n 20 "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	say "nothing answers AMQP on port $port"
	return 1
}

# start_warren_node I PORT [CLUSTER ARGS...] starts one Warren process on
# data/nodeI and records it.
start_warren_node() {
	local i=$1 port=$2
	shift 2
	local log="$work/warren-$set_name-$i.log"
	WARREN_CLUSTER_SECRET=$secret "$work/warren" --node-name "warren$i@localhost" --listen "127.0.0.1:$port" \
		--data-dir "$work/data/$set_name-$i" "$@" >>"$log" 2>&1 &
	node_pids[i - 1]=$!
	node_urls[i - 1]=$(url "$port")
	node_names[i - 1]="warren$i@localhost"
	node_logs[i - 1]=$log
}

# start_set SET starts a broker set: warren-1, warren-3, rabbit-1, rabbit-3.
start_set() {
	set_name=$1
	say "starting $set_name"
	local i started join=""
	case "$set_name" in
	warren-1)
		start_warren_node 1 "$warren_port"
		await_amqp "$warren_port" "${node_pids[0]}" "${node_logs[0]}"
		;;
	warren-3)
		for i in 1 2 3; do join+="${join:+,}127.0.0.1:$((warren_port + 20000 + i))"; done
		for i in 1 2 3; do
			start_warren_node "$i" $((warren_port + i)) --cluster-listen "127.0.0.1:$((warren_port + 20000 + i))" \
				--join "$join" --bootstrap-expect 3
		done
		for i in 1 2 3; do await_amqp $((warren_port + i)) "${node_pids[i - 1]}" "${node_logs[i - 1]}"; done
		# Formed once every node serves the default vhost.
		for i in 1 2 3; do
			for _ in $(seq 1 300); do
				warren_status "$i" | tr -d ' \n' | grep -q '"vhosts":\["/"' && break
				sleep 0.2
			done
		done
		;;
	rabbit-1)
		started=$(RABBIT_PORT=$rabbit_port e2e/rabbitmq/start.sh) || return 1
		rabbit_single_dir=$(sed -n 's/^RABBIT_DIR=//p' <<<"$started")
		node_pids=("$(sed -n 's/^RABBIT_PID=//p' <<<"$started")")
		node_urls=("$(url "$rabbit_port")")
		node_names=("warrenperf$rabbit_port@localhost")
		;;
	rabbit-3)
		started=$(RABBIT_PORT=$rabbit_cluster_port e2e/rabbitmq/cluster-start.sh) || return 1
		rabbit_cluster_dir=$(sed -n 's/^RABBIT_DIR=//p' <<<"$started")
		read -r -a node_pids <<<"$(sed -n 's/^RABBIT_PIDS=//p' <<<"$started")"
		read -r -a node_names <<<"$(sed -n 's/^RABBIT_NODES=//p' <<<"$started")"
		local p ports
		read -r -a ports <<<"$(sed -n 's/^RABBIT_PORTS=//p' <<<"$started")"
		for p in "${ports[@]}"; do node_urls+=("$(url "$p")"); done
		;;
	esac
}

# warren_status I prints node I's `warren cluster status --json`.
warren_status() {
	WARREN_CLUSTER_SECRET=$secret "$work/warren" cluster status --json \
		--cluster-addr "127.0.0.1:$((warren_port + 20000 + $1))" 2>/dev/null || true
}

# rabbitmqctl_on I ARGS... runs rabbitmqctl against node I of the set.
rabbitmqctl_on() {
	local i=$1 env
	shift
	if [ "$set_name" = rabbit-1 ]; then env="$rabbit_single_dir/env"; else env="$rabbit_cluster_dir/node$i/env"; fi
	(
		# shellcheck disable=SC1090
		. "$env"
		/usr/lib/rabbitmq/bin/rabbitmqctl -q -n "${node_names[i - 1]}" "$@"
	)
}

# node_by_port URL prints the index (0-based) of the node with URL's port.
node_by_port() {
	local i p
	p=$(port_of "$1")
	for i in "${!node_urls[@]}"; do
		if [ "$(port_of "${node_urls[$i]}")" = "$p" ]; then
			echo "$i"
			return
		fi
	done
}

# leader_of QUEUE prints the index (0-based) of the node leading QUEUE in
# a three-node set, or nothing when it cannot be told.
leader_of() {
	local q=$1 name i
	case "$set_name" in
	rabbit-3)
		name=$(rabbitmqctl_on 1 list_queues name leader --no-table-headers 2>/dev/null | awk -v q="$q" '$1 == q { print $2 }')
		;;
	warren-3)
		if [ -n "${LEADER_URL:-}" ]; then
			node_by_port "$LEADER_URL"
			return
		fi
		# A new queue elects its leader within a second or so.
		for _ in $(seq 1 50); do
			name=$(warren_status 1 | jq -r --arg q "$q" '.queues[]? | select(.name == $q and .vhost == "/") | .leader // empty' 2>/dev/null || true)
			[ -n "$name" ] && break
			sleep 0.2
		done
		;;
	esac
	for i in "${!node_names[@]}"; do
		if [ -n "${name:-}" ] && [ "${node_names[$i]}" = "$name" ]; then echo "$i"; fi
	done
}

# follower_url LEADER_INDEX prints the URL of a follower: FOLLOWER_URL
# for Warren when set, else the first other node.
follower_url() {
	local i
	if [ "$set_name" = warren-3 ] && [ -n "${FOLLOWER_URL:-}" ]; then
		echo "$FOLLOWER_URL"
		return
	fi
	for i in "${!node_urls[@]}"; do
		if [ "$i" != "$1" ]; then
			echo "${node_urls[$i]}"
			return
		fi
	done
}

# run_perf OUT ARGS... runs warren-perf with ARGS, its JSON summary in OUT.json
# and its live lines in OUT.log; it returns warren-perf's exit status.
run_perf() {
	local o=$1 rc=0
	shift
	"$work/warren-perf" "$@" --json >"$o.json" 2>"$o.log" || rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
		say "warren-perf exited $rc ($(basename "$o")); its last lines:"
		tail -n 3 "$o.log" >&2
	fi
	return "$rc"
}

# declare_queue OUT URL PREFIX declares the quorum queue PREFIX-0 on URL,
# retrying while a cluster forms. It returns 0 once declared, 3 when the
# broker refuses quorum queues, 1 when it never answered.
declare_queue() {
	local o=$1 u=$2 prefix=$3 rc deadline=$((SECONDS + 60))
	while :; do
		rc=0
		run_perf "$o" --uri "$u" --producers 0 --consumers 0 --duration 1ms --queue-prefix "$prefix" \
			--queue-args "$queue_args" --name declare || rc=$?
		case "$rc" in 0 | 3) return "$rc" ;; esac
		[ $SECONDS -lt $deadline ] || return 1
		sleep 1
	done
}

# note SET PART TEXT records why a set has no figures for a part.
note() { printf '%s\n' "$3" >"$work/runs/$1-$2.note"; }

# ---- parts 1 and 2: throughput and one message in flight ----

# bench_set SET runs the throughput and latency cases on a started set.
bench_set() {
	local s=$set_name prefix=qbench rc=0 placements=() i l f pids
	pids=$(
		IFS=,
		echo "${node_pids[*]}"
	)
	declare_queue "$work/runs/$s-declare" "${node_urls[0]}" $prefix || rc=$?
	if [ "$rc" = 3 ]; then
		note "$s" bench "refused the quorum queue: $(jq -r .reason "$work/runs/$s-declare.json")"
		return
	elif [ "$rc" != 0 ]; then
		note "$s" bench "could not declare the queue: $(jq -r '.reason // empty' "$work/runs/$s-declare.json" 2>/dev/null)"
		return
	fi
	if [ "${#node_urls[@]}" = 1 ]; then
		placements=("one ${node_urls[0]}")
	else
		l=$(leader_of "$prefix-0")
		if [ -z "$l" ] && [ -z "${LEADER_URL:-}" ]; then
			note "$s" bench "the queue's leader is unknown: set LEADER_URL and FOLLOWER_URL"
			return
		fi
		if [ -n "$l" ]; then
			placements=("leader ${node_urls[$l]}" "follower $(follower_url "$l")")
		else
			placements=("leader $LEADER_URL" "follower ${FOLLOWER_URL:-$(follower_url -1)}")
		fi
		if [ -n "$l" ]; then echo "${node_names[$l]}"; else echo "$LEADER_URL"; fi >"$work/runs/$s-leader"
	fi
	local p place u round size
	for round in $(seq 1 "$rounds"); do
		for p in "${placements[@]}"; do
			read -r place u <<<"$p"
			if has "$parts" throughput; then
				for size in $sizes; do
					say "$s, $size B, client on the $place node, round $round"
					run_perf "$work/runs/$s-tp$size-$place-$round" --uri "$u" --broker-pid "$pids" \
						--queue-prefix $prefix --queue-args "$queue_args" --persistent --confirm "$confirm" \
						--size "$size" --max-in-flight "$inflight" --duration "$duration" --name "quorum-$size" || true
				done
			fi
			if has "$parts" latency; then
				say "$s, one in flight, client on the $place node, round $round"
				run_perf "$work/runs/$s-lat-$place-$round" --uri "$u" --broker-pid "$pids" \
					--queue-prefix $prefix --queue-args "$queue_args" --persistent --confirm 1 --one-in-flight \
					--prefetch 1 --size 16 --duration "$lat_duration" --name quorum-one-in-flight || true
			fi
		done
	done
}

# ---- part 3: failover ----

# failover_set MODE runs one failover run on a freshly started three-node set.
failover_set() {
	local s=$set_name mode=$1 prefix=qfail rc=0 l v s1 s2 i extra=()
	declare_queue "$work/runs/$s-fo-$mode-declare" "${node_urls[0]}" $prefix || rc=$?
	if [ "$rc" = 3 ]; then
		note "$s" "fo-$mode" "refused the quorum queue: $(jq -r .reason "$work/runs/$s-fo-$mode-declare.json")"
		return
	elif [ "$rc" != 0 ]; then
		note "$s" "fo-$mode" "could not declare the queue"
		return
	fi
	l=$(leader_of "$prefix-0")
	if [ -z "$l" ]; then
		note "$s" "fo-$mode" "the queue's leader is unknown: set LEADER_URL (one of this script's nodes)"
		return
	fi
	v=${node_urls[$l]}
	for i in "${!node_urls[@]}"; do
		[ "$i" = "$l" ] && continue
		if [ -z "${s1:-}" ]; then s1=${node_urls[$i]}; else s2=${node_urls[$i]}; fi
	done
	echo "${node_names[$l]}" >"$work/runs/$s-fo-$mode-leader"
	if [ "$mode" = window ]; then
		extra=(--confirm "$confirm" --max-in-flight "$inflight")
	else
		extra=(--confirm 1 --one-in-flight --prefetch 1)
	fi
	say "$s, failover ($mode): killing ${node_names[$l]} (pid ${node_pids[$l]}) after $kill_after"
	run_perf "$work/runs/$s-fo-$mode" --declare-url "$s1" --queue-prefix $prefix --queue-args "$queue_args" \
		--persistent --size 16 --producers 2 --consumers 2 --publish-url "$s1,$v" --consume-url "$s2,$v" \
		--reconnect --kill-pid "${node_pids[$l]}" --kill-after "$kill_after" --duration "$fo_duration" \
		--drain-timeout 60s --name "failover-$mode" "${extra[@]}" || true
}

# ---- part 4: restart with N messages ----

# restart_node HOW stops the single node (HOW: term or kill), starts it
# again on the same data and sets restart_start, the start instant in
# unix ns.
restart_start=""
restart_node() {
	local how=$1 pid=${node_pids[0]}
	case "$set_name" in
	warren-1)
		{
			if [ "$how" = kill ]; then kill -9 "$pid"; else kill "$pid"; fi
			wait "$pid" || true
		} 2>/dev/null # bash's "Killed" notice
		restart_start=$(date +%s%N)
		start_warren_node 1 "$warren_port"
		;;
	rabbit-1)
		if [ "$how" = kill ]; then
			kill -9 "$pid"
			while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
		else
			stop_node "$rabbit_single_dir/env"
		fi
		restart_start=$(date +%s%N)
		(
			# shellcheck disable=SC1091
			. "$rabbit_single_dir/env"
			setsid /usr/lib/rabbitmq/bin/rabbitmq-server >>"$RABBITMQ_LOG_BASE/console.log" 2>&1 </dev/null &
		)
		;;
	esac
}

# after_restart refreshes the node's pid once it serves again.
after_restart() {
	if [ "$set_name" = rabbit-1 ]; then
		node_pids[0]=$(cat "$rabbit_single_dir/rabbitmq.pid" 2>/dev/null || echo "${node_pids[0]}")
	fi
}

# restart_set runs the restart measurements on a started single node.
restart_set() {
	local s=$set_name prefix=qrestart rc=0 how u=${node_urls[0]}
	rc=0
	say "$s: one message into $prefix-0"
	run_perf "$work/runs/$s-rs-load1" --uri "$u" --queue-prefix $prefix --queue-args "$queue_args" --persistent \
		--confirm 1 --consumers 0 --count 1 --duration 0 --name restart-load || rc=$?
	if [ "$rc" = 3 ]; then
		note "$s" rs "refused the quorum queue: $(jq -r .reason "$work/runs/$s-rs-load1.json")"
		return
	elif [ "$rc" != 0 ]; then
		note "$s" rs "could not load the queue: $(jq -r '.reason // empty' "$work/runs/$s-rs-load1.json" 2>/dev/null)"
		return
	fi
	ready_after "$s-rs-1-term" term
	say "$s: $((n - 1)) more messages into $prefix-0"
	run_perf "$work/runs/$s-rs-load" --uri "$u" --broker-pid "${node_pids[0]}" --queue-prefix $prefix \
		--queue-args "$queue_args" --persistent --confirm "$confirm" --consumers 0 --count $((n - 1)) --duration 0 \
		--drain-timeout 60s --name restart-load || true
	local round
	for round in $(seq 1 "$restart_rounds"); do
		for how in term kill; do ready_after "$s-rs-n-$how-$round" "$how"; done
	done
}

# ready_after NAME HOW restarts the node and waits until the queue
# answers a passive declare and a basic.get.
ready_after() {
	say "$set_name: restart ($2), then waiting for basic.get on qrestart-0"
	restart_node "$2"
	"$work/warren-perf" ready --uri "${node_urls[0]}" --queue qrestart-0 --since "$restart_start" --get --timeout 600s \
		--json >"$work/runs/$1.json" 2>"$work/runs/$1.log" || say "ready --get failed: $(tail -n 1 "$work/runs/$1.log")"
	# What the queue holds once it delivers (RabbitMQ's declare-ok says 0
	# while the queue recovers).
	"$work/warren-perf" ready --uri "${node_urls[0]}" --queue qrestart-0 --timeout 60s \
		--json >"$work/runs/$1-count.json" 2>/dev/null || true
	after_restart
}

# ---- what else the machine is doing ----

# cpu_ticks prints "pid name session ppid utime+stime" for every process
# (the name without spaces; /proc/PID/stat's fields counted after the
# name's closing paren).
cpu_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{
		rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
		name = $0; sub(/^[0-9]+ \(/, "", name); sub(/\) .*$/, "", name); gsub(/ /, "_", name)
		print $1, name, f[4], f[2], f[12] + f[13] }' || true
}

# ours PID NAME tells whether a process outside the script's session is
# one of the run's RabbitMQ nodes: a beam.smp on one of the run's epmd
# ports (start.sh and cluster-start.sh start each node in a session of
# its own, and other engineers' RabbitMQ nodes run the same scripts).
ours() {
	[ "$2" = beam.smp ] || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null |
		grep -qE -- "-epmd_port ($((rabbit_port - 1300))|$((rabbit_cluster_port - 1300))) "
}

# sample_others appends, every 10 s, "seconds name pid ticks" for each
# process outside this run that used CPU in the interval, to $1: not in
# the script's session (Warren nodes, warren-perf, rabbitmqctl), not one
# of its RabbitMQ nodes, not a kernel thread.
sample_others() {
	local prev cur t0=$SECONDS sid t name pid d
	sid=$(awk '{ sub(/^.*\) /, ""); print $4 }' /proc/$$/stat)
	prev=$(cpu_ticks)
	while sleep 10; do
		cur=$(cpu_ticks)
		awk -v sid="$sid" -v t=$((SECONDS - t0)) '
			NR == FNR { p[$1] = $5; next }
			($1 in p) && $3 != sid && $4 != 2 && $1 != 2 && $5 > p[$1] { print t, $2, $1, $5 - p[$1] }' \
			<(echo "$prev") <(echo "$cur") |
			while read -r t name pid d; do
				ours "$pid" "$name" || echo "$t $name $pid $d"
			done >>"$1"
		prev=$cur
	done
}

# others_summary N says what the processes outside the run used over N
# sampled intervals.
others_summary() {
	awk -v n="$1" '
		{ total += $4; per[$1] += $4; by[$2] += $4 }
		END {
			if (n == 0) { print "not sampled"; exit }
			for (t in per) if (per[t] > peak) peak = per[t]
			printf "on average %.2f of a core, at most %.2f over a 10 s interval", total / 100 / (n * 10), peak / 1000
			k = 0
			while (k < 5) {
				best = ""; for (p in by) if (best == "" || by[p] > by[best]) best = p
				if (best == "" || by[best] < 100) break
				printf "%s %s %.0f CPU s", (k == 0 ? "; mostly" : ","), best, by[best] / 100
				delete by[best]; k++
			}
		}' "$work/others.txt" 2>/dev/null || echo "not sampled"
}

# ---- the run ----

say "building warren and warren-perf into $work"
go build -o "$work/warren" ./cmd/warren
go build -o "$work/warren-perf" ./cmd/warren-perf
mkdir -p "$work/data" "$work/runs"
commit=$(git rev-parse --short HEAD)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/others.txt"
sample_others "$work/others.txt" &
sampler_pid=$!
run_start=$SECONDS
rabbit_version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | cut -d- -f1 || true)
erlang_version=$(dpkg-query -W -f='${Version}' erlang-base 2>/dev/null | sed 's/^[0-9]*://; s/+.*//' || true)

for b in $brokers; do
	if has "$parts" throughput || has "$parts" latency; then
		for size_set in 1 3; do
			if start_set "$b-$size_set"; then bench_set; else note "$b-$size_set" bench "did not start"; fi
			stop_set
		done
	fi
	if has "$parts" failover; then
		for mode in $fo_modes; do
			if start_set "$b-3"; then failover_set "$mode"; else note "$b-3" "fo-$mode" "did not start"; fi
			stop_set
		done
	fi
	if has "$parts" restart; then
		if start_set "$b-1"; then restart_set; else note "$b-1" rs "did not start"; fi
		stop_set
	fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""
others=$(others_summary $(((SECONDS - run_start) / 10)))
run_minutes=$(((SECONDS - run_start + 30) / 60))

# ---- the report ----

num() { awk -v x="$1" 'BEGIN { if (x == "") { print "–"; exit } s = sprintf("%.0f", x); n = ""; while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) } print s n }'; }
ms() { awk -v x="$1" 'BEGIN { if (x == "") print "–"; else if (x >= 100000) printf "%.0f ms", x / 1000; else if (x >= 1000) printf "%.1f ms", x / 1000; else printf "%.2f ms", x / 1000 }'; }
msec() { awk -v x="$1" 'BEGIN { if (x == "") print "–"; else if (x >= 10000) printf "%.1f s", x / 1000; else printf "%.0f ms", x }'; }
field() { jq -r "$2 // empty" "$1" 2>/dev/null || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f×", a / b }'; }
label() { if [ "$1" = warren ]; then echo Warren; else echo "RabbitMQ${rabbit_version:+ $rabbit_version}"; fi; }
sizename() { if (($1 % 1024 == 0)); then echo "$(($1 / 1024)) KiB"; else echo "$1 B"; fi; }
placename() {
	case "$1" in
	one) echo "one node" ;;
	leader) echo "3 nodes, client on the leader's node" ;;
	follower) echo "3 nodes, client on a follower's node" ;;
	esac
}
setof() { if [ "$1" = one ]; then echo 1; else echo 3; fi; }

# mean SET CASE PLACE JQ: a field's mean over the rounds of successful runs.
mean() {
	local f sum=0 k=0 v round
	for round in $(seq 1 "$rounds"); do
		f="$work/runs/$1-$2-$3-$round.json"
		[ "$(field "$f" .status)" = ok ] || continue
		v=$(field "$f" "$4")
		[ -n "$v" ] || continue
		sum=$(awk -v a="$sum" -v b="$v" 'BEGIN { print a + b }')
		k=$((k + 1))
	done
	if [ "$k" -gt 0 ]; then awk -v a="$sum" -v k="$k" 'BEGIN { print a / k }'; fi
}

# why SET CASE PLACE: why a case has no figure ("" when it has one).
why() {
	local f="$work/runs/$1-$2-$3-1.json" st
	if [ -f "$work/runs/$1-bench.note" ]; then
		cut -c1-60 "$work/runs/$1-bench.note" | sed 's/:.*//'
		return
	fi
	st=$(field "$f" .status)
	case "$st" in
	ok) ;;
	"") echo "not run" ;;
	*) echo "$st" ;;
	esac
}

# cell SET CASE PLACE JQ FORMAT: the mean, formatted, or why there is none.
cell() {
	local w v
	w=$(why "$1" "$2" "$3")
	v=$(mean "$1" "$2" "$3" "$4")
	if [ -n "$w" ] || [ -z "$v" ]; then echo "${w:-–}"; else "$5" "$v"; fi
}
p50p99() {
	local w
	w=$(why "$1" "$2" "$3")
	if [ -n "$w" ]; then
		echo "$w"
	else
		echo "$(ms "$(mean "$1" "$2" "$3" .confirm_latency.p50_us)") / $(ms "$(mean "$1" "$2" "$3" .confirm_latency.p99_us)")"
	fi
}
target_tp() { if [ "$1" = one ]; then echo "≥ 1.5×"; else echo "≥ 2×"; fi; }

report() {
	local W R s place size c
	W=$(label warren) R=$(label rabbit)
	echo "# Quorum queues: Warren against RabbitMQ${rabbit_version:+ $rabbit_version}"
	echo
	echo "Built from commit $commit, $started_at, by \`cmd/warren-perf/quorum.sh\` (one run, one machine, one client:"
	echo "warren-perf; one broker set at a time). $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) of memory;"
	echo "RabbitMQ ${rabbit_version:-?} on Erlang ${erlang_version:-?} (Debian's packages), started as plain processes by"
	echo "\`e2e/rabbitmq/start.sh\` and \`cluster-start.sh\` (data under /tmp, $(stat -f -c %T /tmp)); Warren's data under $(dirname "$work") ($(stat -f -c %T "$work"))."
	echo
	echo "The run took $run_minutes min; load average $load_before before it and $load_after after it. Other work on the"
	echo "machine meanwhile (processes outside the run, sampled every 10 s): $others."
	echo
	echo "\`\`\`sh"
	echo "PARTS=\"$parts\" BROKERS=\"$brokers\" DURATION=$duration LATENCY_DURATION=$lat_duration ROUNDS=$rounds SIZES=\"$sizes\" CONFIRM=$confirm MAX_IN_FLIGHT=$inflight \\"
	echo "  FAILOVER_DURATION=$fo_duration KILL_AFTER=$kill_after FAILOVER_MODES=\"$fo_modes\" N=$n RESTART_ROUNDS=$restart_rounds cmd/warren-perf/quorum.sh"
	echo "\`\`\`"
	local notes=()
	local what
	for s in warren-1 warren-3 rabbit-1 rabbit-3; do
		for c in bench fo-window fo-one rs; do
			[ -f "$work/runs/$s-$c.note" ] || continue
			case "$c" in
			bench) what="throughput and latency" ;;
			rs) what="restart" ;;
			*) what="failover, ${c#fo-}" ;;
			esac
			notes+=("$(label "${s%-*}"), ${s#*-} node(s), $what: $(cat "$work/runs/$s-$c.note")")
		done
	done
	if [ "${#notes[@]}" -gt 0 ]; then
		echo
		echo "Not measured:"
		echo
		for c in "${notes[@]}"; do echo "- $c"; done
	fi

	if has "$parts" throughput; then
		echo
		echo "## 1. Throughput: 1 publisher → 1 quorum queue → 1 consumer, persistent, confirms window $confirm"
		echo
		echo "Confirmed msg/s over $duration windows ($rounds round(s)); manual acks, prefetch 1000, at most $inflight messages"
		echo "published and not yet consumed. With three nodes the publisher and the consumer both connect to the"
		echo "node named; the leader is the queue's Raft leader$(for s in warren-3 rabbit-3; do [ -f "$work/runs/$s-leader" ] && printf ' (%s: %s)' "$(label "${s%-*}")" "$(cat "$work/runs/$s-leader")"; done)."
		echo
		echo "| size | placement | $W msg/s | $R msg/s | $W ÷ RabbitMQ | target | $W confirm p50 / p99 | $R confirm p50 / p99 |"
		echo "|---|---|--:|--:|--:|---|---|---|"
		for size in $sizes; do
			for place in one leader follower; do
				local a b
				a=$(mean "warren-$(setof $place)" "tp$size" $place .window.confirmed_per_sec)
				b=$(mean "rabbit-$(setof $place)" "tp$size" $place .window.confirmed_per_sec)
				echo "| $(sizename "$size") | $(placename $place) | $(cell "warren-$(setof $place)" "tp$size" $place .window.confirmed_per_sec num) |" \
					"$(cell "rabbit-$(setof $place)" "tp$size" $place .window.confirmed_per_sec num) | **$(ratio "$a" "$b")** | $(target_tp $place) |" \
					"$(p50p99 "warren-$(setof $place)" "tp$size" $place) | $(p50p99 "rabbit-$(setof $place)" "tp$size" $place) |"
			done
		done
	fi

	if has "$parts" latency; then
		echo
		echo "## 2. One message in flight: confirm latency"
		echo
		echo "Persistent 16 B messages, confirm window 1, each published once the one before was consumed (prefetch 1),"
		echo "$lat_duration windows; the confirm latency is publish → basic.ack at the client."
		echo
		echo "| placement | $W confirm p50 / p99 | $R confirm p50 / p99 | target | $W round trips/s | $R round trips/s |"
		echo "|---|---|---|---|--:|--:|"
		for place in one leader follower; do
			echo "| $(placename $place) | $(p50p99 "warren-$(setof $place)" lat $place) | $(p50p99 "rabbit-$(setof $place)" lat $place) | p99 ≤ 1 ms |" \
				"$(cell "warren-$(setof $place)" lat $place .window.confirmed_per_sec num) | $(cell "rabbit-$(setof $place)" lat $place .window.confirmed_per_sec num) |"
		done
	fi

	if has "$parts" throughput || has "$parts" latency; then
		echo
		echo "Every run, with end-to-end latency and the brokers' CPU (all nodes summed):"
		echo
		echo "| case | broker | placement | msg/s | confirm p50 / p99 | end-to-end p50 / p99 | broker CPU µs/msg | status |"
		echo "|---|---|---|--:|---|---|--:|---|"
		local cases="" f st
		has "$parts" throughput && for size in $sizes; do cases+=" tp$size"; done
		has "$parts" latency && cases+=" lat"
		for c in $cases; do
			for s in warren rabbit; do
				for place in one leader follower; do
					f="$work/runs/$s-$(setof $place)-$c-$place-1.json"
					[ -f "$f" ] || continue
					st=$(field "$f" .status)
					[ "$st" = ok ] || st="$st: $(field "$f" .reason | cut -c1-120)"
					echo "| $([ "$c" = lat ] && echo "one in flight, 16 B" || echo "window $confirm, $(sizename "${c#tp}")") | $(label $s) | $(placename $place) |" \
						"$(num "$(mean "$s-$(setof $place)" "$c" $place .window.confirmed_per_sec)") | $(p50p99 "$s-$(setof $place)" "$c" $place) |" \
						"$(ms "$(mean "$s-$(setof $place)" "$c" $place .end_to_end_latency.p50_us)") / $(ms "$(mean "$s-$(setof $place)" "$c" $place .end_to_end_latency.p99_us)") |" \
						"$(awk -v x="$(mean "$s-$(setof $place)" "$c" $place .broker.cpu_us_per_msg)" 'BEGIN { if (x == "") print "–"; else printf "%.1f", x }') | $st |"
				done
			done
		done
	fi

	if has "$parts" failover; then
		report_failover
	fi
	if has "$parts" restart; then
		report_restart
	fi
}

# fo FILE JQ: a failover field, or –.
fo() {
	local v
	v=$(field "$1" "$2")
	msec "$v"
}

# first_ack FILE STREAM: when a reconnected producer's first ack came, or
# "none" when it reconnected and none came.
first_ack() {
	if [ -n "$(field "$1" "$2.first_ack_after_reconnect_ms")" ] || [ -z "$(field "$1" "$2.reconnected_ms")" ]; then
		fo "$1" "$2.first_ack_after_reconnect_ms"
	else
		echo none
	fi
}

report_failover() {
	local s mode f
	echo
	echo "## 3. Failover: the leader killed with kill -9"
	echo
	echo "Three nodes, a fresh cluster for each run; persistent 16 B messages into one quorum queue. $kill_after into a"
	echo "$fo_duration window warren-perf sends SIGKILL to the process of the queue's leader (\`--kill-pid\`; RabbitMQ: that"
	echo "node's beam.smp). Producer 0 publishes on a surviving node; producer 1 on the leader's node, and when its"
	echo "connection drops it reconnects to that survivor and publishes again what was unconfirmed (\`--reconnect\`)."
	echo "Consumer 0 is on the other survivor, consumer 1 on the leader's node and reconnects likewise. Times are"
	echo "from the kill. *window*: confirm window $confirm, at most $inflight in flight; *one*: one message in flight."
	echo
	echo "| broker | mode | survivor's producer: confirms stop → resume | survivor's consumer: deliveries resume | producer moved from the killed node: reconnected / first confirm / first ack | its acks / nacks after the kill (resent) | consumer moved from the killed node: reconnected / first delivery |"
	echo "|---|---|---|---|---|---|---|"
	local p0='.failover.producers[0]' p1='.failover.producers[1]' c0='.failover.consumers[0]' c1='.failover.consumers[1]'
	for s in warren rabbit; do
		has "$brokers" "$s" || continue
		for mode in $fo_modes; do
			f="$work/runs/$s-3-fo-$mode.json"
			if [ -f "$work/runs/$s-3-fo-$mode.note" ]; then
				echo "| $(label $s) | $mode | $(cut -c1-60 "$work/runs/$s-3-fo-$mode.note" | sed 's/:.*//') | | | | |"
				continue
			fi
			echo "| $(label $s) | $mode | $(fo "$f" "$p0.gap_start_ms") → **$(fo "$f" "$p0.resumed_ms")** | $(fo "$f" "$c0.resumed_ms") |" \
				"$(fo "$f" "$p1.reconnected_ms") / $(fo "$f" "$p1.first_after_reconnect_ms") / **$(first_ack "$f" "$p1")** |" \
				"$(num "$(field "$f" "$p1.acks_after")") / $(num "$(field "$f" "$p1.nacks_after")") ($(num "$(field "$f" "$p1.resent")")) |" \
				"$(fo "$f" "$c1.reconnected_ms") / $(fo "$f" "$c1.first_after_reconnect_ms") |"
		done
	done
	echo
	echo "A stop → resume pair is the pause the kill caused: the longest between two confirms (or deliveries) that"
	echo "ended after the kill and began less than a second after it, since a confirm already under way may still"
	echo "arrive just after the kill. A first confirm may be a nack; the first ack is the first message taken."
	echo
	echo "The total-queue check of the same runs (lost: confirmed and never consumed; unexpected: consumed and"
	echo "never published; duplicates are allowed, at least once; recovered: consumed though never confirmed; in"
	echo "doubt: neither confirmed nor consumed):"
	echo
	echo "| broker | mode | published | confirmed | nacked | lost | unexpected | duplicates | recovered | in doubt | reconnects | status |"
	echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
	for s in warren rabbit; do
		has "$brokers" "$s" || continue
		for mode in $fo_modes; do
			f="$work/runs/$s-3-fo-$mode.json"
			if [ ! -f "$f" ] || [ -f "$work/runs/$s-3-fo-$mode.note" ]; then continue; fi
			local st
			st=$(field "$f" .status)
			[ "$st" = ok ] || st="$st: $(field "$f" .reason | cut -c1-120)"
			echo "| $(label $s) | $mode | $(num "$(field "$f" .totals.published)") | $(num "$(field "$f" .totals.confirmed)") | $(num "$(field "$f" .totals.nacked)") |" \
				"**$(field "$f" .totals.lost)** | **$(field "$f" .totals.unexpected)** | $(field "$f" .totals.duplicates) | $(field "$f" .totals.recovered) |" \
				"$(field "$f" .totals.in_doubt) | $(field "$f" .totals.reconnects) | $st |"
		done
	done
}

report_restart() {
	local s f step
	echo
	echo "## 4. Restart with $(num "$n") messages in a quorum queue"
	echo
	echo "One node; a quorum queue filled with persistent 16 B messages (confirms, window $confirm). The node is"
	echo "stopped (Warren: SIGTERM; RabbitMQ: \`rabbitmqctl stop\`) or killed with kill -9, then started again on"
	echo "the same data; times are from the start of the new process until a passive queue.declare answers and"
	echo "until basic.get returns a message (\`warren-perf ready --get\`). The first row, with one message, is the"
	echo "broker's own start for scale."
	echo
	echo "| broker | messages | restart | declare answers | **basic.get served** | messages then |"
	echo "|---|--:|---|--:|--:|--:|"
	local how count step round
	for s in warren rabbit; do
		has "$brokers" "$s" || continue
		if [ -f "$work/runs/$s-1-rs.note" ]; then
			echo "| $(label $s) | $(num "$n") | – | $(cut -c1-60 "$work/runs/$s-1-rs.note" | sed 's/:.*//') | | |"
			continue
		fi
		for step in 1-term $(for round in $(seq 1 "$restart_rounds"); do echo "n-term-$round n-kill-$round"; done); do
			f="$work/runs/$s-1-rs-$step"
			how=SIGTERM count=$(num "$n")
			if [ "$s" = rabbit ]; then how="rabbitmqctl stop"; fi
			case "$step" in *kill*) how="kill -9" ;; esac
			case "$step" in 1-*) count=1 ;; *) how="$how, round ${step##*-}" ;; esac
			echo "| $(label $s) | $count | $how | $(msec "$(field "$f.json" .serving_after_ms)") |" \
				"**$(msec "$(field "$f.json" .get_after_ms)")** | $(num "$(field "$f-count.json" .messages)") |"
		done
	done
	for s in warren rabbit; do
		f="$work/runs/$s-1-rs-load.json"
		[ -f "$f" ] || continue
		echo
		echo "$(label $s) took the $(num "$((n - 1))") messages after the first at $(num "$(field "$f" .window.published_per_sec)") msg/s," \
			"$(awk -v x="$(field "$f" .broker.cpu_us_per_msg)" 'BEGIN { if (x == "") print "–"; else printf "%.1f", x }') broker CPU µs/msg (status $(field "$f" .status))."
	done
}

# Notes written by hand below this line of the report survive a rerun.
marker='<!-- Notes below this line are written by hand; quorum.sh keeps them when it rewrites the file. -->'
mkdir -p "$(dirname "$out")"
kept=""
if [ -f "$out" ]; then kept=$(awk -v m="$marker" 'found || index($0, m) == 1 { found = 1; print }' "$out"); fi
{
	report
	echo
	printf '%s\n' "${kept:-$marker}"
} >"$out.new"
mv "$out.new" "$out"
say "report written to $out"
