#!/usr/bin/env bash
# Memory over a steady run (issue 7: no growth over 5 minutes): bunbound answering cache hits (names of
# cachebench.net forwarded to a backend Unbound, then cached) at a fixed rate; RSS sampled every 30 s, and 5 s
# and 30 s after the load ends.
# Usage: RATE=20000 MINUTES=5 bench/steady.sh      Needs: dnsperf, unbound, dig
set -u
d=$(cd "$(dirname "$0")" && pwd); root=$(cd "$d/.." && pwd); gen="$d/gen"
RATE=${RATE:-20000}; MINUTES=${MINUTES:-5}
MODE=cache RUNS=0 LEN=1 WARMUP=1 bash "$d/e2e.sh" >/dev/null 2>&1 || true   # makes the generated configs and query file
taskset -c 0 unbound -d -c "$gen/backend.conf" >"$gen/backend.log" 2>&1 & backend=$!
taskset -c 1 bun "$root/src/cli.ts" --config "$gen/bunbound-cache.toml" --data-dir "$gen/data-steady" >"$gen/steady.log" 2>&1 & pid=$!
trap 'kill $pid $backend 2>/dev/null' EXIT
for i in $(seq 50); do dig +time=1 +tries=1 @127.0.0.1 -p 5302 h1.cachebench.net A >/dev/null 2>&1 && break; sleep 0.2; done
taskset -c 0 dnsperf -s 127.0.0.1 -p 5302 -d "$gen/queries-cache.txt" -l $((MINUTES * 60)) -c 16 -q 512 -Q "$RATE" >"$gen/steady-dnsperf.txt" 2>&1 &
perf=$!
for t in $(seq 0 30 $((MINUTES * 60))); do
  echo "t=${t}s rss_mb=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)"
  sleep 30
done
wait $perf
# after the load: whether what the last seconds of it added is given back
for t in 5 30; do sleep $((t == 5 ? 5 : 25)); echo "load ended +${t}s rss_mb=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)"; done
grep -E "Queries (sent|completed|lost)|Queries per second" "$gen/steady-dnsperf.txt"
