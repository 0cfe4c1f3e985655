#!/usr/bin/env bash
# What idle quorum queues cost a node: starts a three-node Warren cluster
# as plain processes (cluster/local/start.sh, in a throwaway folder),
# declares N quorum queues (three members each) and, once they are
# declared, holds them idle for WINDOW seconds, then reports per node the
# CPU used over the window (utime + stime from /proc, as % of one core),
# its RSS before the queues and at the end of the window, and the RSS per
# replica. Each node holds a replica of every queue.
#
#   N=1000 WINDOW=30 cmd/warren-perf/idle-quorum.sh
set -euo pipefail

N=${N:-1000}
WINDOW=${WINDOW:-30}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DIR=$(mktemp -d)
export CLUSTER_DIR=$DIR
export WARREN_CLUSTER_SECRET=${WARREN_CLUSTER_SECRET:-warren-local-cluster}
go build -o "$DIR/warren" ./cmd/warren
go build -o "$DIR/warren-perf" ./cmd/warren-perf
trap 'cluster/local/stop.sh >/dev/null; rm -rf "$DIR"' EXIT
BIN=$DIR/warren cluster/local/start.sh >/dev/null

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
"$DIR/warren-perf" --uri amqp://guest:guest@127.0.0.1:5672/ --producers 0 --consumers 0 \
	--queues "$N" --queue-args x-queue-type=quorum --duration "$((WINDOW + 60))s" \
	--queue-prefix idle-q >"$DIR/perf.out" 2>&1 &
perf=$!
# Declared once the third node's status lists them all with a leader.
for _ in $(seq 1 600); do
	n=$("$DIR/warren" cluster status --json --cluster-addr 127.0.0.1:25674 2>/dev/null |
		tr -d ' \n' | grep -o '"leader":"[^"]\+"' | wc -l || true)
	[ "$n" -ge "$N" ] && break
	sleep 1
done
declared=$(echo "$(date +%s.%N) - $start" | bc)
sleep 5
declare -a t0
for i in 0 1 2; do t0[$i]=$(ticks "${pids[$i]}"); done
sleep "$WINDOW"
echo "N=$N quorum queues on three nodes, declared and led in ${declared}s, idle window ${WINDOW}s"
echo "| node | CPU, % of a core | RSS before | RSS after | RSS per replica |"
echo "|---|--:|--:|--:|--:|"
for i in 0 1 2; do
	t1=$(ticks "${pids[$i]}")
	r1=$(rss_kb "${pids[$i]}")
	cpu=$(echo "scale=1; 100 * ($t1 - ${t0[$i]}) / $hz / $WINDOW" | bc)
	per=$(echo "scale=1; ($r1 - ${rss0[$i]}) / $N" | bc)
	echo "| warren$((i + 1)) | $cpu | $((rss0[$i] / 1024)) MiB | $((r1 / 1024)) MiB | $per KB |"
done
kill "$perf" 2>/dev/null || true
