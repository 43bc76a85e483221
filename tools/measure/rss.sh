#!/usr/bin/env bash
# Usage: tools/measure/rss.sh BINARY, after `cargo build --release --bin redress`.
# Peak RSS of `simulate` and of `replay` of an emitted file, 100,000 against 1,000,000
# bank cases at the same arrival rate (60 and 600 days), with a profile that leaves no
# case open for good (`left_open = 0`), so that the million has ten times the closed
# cases and about as many open at once: the peak must not grow with closed cases.
# The files take about 1.2 GB in /tmp; the load average is printed before and after
# (peak RSS does not depend on it, the seconds do).
set -eu
BIN=$1
REPO=$(cd "$(dirname "$0")/../.." && pwd)
POLICY=$REPO/policies/bank.toml
printf 'left_open = 0.0\n' > /tmp/redress-rss-100k.toml
printf 'left_open = 0.0\nspan_days = 600\n' > /tmp/redress-rss-1m.toml
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in "100000 /tmp/redress-rss-100k" "1000000 /tmp/redress-rss-1m"; do
  set -- $run
  CASES=$1; NAME=$2
  [ -s $NAME.jsonl ] || $BIN simulate --policy $POLICY --cases $CASES --seed 7 --profile $NAME.toml --emit $NAME.jsonl --no-replay > /dev/null 2>&1
  for cmd in "simulate --policy $POLICY --cases $CASES --seed 7 --profile $NAME.toml" "replay --policy $POLICY $NAME.jsonl"; do
    /usr/bin/time -o /tmp/redress-rss.time -f '%e s, %M KB peak RSS' $BIN $cmd > /dev/null 2>&1
    echo "$CASES cases, ${cmd%% *}: $(tail -1 /tmp/redress-rss.time)"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
