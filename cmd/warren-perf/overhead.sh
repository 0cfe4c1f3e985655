#!/usr/bin/env bash
# overhead.sh measures what many queues and a Prometheus scrape every 5 s
# cost: the transient scenarios of the suite against a fresh Warren and a
# throwaway RabbitMQ (management and rabbitmq_prometheus plugins on), first
# plain, then with N idle classic queues declared on each broker and both
# brokers' /metrics/per-object scraped every 5 s; and how long the
# management API takes to list all the queues (GET /api/queues, best and
# median of five). It prints a Markdown summary and keeps both suites'
# results under OUT_DIR.
#
#   cmd/warren-perf/overhead.sh [OUT_DIR]        # N=10000, DURATION=10s
#
# Environment: N (queues, default 10000), DURATION (each scenario's
# window, default 10s), WARREN_PORT (5690), RABBIT_PORT (5691); the HTTP
# ports are the AMQP ports + 10000 (API) and + 10020 (Prometheus).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-$root/cmd/warren-perf/results/overhead}
n=${N:-10000}
duration=${DURATION:-10s}
wport=${WARREN_PORT:-5690}
rport=${RABBIT_PORT:-5691}
scenarios=transient-16b,transient-1kib

tmp=$(mktemp -d /tmp/warren-overhead.XXXXXX)
warren_pid="" rabbit_dir="" scraper=""
cleanup() {
	[ -n "$scraper" ] && kill "$scraper" 2>/dev/null || true
	[ -n "$warren_pid" ] && kill "$warren_pid" 2>/dev/null && wait "$warren_pid" 2>/dev/null || true
	[ -n "$rabbit_dir" ] && e2e/rabbitmq/stop.sh "$rabbit_dir" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/warren" ./cmd/warren
go build -o "$tmp/warren-perf" ./cmd/warren-perf
started=$(RABBIT_PORT=$rport RABBIT_MGMT_PORT=$((rport + 10000)) RABBIT_PROM_PORT=$((rport + 10020)) e2e/rabbitmq/start.sh)
rabbit_pid=$(sed -n 's/^RABBIT_PID=//p' <<<"$started")
rabbit_dir=$(sed -n 's/^RABBIT_DIR=//p' <<<"$started")
version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | cut -d- -f1 || true)
"$tmp/warren" --listen "127.0.0.1:$wport" --data-dir "$tmp/data" >"$tmp/warren.log" 2>&1 &
warren_pid=$!
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$wport") 2>/dev/null && break
	sleep 0.1
done

suite() { # suite DIR
	"$tmp/warren-perf" suite --scenarios "$scenarios" --duration "$duration" \
		--uri "amqp://guest:guest@127.0.0.1:$wport/" --label Warren --broker-pid "$warren_pid" \
		--compare "amqp://guest:guest@127.0.0.1:$rport/" --compare-label "RabbitMQ ${version}" \
		--compare-pid "$rabbit_pid" --out "$1" --command "N=$n DURATION=$duration cmd/warren-perf/overhead.sh" >/dev/null
}
# list_times PORT: the best and the median of five GET /api/queues, in ms.
list_times() {
	for _ in 1 2 3 4 5; do
		curl -s -o /dev/null -w '%{time_total}\n' -u guest:guest "http://127.0.0.1:$1/api/queues"
	done | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "%.0f ms / %.0f ms", t[1], t[3] }'
}

mkdir -p "$out"
suite "$out/plain"
for port in "$wport" "$rport"; do
	"$tmp/warren-perf" --uri "amqp://guest:guest@127.0.0.1:$port/" --producers 0 --consumers 0 \
		--queues "$n" --queue-prefix idle --duration 1s >/dev/null
done
(
	while :; do
		curl -s -o /dev/null "http://127.0.0.1:$((wport + 10020))/metrics/per-object" &
		curl -s -o /dev/null "http://127.0.0.1:$((rport + 10020))/metrics/per-object" &
		sleep 5
	done
) &
scraper=$!
suite "$out/loaded"
wlist=$(list_times $((wport + 10000)))
rlist=$(list_times $((rport + 10000)))

# ratio DIR SCENARIO: Warren's consumed msg/s over RabbitMQ's in that suite.
ratio() {
	jq -r --arg s "$2" --arg w ":$wport/" '
		[.[] | select(.scenario == $s)] as $r
		| ([$r[] | select(.brokers[0] | contains($w)) | .window.consumed_per_sec] | add) as $ours
		| ([$r[] | select(.brokers[0] | contains($w) | not) | .window.consumed_per_sec] | add) as $theirs
		| if $ours and $theirs then ($ours / $theirs * 100 | round / 100) else "?" end' "$1/results.json"
}
{
	echo "| scenario | ratio, plain | ratio, $n queues + scrape every 5 s |"
	echo "|---|--:|--:|"
	for s in ${scenarios//,/ }; do
		echo "| $s | $(ratio "$out/plain" "$s") | $(ratio "$out/loaded" "$s") |"
	done
	echo
	echo "GET /api/queues with $n queues, best / median of five: Warren $wlist, RabbitMQ $version $rlist"
} | tee "$out/summary.md"
