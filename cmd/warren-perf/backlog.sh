#!/usr/bin/env bash
# backlog.sh fills one durable queue of a fresh Warren with N persistent
# messages (publisher confirms, no consumer), then measures what a backlog
# costs: the broker's memory, whether publishes are still accepted, how soon
# the broker serves the queue again after a graceful restart and after
# kill -9, how fast one consumer drains it, and the disk used. It prints a
# Markdown table; it produces the backlog table of
# cmd/warren-perf/results/durable.md.
#
#   N=10000000 cmd/warren-perf/backlog.sh      # ~8 minutes and ~11 GB of disk
#   N=200000 cmd/warren-perf/backlog.sh        # a quick check
#
# Environment:
#   N            messages to publish (default 10000000)
#   SIZE         body size in bytes (default 1024)
#   CONFIRM      publisher-confirm window (default 1000)
#   MORE         how long to keep publishing at the full backlog (default 5s)
#   DRAIN        the drain's window (default N/20,000 s + 30 s); the drain rate
#                is measured up to the last second that delivered messages
#   PORT         Warren's AMQP port (default 5681)
#   QUEUE        queue prefix; the queue is PREFIX-0 (default backlog)
#   RSS_EVERY    seconds between RSS samples (default 5)
#   WORK_DIR     parent of the temporary folder holding the binaries and
#                Warren's data (default: $TMPDIR or /tmp, or /var/tmp when /tmp
#                is a tmpfs: the data must be on a disk)
# The script refuses to start with less than N × (SIZE + 300) bytes free
# there, and deletes the data on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${N:-10000000}
size=${SIZE:-1024}
confirm=${CONFIRM:-1000}
more=${MORE:-5s}
drain=${DRAIN:-$((n / 20000 + 30))s}
port=${PORT:-5681}
prefix=${QUEUE:-backlog}
queue=$prefix-0
rss_every=${RSS_EVERY:-5}
uri="amqp://guest:guest@127.0.0.1:$port/"

command -v jq >/dev/null || {
	echo "backlog.sh: jq is needed to read warren-perf's JSON (apt-get install jq)" >&2
	exit 2
}

# on_disk prints a folder for data that is not on a tmpfs.
on_disk() {
	local d=${WORK_DIR:-${TMPDIR:-/tmp}}
	if [ -z "${WORK_DIR:-}" ] && [ "$(stat -f -c %T "$d")" = tmpfs ]; then d=/var/tmp; fi
	if [ "$(stat -f -c %T "$d")" = tmpfs ]; then
		echo "backlog.sh: $d is a tmpfs; set WORK_DIR to a folder on a disk" >&2
		return 1
	fi
	echo "$d"
}

parent=$(on_disk)
need=$((n * (size + 300)))
free=$(($(df -P -k "$parent" | awk 'NR == 2 { print $4 }') * 1024))
if [ "$free" -lt "$need" ]; then
	echo "backlog.sh: $parent has $((free / 1000000)) MB free; $n × $size B needs about $((need / 1000000)) MB" >&2
	exit 1
fi

