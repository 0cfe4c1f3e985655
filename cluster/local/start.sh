#!/usr/bin/env bash
# Starts a three-node Warren cluster on loopback as plain processes, the
# same cluster docker-compose.yml describes: AMQP on 127.0.0.1:5672, 5673
# and 5674, cluster ports 25672-25674, data and logs under CLUSTER_DIR
# (./data/cluster), and, where haproxy is installed, a load balancer on
# 127.0.0.1:5670 with AMQP health checks. cluster/local/stop.sh stops
# exactly these processes. BIN is the warren binary (bin/warren).
set -euo pipefail

BIN=${BIN:-bin/warren}
DIR=${CLUSTER_DIR:-./data/cluster}
HERE=$(cd "$(dirname "$0")" && pwd)
export WARREN_CLUSTER_SECRET=${WARREN_CLUSTER_SECRET:-warren-local-cluster}

mkdir -p "$DIR"
for i in 1 2 3; do
	if [ -f "$DIR/warren$i.pid" ] && kill -0 "$(cat "$DIR/warren$i.pid")" 2>/dev/null; then
		echo "warren$i is running already (pid $(cat "$DIR/warren$i.pid")); cluster/local/stop.sh stops it" >&2
		exit 1
	fi
done
join=127.0.0.1:25672,127.0.0.1:25673,127.0.0.1:25674
for i in 1 2 3; do
	"$BIN" --node-name "warren$i@localhost" --listen "127.0.0.1:$((5671 + i))" \
		--data-dir "$DIR/warren$i" --cluster-listen "127.0.0.1:$((25671 + i))" \
		--join "$join" --bootstrap-expect 3 >"$DIR/warren$i.log" 2>&1 &
	echo $! >"$DIR/warren$i.pid"
done
for i in 1 2 3; do
	for _ in $(seq 1 150); do
		"$BIN" --health-check --listen "127.0.0.1:$((5671 + i))" 2>/dev/null && break
		if ! kill -0 "$(cat "$DIR/warren$i.pid")" 2>/dev/null; then
			echo "warren$i exited; its log:" >&2
			cat "$DIR/warren$i.log" >&2
			exit 1
		fi
		sleep 0.2
	done
done
# Ready when each node serves the default vhost, which the cluster commits
# once it has formed.
for i in 1 2 3; do
	for _ in $(seq 1 150); do
		"$BIN" cluster status --json --cluster-addr "127.0.0.1:$((25671 + i))" 2>/dev/null |
			tr -d ' \n' | grep -q '"vhosts":\["/"' && break
		sleep 0.2
	done
	echo "warren$i@localhost: amqp://guest:guest@127.0.0.1:$((5671 + i))/ (log $DIR/warren$i.log)"
done
if command -v haproxy >/dev/null 2>&1; then
	WARREN_LB_BIND=127.0.0.1:5670 WARREN_NODE1=127.0.0.1:5672 WARREN_NODE2=127.0.0.1:5673 WARREN_NODE3=127.0.0.1:5674 \
		haproxy -D -f "$HERE/haproxy.cfg" -p "$DIR/haproxy.pid"
	echo "load balancer: amqp://guest:guest@127.0.0.1:5670/"
else
	echo "haproxy is not installed (apt-get install haproxy): connect to a node directly"
fi
