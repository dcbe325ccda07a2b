#!/usr/bin/env bash
# RSS of a running bunbound holding N cached answers (issue 7: 1,000,000 entries in < 300 MB): N distinct
# names (n<i>.cachebench.net; not .test, which RFC 6761 answers locally) are asked once each through bunbound, which forwards them to a synthetic upstream (bench/synth-upstream.ts)
# and caches every answer; then RSS and the cache's entry count (from /metrics) are read.
# Usage: N=1000000 RATE=30000 bench/cache-rss.sh          Needs: dnsperf, dig
set -u
d=$(cd "$(dirname "$0")" && pwd); root=$(cd "$d/.." && pwd); gen="$d/gen"; mkdir -p "$gen"
N=${N:-1000000}; RATE=${RATE:-30000}
python3 -c "
import sys
with open('$gen/names-$N.txt', 'w') as f:
    for i in range($N): f.write(f'n{i}.cachebench.net A\n')
"
cat >"$gen/bunbound-rss.toml" <<TOML
listen = ["127.0.0.1:5312"]
http = "127.0.0.1:8312"
upstreams = ["127.0.0.1:5311"]
log_level = "warn"
[cache]
max_entries = $((N + N / 10))
max_bytes = 1073741824
TOML
taskset -c 0 bun "$d/synth-upstream.ts" 5311 >/dev/null 2>&1 & up=$!
taskset -c 1 bun "$root/src/cli.ts" --config "$gen/bunbound-rss.toml" --data-dir "$gen/data-rss" >"$gen/rss.log" 2>&1 & pid=$!
trap 'kill $pid $up 2>/dev/null' EXIT
for i in $(seq 50); do dig +time=1 +tries=1 @127.0.0.1 -p 5312 n0.cachebench.net A >/dev/null 2>&1 && break; sleep 0.2; done
rss0=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)
taskset -c 0 dnsperf -s 127.0.0.1 -p 5312 -d "$gen/names-$N.txt" -n 1 -c 16 -q 256 -Q "$RATE" 2>&1 | grep -E "Queries (completed|lost)"
sleep 2
entries=$(curl -s http://127.0.0.1:8312/metrics | awk '/^bunbound_cache_entries /{print $2}')
rss1=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)
heap=$(curl -s http://127.0.0.1:8312/healthz | python3 -c "import json,sys; m=json.load(sys.stdin)['memory']; print(int(m['heapUsed']/1048576))")
echo "bunbound with $entries cached entries: RSS ${rss0} MB before, ${rss1} MB after (+$((rss1 - rss0)) MB); JS heap in use ${heap} MB"
sleep "${SETTLE:-30}"
rss2=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status)
heap=$(curl -s http://127.0.0.1:8312/healthz | python3 -c "import json,sys; m=json.load(sys.stdin)['memory']; print(int(m['heapUsed']/1048576))")
echo "after ${SETTLE:-30} s idle: RSS ${rss2} MB; JS heap in use ${heap} MB"
