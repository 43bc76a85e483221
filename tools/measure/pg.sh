#!/usr/bin/env bash
# Usage: tools/measure/pg.sh REPO NODES [SECONDS], after `cargo build --release --bin redress --example load` in REPO; needs the PostgreSQL at 127.0.0.1:5432 (trust auth).
# Throughput: 1 and 2 nodes on one PostgreSQL (20 s retail load, 32 in flight).
set -u
REPO=$1; NODES=$2; SECS=${3:-20}
DB=redress_load_$NODES
psql -X -q postgres://postgres@127.0.0.1:5432/test -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL=postgres://postgres@127.0.0.1:5432/$DB
D=/tmp/redress-pg$NODES; rm -rf $D; mkdir -p $D; cd $D
PIDS=(); URLS=()
for n in $(seq 1 $NODES); do
  PORT=$((8280+n))
  $REPO/target/release/redress serve --policies $REPO/policies --database $URL --listen 127.0.0.1:$PORT > serve$n.log 2>&1 &
  PIDS+=($!); URLS+=(http://127.0.0.1:$PORT); sleep 2
done
TOKEN=$(grep -o 'dev-agent-[0-9a-f]*' redress-server.toml | head -1)
$REPO/target/release/examples/load --url $(IFS=,; echo "${URLS[*]}") --token "$TOKEN" --cases 200 --concurrency 32 --seconds $SECS --policy retail 2>&1 | grep -E "errors|error_samples|write_conflicts|events/s" -A2 | head -20
echo "load avg: $(cat /proc/loadavg)"
kill -TERM "${PIDS[@]}"; wait
psql -X -q postgres://postgres@127.0.0.1:5432/test -c "DROP DATABASE IF EXISTS $DB"
