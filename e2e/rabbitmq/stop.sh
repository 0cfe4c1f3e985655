#!/usr/bin/env bash
# stop.sh stops a node started by start.sh and removes its folder.
#
#   e2e/rabbitmq/stop.sh /tmp/warren-rabbitmq.XXXXXX
#
# It stops the node through rabbitmqctl, falls back to ending the beam.smp
# whose pid the node wrote, stops the node's own epmd, and deletes the folder.
set -uo pipefail

dir=${1:-${RABBIT_DIR:-}}
if [ -z "$dir" ] || [ ! -f "$dir/env" ]; then
	echo "usage: stop.sh RABBIT_DIR (the folder start.sh printed)" >&2
	exit 2
fi
# shellcheck source=e2e/rabbitmq/node.sh
. "$(dirname "$0")/node.sh"
stop_node "$dir/env"
# shellcheck disable=SC1091
. "$dir/env"
# epmd outlives the node; this one listens on the node's own epmd port.
epmd -kill >/dev/null 2>&1 || true
rm -rf "$dir"
