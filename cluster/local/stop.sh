#!/usr/bin/env bash
# Stops the processes cluster/local/start.sh started (by their pid files
# under CLUSTER_DIR), gracefully, and nothing else. The data stays.
set -uo pipefail

DIR=${CLUSTER_DIR:-./data/cluster}
for name in haproxy warren1 warren2 warren3; do
	pidfile="$DIR/$name.pid"
	[ -f "$pidfile" ] || continue
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		echo "stopped $name (pid $pid)"
	fi
	rm -f "$pidfile"
done
