#!/usr/bin/env bash
# Usage: tools/measure/walpeak.sh BINARY PORT SECONDS, after `cargo build --release --bin redress --example load`.
# The write-ahead log's peak size under the retail load (32 in flight), sampled every
# 250 ms (tools/measure/wal.sh samples every 5 s, which misses short peaks), with the
# load's throughput and p99.
set -u
BIN=$1; PORT=$2; SECS=$3
REPO=$(cd "$(dirname "$0")/../.." && pwd)
D=/tmp/redress-walpeak-$PORT; rm -rf $D; mkdir -p $D; cd $D
$BIN serve --policies $REPO/policies --database sqlite://$D/load.db --listen 127.0.0.1:$PORT > serve.log 2>&1 &
SP=$!
sleep 2; TOKEN=$(grep -o 'dev-agent-[0-9a-f]*' redress-server.toml | head -1)
$REPO/target/release/examples/load --url http://127.0.0.1:$PORT --token "$TOKEN" --cases 200 --concurrency 32 --seconds $SECS --policy retail > load.json 2> load.err &
LP=$!
peak=0
while kill -0 $LP 2>/dev/null; do
  sleep 0.25
  w=$(stat -c %s load.db-wal 2>/dev/null || echo 0)
  [ "$w" -gt "$peak" ] && peak=$w
done
echo "peak wal $((peak / 1048576)) MB; $(grep -o '^[0-9.]* events/s' load.json) $(grep -o 'p99 [0-9.]*' load.json | head -1) ms; load $(cut -d' ' -f1 /proc/loadavg)"
kill $SP; wait $SP 2>/dev/null
