#!/usr/bin/env bash
# What idle quorum queues cost a node: starts a three-node Warren cluster
# as plain processes (AMQP on WARREN_PORT, default 5672, and the next two;
# cluster ports those plus 20000; data in a throwaway folder),
# declares N quorum queues (three members each) through node 1 with
# x-queue-leader-locator=balanced, so that the leaders are spread over the
# three nodes, a third each, and, once they are declared, holds them idle
# for WINDOW seconds, then reports per node the quorum queues it leads,
# the CPU used over the window (utime + stime from /proc, as % of one
# core), its RSS before the queues and at the end of the window, and the
# RSS per replica. Each node holds a replica of every queue. The window
# begins SETTLE seconds (default 30) after the declares: an idle group's
# replicas rest 10 s after its last activity, its leader a few seconds
# after its followers (queue/quorum/rest.go); SETTLE=5 measures them
# before they rest. With RESTART=1 it then restarts node 2 (SIGTERM, then
# the same command) and reports how long until node 2's status lists a
# leader for every queue, the groups waking for it, and each node's CPU
# over the 30 s after that.
#
#   N=1000 WINDOW=30 cmd/warren-perf/idle-quorum.sh
#   N=10000 WINDOW=60 WARREN_PORT=5881 cmd/warren-perf/idle-quorum.sh
set -euo pipefail

N=${N:-1000}
WINDOW=${WINDOW:-30}
SETTLE=${SETTLE:-30}
PORT=${WARREN_PORT:-5672}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d)
export WARREN_CLUSTER_SECRET=${WARREN_CLUSTER_SECRET:-warren-local-cluster}
go build -o "$DIR/warren" ./cmd/warren
go build -o "$DIR/warren-perf" ./cmd/warren-perf
cport() { echo $((PORT + $1 - 1 + 20000)); }
join=127.0.0.1:$(cport 1),127.0.0.1:$(cport 2),127.0.0.1:$(cport 3)
start_node() {
	"$DIR/warren" --node-name "warren$1@localhost" --listen "127.0.0.1:$((PORT + $1 - 1))" \
		--data-dir "$DIR/warren$1" --cluster-listen "127.0.0.1:$(cport "$1")" \
		--join "$join" --bootstrap-expect 3 >>"$DIR/warren$1.log" 2>&1 &
	echo $! >"$DIR/warren$1.pid"
}
for i in 1 2 3; do start_node "$i"; done
# At exit the nodes get 10 s to stop before they are killed, and only
# then is their data removed.
stop_all() {
	for i in 1 2 3; do kill "$(cat "$DIR/warren$i.pid")" 2>/dev/null || true; done
	for _ in $(seq 1 100); do
		alive=0
		for i in 1 2 3; do kill -0 "$(cat "$DIR/warren$i.pid")" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for i in 1 2 3; do kill -9 "$(cat "$DIR/warren$i.pid")" 2>/dev/null || true; done
	rm -rf "$DIR"
}
trap stop_all EXIT
for i in 1 2 3; do
	for _ in $(seq 1 150); do
		"$DIR/warren" cluster status --json --cluster-addr "127.0.0.1:$(cport "$i")" 2>/dev/null |
			tr -d ' \n' | grep -q '"vhosts":\["/"' && break
		sleep 0.2
	done
done

pids=()
for i in 1 2 3; do pids+=("$(cat "$DIR/warren$i.pid")"); done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

declare -a rss0
for i in 0 1 2; do rss0[$i]=$(rss_kb "${pids[$i]}"); done
start=$(date +%s.%N)
# warren-perf declares the queues, holds them while nothing flows, and
# deletes them at the end; the window is measured inside its run.
"$DIR/warren-perf" --uri "amqp://guest:guest@127.0.0.1:$PORT/" --producers 0 --consumers 0 \
	--queues "$N" --queue-args x-queue-type=quorum,x-queue-leader-locator=balanced --duration "$((WINDOW + SETTLE + 60 + ${RESTART:-0} * 240))s" \
	--queue-prefix idle-q >"$DIR/perf.out" 2>&1 &
perf=$!
# The leader of each queue, as node ${1:-3}'s status lists them (a
# queue's leader follows its members; the definitions' leader does not).
queue_leaders() {
	"$DIR/warren" cluster status --json --cluster-addr "127.0.0.1:$(cport "${1:-3}")" 2>/dev/null |
		tr -d ' \n' | grep -o '\],"leader":"[^"]\+"' | cut -d'"' -f4 || true
}
# Declared once the third node's status lists them all with a leader.
for _ in $(seq 1 600); do
	n=$(queue_leaders | wc -l)
	[ "$n" -ge "$N" ] && break
	sleep 1
done
declared=$(echo "$(date +%s.%N) - $start" | bc)
sleep "$SETTLE"
declare -a t0
for i in 0 1 2; do t0[$i]=$(ticks "${pids[$i]}"); done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
sleep "$WINDOW"
declare -a t1 r1
for i in 0 1 2; do
	t1[$i]=$(ticks "${pids[$i]}")
	r1[$i]=$(rss_kb "${pids[$i]}")
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
# Asked once the window is read, so that answering is not counted in it.
leaders=$(queue_leaders)
echo "N=$N quorum queues on three nodes, declared and led in ${declared}s, idle window ${WINDOW}s; load average $load0 before it, $load1 after"
echo "| node | leads | CPU, % of a core | RSS before | RSS after | RSS per replica |"
echo "|---|--:|--:|--:|--:|--:|"
for i in 0 1 2; do
	led=$(grep -cx "warren$((i + 1))@localhost" <<<"$leaders" || true)
	cpu=$(echo "scale=1; 100 * (${t1[$i]} - ${t0[$i]}) / $hz / $WINDOW" | bc)
	per=$(echo "scale=1; (${r1[$i]} - ${rss0[$i]}) / $N" | bc)
	echo "| warren$((i + 1)) | $led | $cpu | $((rss0[$i] / 1024)) MiB | $((r1[$i] / 1024)) MiB | $per KB |"
done
if [ "${RESTART:-0}" = 1 ]; then
	kill "${pids[1]}"
	while kill -0 "${pids[1]}" 2>/dev/null; do sleep 0.1; done
	t=$(date +%s.%N)
	start_node 2
	pids[1]=$(cat "$DIR/warren2.pid")
	for _ in $(seq 1 1200); do
		[ "$(queue_leaders 2 | wc -l)" -ge "$N" ] && break
		sleep 0.5
	done
	back=$(echo "$(date +%s.%N) - $t" | bc)
	for i in 0 1 2; do t0[$i]=$(ticks "${pids[$i]}"); done
	sleep 30
	cpus=""
	for i in 0 1 2; do cpus="$cpus $(echo "scale=1; 100 * ($(ticks "${pids[$i]}") - ${t0[$i]}) / $hz / 30" | bc)"; done
	echo "node 2 restarted: a leader for every queue in its status ${back}s after its start; CPU per node over the next 30 s:$cpus %"
fi
kill "$perf" 2>/dev/null || true
