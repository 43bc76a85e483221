#!/usr/bin/env bash
# Usage: [REDRESS=BINARY] tools/measure/wal.sh REPO [PORT] [SECONDS], after `cargo build --release --bin redress --example load` in REPO.
# WAL under a 45 s retail load: samples load.db-wal and the metric every 5 s.
set -u
REPO=$1; PORT=${2:-8181}; SECS=${3:-45}
BIN=${REDRESS:-$REPO/target/release/redress}  # REDRESS=path measures another build
D=/tmp/redress-wal; rm -rf $D; mkdir -p $D; cd $D
$BIN serve --policies $REPO/policies --database sqlite://$D/load.db --listen 127.0.0.1:$PORT > serve.log 2>&1 &
SP=$!
sleep 2; TOKEN=$(grep -o 'dev-agent-[0-9a-f]*' redress-server.toml | head -1)
$REPO/target/release/examples/load --url http://127.0.0.1:$PORT --token "$TOKEN" --cases 200 --concurrency 32 --seconds $SECS --policy retail > load.json 2> load.err &
LP=$!
t=0
while kill -0 $LP 2>/dev/null; do
  sleep 5; t=$((t+5))
  wal=$(stat -c %s load.db-wal 2>/dev/null || echo 0); db=$(stat -c %s load.db)
  m=$(curl -s http://127.0.0.1:$PORT/metrics | grep -E '^redress_store_wal_bytes|^redress_store_write_seconds_count' | tr '\n' ' ')
  wb=$(awk '$1=="write_bytes:"{print $2}' /proc/$SP/io)
  echo "t=${t}s wal=$wal db=$db $m written=$wb load=$(cut -d' ' -f1 /proc/loadavg)"
done
cat load.json | tail -5; cat load.err | tail -3
sleep 3; echo "idle: wal=$(stat -c %s load.db-wal 2>/dev/null)"
kill -TERM $SP; wait $SP; echo "after stop: wal=$(stat -c %s load.db-wal 2>/dev/null || echo absent) db=$(stat -c %s load.db)"
