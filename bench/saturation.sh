#!/usr/bin/env bash
# Saturation (issue 7): for each offered rate, lost-query share for bunbound and Unbound on the same local
# names (bench/e2e.sh MODE=local, one run each). The highest rate with < 0.1% loss is each server's figure.
# Usage: RATES="50000 70000 90000 110000" LEN=5 bench/saturation.sh
set -u
d=$(cd "$(dirname "$0")" && pwd)
RATES=${RATES:-"50000 70000 90000 110000"}; LEN=${LEN:-5}
printf '| offered q/s | unbound lost %% | bunbound lost %% |\n|---|---|---|\n'
for r in $RATES; do
  out=$(RATE=$r LEN=$LEN RUNS=1 MODE=local bash "$d/e2e.sh" 2>&1)
  pct() { echo "$out" | awk -v n="$1" '$1==n && /run=1/ { for (i=1;i<=NF;i++) { split($i,a,"="); v[a[1]]=a[2] } printf "%.3f", 100*v["lost"]/(v["lost"]+v["qps"]*'"$LEN"') }'; }
  printf '| %s | %s | %s |\n' "$r" "$(pct unbound)" "$(pct bunbound)"
done
