#!/usr/bin/env bash
# fsyncs.sh counts the fsync and fdatasync calls each broker makes while it
# takes persistent messages with publisher confirms into one durable queue
# (1 publisher -> 1 queue -> 1 consumer, 16 B), on a fresh Warren and a
# throwaway RabbitMQ, and prints a Markdown table of messages per call. It
# backs the README's statement that both brokers fsync before they confirm.
#
#   cmd/warren-perf/fsyncs.sh
#   COUNT=2000 WINDOWS="1 1000" cmd/warren-perf/fsyncs.sh
#
# Environment:
#   COUNT        messages per run (default 20000; with a window of 1, 2000)
#   WINDOWS      publisher-confirm windows to measure (default "1 1000")
#   WARREN_PORT  Warren's AMQP port (default 5680)
#   RABBIT_PORT  RabbitMQ's AMQP port (default 5673)
#   RABBIT       0 to measure Warren alone
#   WORK_DIR     parent of the temporary folder (default: $TMPDIR or /tmp, or
#                /var/tmp when /tmp is a tmpfs)
#
# strace (installed with apt-get when missing) attaches to every thread of
# the broker process for the length of one warren-perf run.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
count=${COUNT:-20000}
windows=${WINDOWS:-1 1000}
warren_port=${WARREN_PORT:-5680}
rabbit_port=${RABBIT_PORT:-5673}

if ! command -v strace >/dev/null; then
	echo "fsyncs.sh: installing strace" >&2
	apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >&2
fi
script=fsyncs.sh
# shellcheck source=cmd/warren-perf/brokers.sh
. cmd/warren-perf/brokers.sh
need_jq
start_brokers

# calls prints the fsync plus fdatasync calls in an strace -c summary.
calls() {
	awk '$NF == "fsync" || $NF == "fdatasync" { n += $4 } END { print n + 0 }' "$1"
}

echo "| broker | confirm window | messages | fsync + fdatasync calls | messages per call | confirmed msg/s |"
echo "|---|--:|--:|--:|--:|--:|"
for w in $windows; do
	n=$count
	if [ "$w" = 1 ]; then n=$((count / 10)); fi
	for i in "${!labels[@]}"; do
		label=${labels[$i]} uri=${uris[$i]} pid=${pids[$i]}
		strace -f -c -e trace=fsync,fdatasync -p "$pid" -o "$work/strace.txt" 2>/dev/null &
		strace_pid=$!
		sleep 1 # strace attaches to every thread before the run starts
		"$work/warren-perf" --uri "$uri" --persistent --confirm "$w" --count "$n" --duration 0 \
			--size 16 --json >"$work/run.json"
		kill -INT "$strace_pid"
		wait "$strace_pid" 2>/dev/null || true
		c=$(calls "$work/strace.txt")
		confirmed=$(jq -r '.totals.confirmed' "$work/run.json")
		rate=$(jq -r '.window.confirmed_per_sec | floor' "$work/run.json")
		per=$(awk -v n="$confirmed" -v c="$c" 'BEGIN { if (c > 0) printf "%.1f", n / c; else print "–" }')
		echo "| $label | $w | $confirmed | $c | $per | $rate |"
	done
done
