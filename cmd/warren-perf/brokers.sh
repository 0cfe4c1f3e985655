# brokers.sh is sourced by the measuring scripts (durable.sh, flow.sh,
# fsyncs.sh): it makes their work folder on a disk, builds warren and
# warren-perf into it, starts a fresh Warren and, when it can, a throwaway
# RabbitMQ, and stops both and removes the folder on exit.
#
# The sourcing script sets `script` (its name, for messages) and
# `warren_port` and `rabbit_port`, and runs from the repository root. After
# start_brokers, the arrays labels, uris and pids name the brokers to
# measure: Warren first, then RabbitMQ unless RABBIT=0, it is not
# installed, or it did not start. Environment: WORK_DIR (the folder's
# parent; default $TMPDIR or /tmp, or /var/tmp when /tmp is a tmpfs) and
# KEEP=1 (keep the folder).

# need_jq stops the script unless jq is installed.
need_jq() {
	command -v jq >/dev/null || {
		echo "$script: jq is needed to read warren-perf's JSON (apt-get install jq)" >&2
		exit 2
	}
}

# on_disk prints a folder for data that is not on a tmpfs.
on_disk() {
	local d=${WORK_DIR:-${TMPDIR:-/tmp}}
	if [ -z "${WORK_DIR:-}" ] && [ "$(stat -f -c %T "$d")" = tmpfs ]; then d=/var/tmp; fi
	if [ "$(stat -f -c %T "$d")" = tmpfs ]; then
		echo "$script: $d is a tmpfs; set WORK_DIR to a folder on a disk" >&2
		return 1
	fi
	echo "$d"
}

warren_pid=""
rabbit_dir=""

# stop_brokers stops what start_brokers started and removes the work folder.
stop_brokers() {
	if [ -n "$warren_pid" ]; then
		kill "$warren_pid" 2>/dev/null || true
		wait "$warren_pid" 2>/dev/null || true
	fi
	if [ -n "$rabbit_dir" ]; then
		e2e/rabbitmq/stop.sh "$rabbit_dir" >/dev/null 2>&1 || true
	fi
	rm -rf "$work/data"
	if [ "${KEEP:-0}" = 1 ]; then
		echo "$script: results kept in $work" >&2
	else
		rm -rf "$work"
	fi
}

work=$(mktemp -d -p "$(on_disk)" "warren-${script%.sh}.XXXXXX")
trap stop_brokers EXIT
trap 'exit 130' INT TERM

# start_brokers builds the binaries into $work and starts the brokers.
start_brokers() {
	echo "$script: building warren and warren-perf into $work" >&2
	go build -o "$work/warren" ./cmd/warren
	go build -o "$work/warren-perf" ./cmd/warren-perf
	mkdir -p "$work/data" "$work/runs"

	"$work/warren" --listen "127.0.0.1:$warren_port" --data-dir "$work/data" >"$work/warren.log" 2>&1 &
	warren_pid=$!
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$warren_port") 2>/dev/null; then break; fi
		if ! kill -0 "$warren_pid" 2>/dev/null; then
			echo "$script: warren exited; its log:" >&2
			cat "$work/warren.log" >&2
			exit 1
		fi
		sleep 0.1
	done

	labels=(Warren)
	uris=("amqp://guest:guest@127.0.0.1:$warren_port/")
	pids=("$warren_pid")
	if [ "${RABBIT:-1}" = 0 ]; then
		echo "$script: RABBIT=0; measuring Warren alone" >&2
		return
	fi
	local started version
	if started=$(RABBIT_PORT=$rabbit_port e2e/rabbitmq/start.sh); then
		rabbit_dir=$(sed -n 's/^RABBIT_DIR=//p' <<<"$started")
		version=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | cut -d- -f1 || true)
		labels+=("RabbitMQ${version:+ $version}")
		uris+=("amqp://guest:guest@127.0.0.1:$rabbit_port/")
		pids+=("$(sed -n 's/^RABBIT_PID=//p' <<<"$started")")
	else
		echo "$script: RabbitMQ did not start; measuring Warren alone" >&2
	fi
}
