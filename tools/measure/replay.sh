#!/usr/bin/env bash
# Usage: tools/measure/replay.sh BINARY [RUNS], after `cargo build --release --bin redress`.
# The replay, report and simulate figures of the README's Status table: each command
# RUNS times (default 3) under /usr/bin/time, wall seconds and peak RSS per run, then
# the median; the load average is printed before and after (measure on a quiet machine).
set -eu
BIN=$1; RUNS=${2:-3}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
POLICY=$REPO/policies/bank.toml
FILE=/tmp/redress-bank100k.jsonl
[ -s $FILE ] || $BIN simulate --policy $POLICY --cases 100000 --seed 7 --emit $FILE --no-replay > /dev/null 2>&1
printf 'span_days = 600\n' > /tmp/redress-span600.toml
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
measure() {
  local name=$1; shift
  local times=() rss=()
  for _ in $(seq $RUNS); do
    local out; /usr/bin/time -o /tmp/redress-measure.time -f '%e %M' "$@" > /dev/null 2>&1
    out=$(tail -1 /tmp/redress-measure.time)
    times+=("${out% *}"); rss+=("${out#* }")
  done
  local mt mr
  mt=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  mr=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$name: median ${mt} s, ${mr} KB peak RSS (runs: ${times[*]} s)"
}
measure "report Q2 by queue,category" $BIN report --events $FILE --policy $POLICY --period 2026-Q2 --by queue,category
measure "replay, 2 threads" $BIN replay --threads 2 --policy $POLICY $FILE
measure "replay, 1 thread" $BIN replay --threads 1 --policy $POLICY $FILE
measure "simulate 100,000" $BIN simulate --policy $POLICY --cases 100000 --seed 7
measure "simulate 1,000,000 over 600 days" $BIN simulate --policy $POLICY --cases 1000000 --seed 7 --profile /tmp/redress-span600.toml
for t in 2 1; do
  $BIN replay --threads $t --format json --policy $POLICY $FILE 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print('replay, $t thread(s): %d lines/s (one run), %d cases, %d lines' % (d['lines_per_second'], d['cases'], d['events']['read']))"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
