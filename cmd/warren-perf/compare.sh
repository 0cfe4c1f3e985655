#!/usr/bin/env bash
# compare.sh runs the warren-perf suite against a fresh Warren and a
# throwaway RabbitMQ, in alternation, and writes the results folder.
#
#   cmd/warren-perf/compare.sh [OUT_DIR] [extra suite flags...]
#
# OUT_DIR defaults to cmd/warren-perf/results/latest. Environment:
#   DURATION     each scenario's window (default 10s)
#   WARREN_PORT  Warren's AMQP port (default 5680)
#   RABBIT_PORT  RabbitMQ's AMQP port (default 5673)
#   PERF_USER    run as this user (password the same) instead of guest,
#                made on both brokers with regular-expression permissions
#                that admit only the suite's names, so that each publish,
#                declare and consume goes through a permission check
# If RabbitMQ cannot be started (no rabbitmq-server and no way to install
# it), the suite runs against Warren alone.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
args="$*"
out=${1:-$root/cmd/warren-perf/results/latest}
shift || true
duration=${DURATION:-10s}
warren_port=${WARREN_PORT:-5680}
rabbit_port=${RABBIT_PORT:-5673}
user=${PERF_USER:-guest}
# The suite's queues and exchanges are named warren-perf-...; it publishes
# to them and to the default exchange.
perm_configure='^warren-perf-.*'
perm_write='^(warren-perf-.*|amq\.default)$'
perm_read='^warren-perf-.*'

tmp=$(mktemp -d /tmp/warren-compare.XXXXXX)
warren_pid=""
rabbit_dir=""
cleanup() {
	if [ -n "$warren_pid" ]; then
		kill "$warren_pid" 2>/dev/null || true
		wait "$warren_pid" 2>/dev/null || true
	fi
	if [ -n "$rabbit_dir" ]; then
		e2e/rabbitmq/stop.sh "$rabbit_dir" || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "compare.sh: building warren and warren-perf" >&2
go build -o "$tmp/warren" ./cmd/warren
go build -o "$tmp/warren-perf" ./cmd/warren-perf

compare=()
if started=$(RABBIT_PORT=$rabbit_port e2e/rabbitmq/start.sh); then
	rabbit_pid=$(sed -n 's/^RABBIT_PID=//p' <<<"$started")
	rabbit_dir=$(sed -n 's/^RABBIT_DIR=//p' <<<"$started")
	version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | cut -d- -f1 || true)
	if [ "$user" != guest ]; then
		(
			# shellcheck disable=SC1091
			. "$rabbit_dir/env"
			ctl=/usr/lib/rabbitmq/bin/rabbitmqctl
			"$ctl" -q add_user "$user" "$user" >/dev/null
			"$ctl" -q set_permissions -p / "$user" "$perm_configure" "$perm_write" "$perm_read" >/dev/null
		)
	fi
	compare=(--compare "amqp://$user:$user@127.0.0.1:$rabbit_port/" --compare-label "RabbitMQ ${version:-}"
		--compare-pid "$rabbit_pid")
else
	echo "compare.sh: RabbitMQ did not start; measuring Warren alone" >&2
fi

warren_flags=(--listen "127.0.0.1:$warren_port" --data-dir "$tmp/data")
if [ "$user" != guest ]; then
	cat >"$tmp/warren.conf" <<CONF
default_user = $user
default_pass = $user
default_permissions.configure = $perm_configure
default_permissions.write = $perm_write
default_permissions.read = $perm_read
CONF
	warren_flags+=(--config "$tmp/warren.conf")
fi
"$tmp/warren" "${warren_flags[@]}" >"$tmp/warren.log" 2>&1 &
warren_pid=$!
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$warren_port") 2>/dev/null; then break; fi
	if ! kill -0 "$warren_pid" 2>/dev/null; then
		echo "compare.sh: warren exited; its log:" >&2
		cat "$tmp/warren.log" >&2
		exit 1
	fi
	sleep 0.1
done

mkdir -p "$out"
"$tmp/warren-perf" suite \
	--uri "amqp://$user:$user@127.0.0.1:$warren_port/" --label Warren --broker-pid "$warren_pid" \
	"${compare[@]}" --out "$out" --duration "$duration" \
	--command "${PERF_USER:+PERF_USER=$PERF_USER }DURATION=$duration cmd/warren-perf/compare.sh${args:+ $args}" "$@"