work=$(mktemp -d -p "$parent" warren-backlog.XXXXXX)
data=$work/data
warren_pid=""
sampler_pid=""
cleanup() {
	if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
	if [ -n "$warren_pid" ]; then
		kill "$warren_pid" 2>/dev/null || true
		wait "$warren_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "backlog.sh: $*" >&2; }
num() { awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = ""; while (length(s) > 3) { n = "," substr(s, length(s) - 2) n; s = substr(s, 1, length(s) - 3) } print s n }'; }
mib() { awk -v x="$1" 'BEGIN { printf "%.0f MiB", x / 1048576 }'; }
kib_mib() { awk -v x="$1" 'BEGIN { printf "%.0f MiB", x / 1024 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
bytes() { awk -v x="$1" 'BEGIN { if (x >= 1e9) printf "%.1f GB", x / 1e9; else if (x >= 1e6) printf "%.1f MB", x / 1e6; else printf "%.0f kB", x / 1e3 }'; }

# start_warren starts Warren on the data dir; $1 names its log.
start_warren() {
	"$work/warren" --listen "127.0.0.1:$port" --data-dir "$data" >"$work/warren-$1.log" 2>&1 &
	warren_pid=$!
}

# sample_rss writes "seconds VmRSS-kB" for the running Warren every
# RSS_EVERY seconds into $1, in the background.
sample_rss() {
	local pid=$warren_pid out=$1
	(while kill -0 "$pid" 2>/dev/null; do
		awk -v t="$SECONDS" '$1 == "VmRSS:" { print t, $2 }' "/proc/$pid/status" 2>/dev/null || true
		sleep "$rss_every"
	done) >"$out" &
	sampler_pid=$!
}
stop_sampler() {
	kill "$sampler_pid" 2>/dev/null || true
	wait "$sampler_pid" 2>/dev/null || true
	sampler_pid=""
}

# recovery_took prints the recovery times Warren logged in log $1: the whole
# durable state, and the queue's own store.
recovery_took() {
	took() {
		sed -n "s/.*$1.*\"took\": \([0-9.e+-]*\).*/\1/p" "$work/warren-$2.log" |
			awk '{ printf "%.1f ms", $1 * 1000; found = 1 } END { if (!found) print "?" }'
	}
	echo "state $(took 'recovered durable state' "$1"), of which queue $(took 'recovered durable queue' "$1")"
}

# ready waits until Warren serves the queue; $1 is the start in unix ns.
ready() {
	"$work/warren-perf" ready --uri "$uri" --queue "$queue" --since "$1" --timeout 120s --json
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "building warren and warren-perf into $work"
go build -o "$work/warren" ./cmd/warren
go build -o "$work/warren-perf" ./cmd/warren-perf
disk_free_before=$free

start_warren 1
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	if ! kill -0 "$warren_pid" 2>/dev/null; then
		say "warren exited; its log:"
		cat "$work/warren-1.log" >&2
		exit 1
	fi
	sleep 0.1
done

say "publishing $n × $size B into $queue"
sample_rss "$work/rss-publish.txt"
"$work/warren-perf" --uri "$uri" --broker-pid "$warren_pid" --persistent --confirm "$confirm" --size "$size" \
	--consumers 0 --queue-prefix "$prefix" --count "$n" --duration 0 --name backlog-publish \
	--json >"$work/publish.json" 2>"$work/publish.log" || true
stop_sampler
hwm_publish=$(status_kb "$warren_pid" VmHWM)
rss_publish=$(status_kb "$warren_pid" VmRSS)
pub() { jq -r "$1" "$work/publish.json"; }
if [ "$(pub .totals.confirmed)" != "$n" ]; then
	say "only $(pub .totals.confirmed) of $n publishes were confirmed; warren-perf said:"
	tail -n 5 "$work/publish.log" >&2
	exit 1
fi

say "publishing for $more more at the backlog"
"$work/warren-perf" --uri "$uri" --broker-pid "$warren_pid" --persistent --confirm "$confirm" --size "$size" \
	--consumers 0 --queue-prefix "$prefix" --duration "$more" --name backlog-more \
	--json >"$work/more.json" 2>"$work/more.log" || true
mor() { jq -r "$1" "$work/more.json"; }
hwm_more=$(status_kb "$warren_pid" VmHWM)
disk_full=$(du -sb "$data" | cut -f1)

say "restart after SIGTERM"
kill "$warren_pid"
wait "$warren_pid" || true
start=$(date +%s%N)
start_warren 2
ready "$start" >"$work/ready-term.json"
rss_restart=$(status_kb "$warren_pid" VmRSS)

say "restart after kill -9"
{
	kill -9 "$warren_pid"
	wait "$warren_pid" || true
} 2>/dev/null # bash's "Killed" notice
start=$(date +%s%N)
start_warren 3
ready "$start" >"$work/ready-kill.json"
rdy() { jq -r "$2" "$work/ready-$1.json"; }
recovered=$(rdy kill .messages)

say "draining $recovered messages with one consumer (window $drain)"
sample_rss "$work/rss-drain.txt"
"$work/warren-perf" --uri "$uri" --broker-pid "$warren_pid" --persistent --size "$size" \
	--producers 0 --consumers 1 --queue-prefix "$prefix" --duration "$drain" --name backlog-drain \
	--json >"$work/drain.json" 2>"$work/drain.log" || true # every delivery is "unexpected": an earlier run published it
stop_sampler
hwm_drain=$(status_kb "$warren_pid" VmHWM)
drn() { jq -r "$1" "$work/drain.json"; }
consumed=$(drn .totals.consumed)
redelivered=$(drn .totals.redelivered)
# The drain ends at the last second of the timeline that delivered anything.
drain_end=$(drn '[.timeline[] | select(.consumed_per_sec > 0) | .t] | max // 0 | . * 10 | round / 10')
drain_rate=$(awk -v c="$consumed" -v t="$drain_end" 'BEGIN { if (t > 0) print c / t; else print 0 }')
drain_cpu=$(awk -v s="$(drn '.broker.cpu_seconds // 0')" -v c="$consumed" 'BEGIN { if (c > 0) printf "%.1f", s / c * 1e6; else print 0 }')
"$work/warren-perf" ready --uri "$uri" --queue "$queue" --timeout 10s --json >"$work/ready-after.json"
left=$(rdy after .messages)
sleep 1 # let emptied segments be reclaimed before measuring the disk
disk_after=$(du -sb "$data" | cut -f1)

rss_range() { awk 'NR == 1 || $2 < lo { lo = $2 } $2 > hi { hi = $2 } END { if (NR) printf "%.0f–%.0f MiB (%d sample%s)", lo / 1024, hi / 1024, NR, NR == 1 ? "" : "s"; else print "no samples" }' "$1"; }
verdict="all delivered, none lost"
if [ "$consumed" != "$recovered" ] || [ "$left" != 0 ]; then
	verdict="**MISMATCH**: $consumed delivered of $recovered, $left left"
fi
more_ok="still accepted"
if [ "$(mor .totals.confirmed)" != "$(mor .totals.published)" ] || [ "$(mor .totals.published)" = 0 ]; then
	more_ok="**NOT all confirmed**"
fi

cat <<TABLE

Backlog: $(num "$n") × $size B persistent messages, confirms (window $confirm), one durable queue, no consumer; then restarts and a drain with one consumer (prefetch 1000, ack each):

| step | result |
|---|---|
| publish $(num "$n") × $size B, confirms | $(pub '.window_seconds * 10 | round / 10') s, **$(num "$(pub .window.published_per_sec)") msg/s**, $(num "$(pub .totals.confirmed)") confirmed, $(pub '.broker.cpu_us_per_msg * 10 | round / 10') broker CPU µs/msg |
| broker RSS while publishing (every $rss_every s) | $(rss_range "$work/rss-publish.txt"); at the end $(kib_mib "$rss_publish"), peak (VmHWM) **$(kib_mib "$hwm_publish")** |
| more publishes at the backlog ($more) | $more_ok: $(num "$(mor .window.published_per_sec)") msg/s, $(num "$(mor .totals.confirmed)") of $(num "$(mor .totals.published)") confirmed; VmHWM $(kib_mib "$hwm_more") |
| disk | $(bytes "$disk_full") for $(num "$(rdy term .messages)") messages ($(bytes "$disk_free_before") free before) |
| restart after SIGTERM: exec → passive declare answers | **$(rdy term '.serving_after_ms * 10 | round / 10') ms**, $(num "$(rdy term .messages)") messages; recovery per Warren's log: $(recovery_took 2); RSS after start $(kib_mib "$rss_restart") |
| restart after kill -9: same | **$(rdy kill '.serving_after_ms * 10 | round / 10') ms**, $(num "$recovered") messages; recovery $(recovery_took 3) |
| drain $(num "$recovered") messages, one consumer | $verdict ($(num "$redelivered") flagged redelivered); done $drain_end s in, **≈ $(num "$drain_rate") msg/s**; $drain_cpu broker CPU µs/msg; RSS $(rss_range "$work/rss-drain.txt"), peak (VmHWM) **$(kib_mib "$hwm_drain")** |
| after the drain | passive declare: $(num "$left") messages; data dir $(bytes "$disk_after") |

Load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after, on $(nproc) CPUs.
TABLE
[ "$consumed" = "$recovered" ] && [ "$left" = 0 ]
