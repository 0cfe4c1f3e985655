#!/usr/bin/env bash
# transient.sh measures what a backlog of transient messages costs: one
# publisher puts N transient messages (publisher confirms, so that every one
# is in the queue when it ends) into one non-durable queue with no consumer, on a fresh
# Warren (and a throwaway RabbitMQ with RABBIT=1), and prints a Markdown
# table of the broker's RSS idle, with the backlog held, and SETTLE seconds
# later, with the disk the data dir uses. It produces the transient backlog
# table of cmd/warren-perf/results/flow.md.
#
#   cmd/warren-perf/transient.sh               # 1,000,000 messages of 1 KiB
#   N=100000 cmd/warren-perf/transient.sh      # a quick check
#
# Environment:
#   N            messages to publish (default 1000000)
#   SIZE         body size in bytes (default 1024)
#   SETTLE       seconds to wait before the last RSS sample (default 10)
#   WARREN_PORT  Warren's AMQP port (default 5683)
#   RABBIT_PORT  RabbitMQ's AMQP port (default 5677)
#   RABBIT       1 to measure a throwaway RabbitMQ too (default 0)
#   WORK_DIR, KEEP  as for brokers.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${N:-1000000}
size=${SIZE:-1024}
settle=${SETTLE:-10}
warren_port=${WARREN_PORT:-5683}
rabbit_port=${RABBIT_PORT:-5677}
export RABBIT=${RABBIT:-0}

script=transient.sh
# shellcheck source=cmd/warren-perf/brokers.sh
. cmd/warren-perf/brokers.sh
need_jq
start_brokers

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v x="$1" 'BEGIN { printf "%.0f", x / 1048576 }'; }
num() { awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = ""; while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) } print s n }'; }

echo "| broker | messages | published msg/s | RSS idle | RSS with the backlog | RSS $settle s later | data dir | status |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
failed=0
for i in "${!labels[@]}"; do
	out="$work/runs/$i.json"
	idle=$(rss "${pids[$i]}")
	rc=0
	"$work/warren-perf" --uri "${uris[$i]}" --producers 1 --consumers 0 --queues 1 \
		--queue-prefix "transient$i" --size "$size" --count "$n" --duration 0 \
		--confirm 1000 --name "transient-$size" --json >"$out" 2>"$work/runs/$i.log" || rc=$?
	held=$(rss "${pids[$i]}")
	sleep "$settle"
	later=$(rss "${pids[$i]}")
	disk=$(du -sb "$work/data" 2>/dev/null | cut -f1)
	[ "$i" = 0 ] || disk=0
	s=$(jq -r '.status // "no result"' "$out" 2>/dev/null || echo "no result")
	if [ "$rc" != 0 ]; then failed=1; s="$s (exit $rc)"; fi
	rate=$(jq -r '.window.published_per_sec // 0' "$out" 2>/dev/null || echo 0)
	echo "| ${labels[$i]} | $(num "$n") | $(num "$rate") | $(mib "$idle") MiB | $(mib "$held") MiB | $(mib "$later") MiB | $(mib "${disk:-0}") MiB | $s |"
done
exit "$failed"
