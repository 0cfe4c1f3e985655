#!/usr/bin/env bash
# durable.sh measures persistent messages with publisher confirms through one
# durable queue (1 publisher -> 1 queue -> 1 consumer, confirm window 1000)
# on a fresh Warren and a throwaway RabbitMQ, alternating brokers, and prints
# a Markdown table. It produces the throughput table of
# cmd/warren-perf/results/durable.md.
#
#   cmd/warren-perf/durable.sh
#   ROUNDS=1 DURATION=5s cmd/warren-perf/durable.sh      # a quick check
#
# Environment:
#   ROUNDS       rounds; each runs every size on both brokers (default 2)
#   DURATION     each run's measured window (default 15s)
#   SIZES        body sizes in bytes (default "16 1024")
#   CONFIRM      publisher-confirm window (default 1000)
#   WARREN_PORT  Warren's AMQP port (default 5680)
#   RABBIT_PORT  RabbitMQ's AMQP port (default 5673)
#   RABBIT       0 to measure Warren alone (default: compare with RabbitMQ,
#                which e2e/rabbitmq/start.sh installs if it is missing)
#   WORK_DIR     parent of the temporary folder holding the binaries, Warren's
#                data and the JSON results (default: $TMPDIR or /tmp, or
#                /var/tmp when /tmp is a tmpfs: the data must be on a disk)
#   KEEP         1 to keep that folder (the JSON of every run) afterwards
#
# Warren's data dir is on a real disk so that fsync costs what it costs.
# RabbitMQ keeps its data where e2e/rabbitmq/start.sh puts it (/tmp).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${ROUNDS:-2}
duration=${DURATION:-15s}
sizes=${SIZES:-16 1024}
confirm=${CONFIRM:-1000}
warren_port=${WARREN_PORT:-5680}
rabbit_port=${RABBIT_PORT:-5673}

script=durable.sh
# shellcheck source=cmd/warren-perf/brokers.sh
. cmd/warren-perf/brokers.sh
need_jq
start_brokers

# One run: persistent, confirms, 1 producer, 1 durable queue, 1 consumer.
failed=0
for round in $(seq 1 "$rounds"); do
	for size in $sizes; do
		for i in "${!labels[@]}"; do
			out="$work/runs/$round-$size-$i.json"
			echo "durable.sh: round $round, $size B, ${labels[$i]}" >&2
			rc=0
			"$work/warren-perf" --uri "${uris[$i]}" --broker-pid "${pids[$i]}" --persistent \
				--confirm "$confirm" --size "$size" --duration "$duration" --name "persistent-$size" \
				--json >"$out" 2>"$work/runs/$round-$size-$i.log" || rc=$?
			if [ "$rc" != 0 ]; then
				failed=1
				echo "durable.sh: warren-perf exited $rc; its last lines:" >&2
				tail -n 5 "$work/runs/$round-$size-$i.log" >&2
			fi
		done
	done
done

# The table: one row per size and broker, one column per round.
num() { awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = ""; while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) } print s n }'; }
ms() { awk -v x="$1" 'BEGIN { if (x >= 1000) printf "%.0f ms", x / 1000; else printf "%.2f ms", x / 1000 }'; }
field() { jq -r "$2 // empty" "$1" 2>/dev/null || true; }

head="| size | broker |"
rule="|---|---|"
for round in $(seq 1 "$rounds"); do
	head+=" round $round msg/s |"
	rule+="---:|"
done
echo
echo "Persistent messages, confirms (window $confirm), 1 publisher → 1 durable queue → 1 consumer, $duration windows, $rounds round(s), brokers alternating:"
echo
echo "$head mean msg/s | broker CPU µs/msg | confirm p50 / p99 | broker RSS (end) | status |"
echo "$rule---:|---:|---|---:|---|"
for size in $sizes; do
	for i in "${!labels[@]}"; do
		row="| $( ((size % 1024 == 0)) && echo "$((size / 1024)) KiB" || echo "$size B") | ${labels[$i]} |"
		sum=0 cpu="" lat="" rss=0 status=""
		for round in $(seq 1 "$rounds"); do
			f="$work/runs/$round-$size-$i.json"
			rate=$(field "$f" .window.published_per_sec)
			rate=${rate:-0}
			row+=" $(num "$rate") |"
			sum=$(awk -v a="$sum" -v b="$rate" 'BEGIN { print a + b }')
			cpu+="${cpu:+ / }$(awk -v x="$(field "$f" .broker.cpu_us_per_msg)" 'BEGIN { printf "%.1f", x }')"
			lat+="${lat:+; }$(ms "$(field "$f" .confirm_latency.p50_us)") / $(ms "$(field "$f" .confirm_latency.p99_us)")"
			r=$(field "$f" .broker.rss_end_bytes)
			if [ "${r:-0}" -gt "$rss" ]; then rss=$r; fi
			s=$(field "$f" .status)
			s=${s:-no result}
			if [ "$s" != ok ]; then s="$s: $(field "$f" .reason)"; fi
			status+="${status:+, }$s"
		done
		mean=$(awk -v a="$sum" -v n="$rounds" 'BEGIN { print a / n }')
		row+=" **$(num "$mean")** | $cpu | $lat | $((rss / 1048576)) MiB | $status |"
		echo "$row"
	done
done
echo
echo "msg/s: published per second in the window (every message confirmed and consumed unless the status says otherwise)."
exit "$failed"
