#!/usr/bin/env bash
# cluster-stop.sh stops the three nodes cluster-start.sh started and
# removes their folder.
#
#   e2e/rabbitmq/cluster-stop.sh /tmp/warren-rabbitmq-cluster.XXXXXX
#
# Each node is stopped through rabbitmqctl, and its beam.smp (by the pid it
# wrote) ended if it lingers; then the cluster's own epmd is stopped and the
# folder deleted.
set -uo pipefail

dir=${1:-${RABBIT_DIR:-}}
if [ -z "$dir" ] || [ ! -f "$dir/node1/env" ]; then
	echo "usage: cluster-stop.sh RABBIT_DIR (the folder cluster-start.sh printed)" >&2
	exit 2
fi
for i in 3 2 1; do
	[ -f "$dir/node$i/env" ] || continue
	(
		# shellcheck disable=SC1091
		. "$dir/node$i/env"
		pid=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null || true)
		/usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 || true
		if [ -n "$pid" ]; then
			for _ in $(seq 1 30); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 1
			done
			if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
		fi
	)
done
# The three nodes' epmd listens on the port their env names.
(
	# shellcheck disable=SC1091
	. "$dir/node1/env"
	epmd -kill >/dev/null 2>&1 || true
)
rm -rf "$dir"
