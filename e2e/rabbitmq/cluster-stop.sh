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
# shellcheck source=e2e/rabbitmq/node.sh
. "$(dirname "$0")/node.sh"
for i in 3 2 1; do
	[ -f "$dir/node$i/env" ] && stop_node "$dir/node$i/env"
done
# The three nodes' epmd listens on the port their env names.
(
	# shellcheck disable=SC1091
	. "$dir/node1/env"
	epmd -kill >/dev/null 2>&1 || true
)
rm -rf "$dir"
