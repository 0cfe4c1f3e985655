# node.sh is sourced by stop.sh and cluster-stop.sh.

# stop_node stops the RabbitMQ node its env file (as start.sh and
# cluster-start.sh write it) describes: through rabbitmqctl, then, if its
# beam.smp (by the pid it wrote) still lingers after 30 s, with SIGKILL.
stop_node() {
	(
		# shellcheck disable=SC1090
		. "$1"
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
}
