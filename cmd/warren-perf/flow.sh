#!/usr/bin/env bash
# flow.sh measures a publisher that outpaces its consumer: one publisher
# flat out (no confirms, no cap on messages in flight) into one transient
# queue with one consumer (manual acks, prefetch 1000), transient 1 KiB
# messages, on a fresh Warren and a throwaway RabbitMQ in one run, and
# prints a Markdown table: the consumer's rate, end-to-end latency, the
# broker's RSS over the window, after the drain and 10 s later. It produces
# the figures of cmd/warren-perf/results/flow.md.
#
#   cmd/warren-perf/flow.sh
#   DURATION=10s cmd/warren-perf/flow.sh      # a quick check
#
# Environment:
#   DURATION     the measured window (default 30s)
#   SIZE         body size in bytes (default 1024)
#   SETTLE       seconds to wait after the drain before the last RSS sample
#                (default 10)
#   WARREN_PORT  Warren's AMQP port (default 5681)
#   RABBIT_PORT  RabbitMQ's AMQP port (default 5675)
#   RABBIT       0 to measure Warren alone (default: compare with RabbitMQ,
#                which e2e/rabbitmq/start.sh installs if it is missing)
#   WORK_DIR     parent of the temporary folder holding the binaries, Warren's
#                data and the JSON results (default: $TMPDIR or /tmp, or
#                /var/tmp when /tmp is a tmpfs: paged messages must be on a
#                disk, not in memory)
#   KEEP         1 to keep that folder (the JSON of every run) afterwards
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
duration=${DURATION:-30s}
size=${SIZE:-1024}
settle=${SETTLE:-10}
warren_port=${WARREN_PORT:-5681}
rabbit_port=${RABBIT_PORT:-5675}

script=flow.sh
# shellcheck source=cmd/warren-perf/brokers.sh
. cmd/warren-perf/brokers.sh
need_jq
start_brokers

# rss prints a process's resident set size in bytes.
rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# One run per broker: 1 publisher flat out, 1 transient queue, 1 consumer.
failed=0
idle=() drained=() settled=()
for i in "${!labels[@]}"; do
	out="$work/runs/$i.json"
	echo "flow.sh: ${labels[$i]}" >&2
	sleep 2
	idle[i]=$(rss "${pids[$i]}")
	rc=0
	"$work/warren-perf" --uri "${uris[$i]}" --broker-pid "${pids[$i]}" --max-in-flight 0 \
		--producers 1 --consumers 1 --queues 1 --prefetch 1000 --size "$size" \
		--duration "$duration" --drain-timeout 60s --name "flow-$size" \
		--json >"$out" 2>"$work/runs/$i.log" || rc=$?
	drained[i]=$(rss "${pids[$i]}")
	sleep "$settle"
	settled[i]=$(rss "${pids[$i]}")
	if [ "$rc" != 0 ]; then
		failed=1
		echo "flow.sh: warren-perf exited $rc; its last lines:" >&2
		tail -n 5 "$work/runs/$i.log" >&2
	fi
done

num() { awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = ""; while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) } print s n }'; }
ms() { awk -v x="$1" 'BEGIN { if (x >= 1000) printf "%.0f ms", x / 1000; else printf "%.2f ms", x / 1000 }'; }
mib() { awk -v x="$1" 'BEGIN { printf "%.0f", x / 1048576 }'; }
field() { jq -r "$2 // empty" "$1" 2>/dev/null || true; }
# at prints the RSS (MiB) of the timeline point nearest second $2.
at() { jq -r --argjson t "$2" '[.timeline[] | select(.t <= $t + 0.5)] | last | (.rss_bytes // 0) / 1048576 | floor' "$1" 2>/dev/null || echo "?"; }

echo
echo "Transient $size B messages, 1 publisher flat out (no confirms, no cap in flight) → 1 queue → 1 consumer (manual acks, prefetch 1000), $duration window, brokers one after the other:"
echo
echo "| broker | published msg/s | consumed msg/s | e2e p50 / p99 | RSS idle | RSS at 5 / 10 / 20 / 30 s | RSS max | RSS drained | RSS $settle s later | status |"
echo "|---|---:|---:|---|---:|---|---:|---:|---:|---|"
for i in "${!labels[@]}"; do
	f="$work/runs/$i.json"
	s=$(field "$f" .status)
	s=${s:-no result}
	if [ "$s" != ok ]; then s="$s: $(field "$f" .reason)"; fi
	max=$(jq -r '[.timeline[].rss_bytes // 0] | max' "$f" 2>/dev/null || echo 0)
	echo "| ${labels[$i]} | $(num "$(field "$f" .window.published_per_sec)") | $(num "$(field "$f" .window.consumed_per_sec)")" \
		"| $(ms "$(field "$f" .end_to_end_latency.p50_us)") / $(ms "$(field "$f" .end_to_end_latency.p99_us)")" \
		"| $(mib "${idle[$i]}") MiB | $(at "$f" 5) / $(at "$f" 10) / $(at "$f" 20) / $(at "$f" 30) MiB | $(mib "$max") MiB" \
		"| $(mib "${drained[$i]}") MiB | $(mib "${settled[$i]}") MiB | $s |"
done
echo
echo "consumed msg/s: deliveries per second in the window; e2e: publish to delivery, every message of the run;"
echo "RSS drained: when warren-perf had received every message and deleted its queue."
exit "$failed"
