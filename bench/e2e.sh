#!/usr/bin/env bash
# Side-by-side load bench: bunbound vs Unbound (Debian) on the same 1000 names (A, AAAA, TXT), each server
# pinned to CPU 1, dnsperf pinned to CPU 0, same query file. Prints medians and ratios.
#   MODE=local  both answer the names from local data (bunbound --record, Unbound local-data)
#   MODE=cache  both forward to the same backend (an Unbound with the local data, on CPU 0) and are measured
#               after a warm-up has filled their caches: the cache-hit path
#   MODE=echo      the floors: Unbound's whole answer vs a Bun.udpSocket echo vs a recvmmsg/sendmmsg echo (no DNS)
#   MODE=tracking  bunbound alone, local data, with client tracking off and on (issue 5: on must keep >= 95%)
#   MODE=backend   bunbound alone, local data, UDP socket backends "bun" (Bun.udpSocket), "dgram" (node:dgram)
#               and "mmsg" (libc recvmmsg/sendmmsg through bun:ffi)
#   MODE=coalesce  Unbound vs bunbound on local data with udp.coalesce_us = each of WINDOWS (default "0 50 100 200")
#   MODE=ab        Unbound vs bunbound from BASE (another checkout, e.g. `git worktree add /tmp/base main`) vs this
#               tree, local data: a change measured against its baseline in one run
#   MODE=abcache   the same, on the cache-hit path (all three forward to the MODE=cache backend)
#   MODE=env       Unbound vs bunbound vs bunbound with environment variables per VARIANTS, local data, e.g.
#               VARIANTS="gc-timer-off=BUN_GC_TIMER_DISABLE=1 one-marker=BUN_JSC_numberOfGCMarkers=1,BUN_JSC_useConcurrentGC=0"
#               (name=VAR=value[,VAR=value...], space-separated): runtime settings measured side by side
#   MODE=processes bunbound alone, local data, `--processes 1` vs `--processes ${PROCS:-2}` (BACKEND as below)
#               (CPU and RSS are summed over the process tree)
#   MODE=dot       Unbound vs bunbound on local data over DNS over TLS: Unbound's tls-port, bunbound's listen_tls,
#               the same self-signed ECDSA P-256 certificate (gen/tls.pem, made with openssl), `dnsperf -m dot`
#               (16 connections, pipelined)
#   MODE=doh       the same over DNS over HTTPS (HTTP/2): Unbound's https-port, bunbound's listen_https,
#               `dnsperf -m doh -O doh-uri=https://127.0.0.1:PORT/dns-query -O doh-method=POST`
# SERVER_CPUS (default 1) is the servers' taskset; dnsperf stays on CPU 0. BACKEND (default auto) is bunbound's
# UDP backend in MODE=local and MODE=cache.
# Both servers get a 4 MiB socket receive buffer (Unbound so-rcvbuf: 4m; bunbound udp.receive_buffer_bytes).
# Needs: apt-get install -y dnsperf unbound bind9-dnsutils (and openssl for MODE=dot and MODE=doh)
# Besides the medians of the runs it prints the p50/p99/p99.9 of all queries of all runs together (pooled).
# STOP=0 leaves the servers not being measured running (default 1: SIGSTOP); KEEP=1 keeps every run's
# per-query latencies in gen/run-NAME-N.out.
# Usage: MODE=cache RATE=50000 LEN=8 RUNS=3 bench/e2e.sh        (RATE empty = unthrottled; WARMUP=30 s per server first)
set -u
d=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$d/.." && pwd)
gen="$d/gen"
mkdir -p "$gen"
# DoT and DoH are offered less by default, below what either server saturates on its core (RATE= unthrottled shows
# where that is; docs/performance.md): a saturated server's p99 is its queue.
case ${MODE:-local} in dot) default_rate=20000 ;; doh) default_rate=10000 ;; *) default_rate=50000 ;; esac
LEN=${LEN:-8}; RUNS=${RUNS:-3}; WARMUP=${WARMUP:-30}; RATE=${RATE-$default_rate}; MODE=${MODE:-local}; SERVER_CPUS=${SERVER_CPUS:-1}; PROCS=${PROCS:-2}; STOP=${STOP:-1}
for t in dnsperf unbound dig taskset; do command -v $t >/dev/null || { echo "missing $t (apt-get install -y dnsperf unbound bind9-dnsutils)"; exit 2; }; done
if [ "$MODE" = dot ] || [ "$MODE" = doh ]; then
  command -v openssl >/dev/null || { echo "missing openssl (apt-get install -y openssl)"; exit 2; }
  # one certificate for both servers: the same key type (ECDSA P-256, what bunbound makes itself) and chain
  [ -s "$gen/tls.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$gen/tls.key" -out "$gen/tls.pem" 2>/dev/null
fi

python3 - "$gen" "${BACKEND:-auto}" <<'PY'
import sys, random
out = sys.argv[1]
backend = f'[udp]\nbackend = "{sys.argv[2]}"\n'

random.seed(7)
names = [f"h{i}.bench.test." for i in range(1000)]
recs = []
for i, n in enumerate(names):
    recs += [f"{n} 300 IN A 10.0.{i//256}.{i%256}", f"{n} 300 IN AAAA fd00::{i:x}", f'{n} 300 IN TXT "bench record {i}"']
with open(f"{out}/unbound.conf", "w") as f:
    f.write("server:\n  interface: 127.0.0.1@5301\n  port: 5301\n  num-threads: 1\n  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n  username: \"\"\n  chroot: \"\"\n  pidfile: \"\"\n  access-control: 127.0.0.0/8 allow\n  so-reuseport: no\n  so-rcvbuf: 4m\n  local-zone: \"bench.test.\" static\n")
    for r in recs:
        f.write('  local-data: "' + r.replace('"', '\\"') + '"\n')
head = "server:\n  port: {p}\n  interface: 127.0.0.1@{p}\n  num-threads: 1\n  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n  username: \"\"\n  chroot: \"\"\n  pidfile: \"\"\n  access-control: 127.0.0.0/8 allow\n  so-reuseport: no\n  so-rcvbuf: 4m\n"
# The cache-hit bench uses names outside .test: RFC 6761 special names (.test among them) are answered locally
# by both servers, so forwarding them would measure local NXDOMAIN answers, not the cache.
cnames = [f"h{i}.cachebench.net." for i in range(1000)]
crecs = []
for i, n in enumerate(cnames):
    crecs += [f"{n} 300 IN A 10.0.{i//256}.{i%256}", f"{n} 300 IN AAAA fd00::{i:x}", f'{n} 300 IN TXT "bench record {i}"']
with open(f"{out}/backend.conf", "w") as f:
    # The root static too: an offline backend answers bunbound's start-up DNSSEC check (the root DNSKEY) at once
    # instead of recursing to unreachable root servers on CPU 0 while the others are measured.
    f.write(head.format(p=5310) + '  local-zone: "cachebench.net." static\n  local-zone: "." static\n')
    for r in crecs:
        f.write('  local-data: "' + r.replace('"', '\\"') + '"\n')
with open(f"{out}/unbound-cache.conf", "w") as f:
    f.write(head.format(p=5301) + '  do-not-query-localhost: no\n  prefetch: yes\nforward-zone:\n  name: "cachebench.net."\n  forward-addr: 127.0.0.1@5310\n')
with open(f"{out}/bunbound-cache.toml", "w") as f:
    f.write('listen = ["127.0.0.1:5302"]\nhttp = "off"\nupstreams = ["127.0.0.1:5310"]\nlog_level = "warn"\n' + backend)
with open(f"{out}/bunbound.toml", "w") as f:
    f.write('listen = ["127.0.0.1:5302"]\nhttp = "off"\nupstreams = []\nlog_level = "warn"\nrecords = [\n')
    for r in recs:
        f.write("  '" + r + "',\n")
    f.write("]\n")
with open(f"{out}/bunbound-local.toml", "w") as f:
    f.write(open(f"{out}/bunbound.toml").read() + backend)
with open(f"{out}/bunbound-bun.toml", "w") as f:
    f.write(open(f"{out}/bunbound.toml").read() + "[udp]\nbackend = \"bun\"\n")
with open(f"{out}/bunbound-mmsg.toml", "w") as f:
    f.write(open(f"{out}/bunbound.toml").read().replace('listen = ["127.0.0.1:5302"]', 'listen = ["127.0.0.1:5306"]') + "[udp]\nbackend = \"mmsg\"\n")
with open(f"{out}/bunbound-dgram.toml", "w") as f:
    f.write(open(f"{out}/bunbound.toml").read().replace('listen = ["127.0.0.1:5302"]', 'listen = ["127.0.0.1:5304"]') + "[udp]\nbackend = \"dgram\"\n")
with open(f"{out}/bunbound-notrack.toml", "w") as f:
    f.write(open(f"{out}/bunbound.toml").read().replace('listen = ["127.0.0.1:5302"]', 'listen = ["127.0.0.1:5303"]') + "[clients]\nenabled = false\n")
# DoT and DoH: the local-data configurations above, with the encrypted listeners and gen/tls.pem. Unbound's
# incoming-num-tcp (10 by default) must take dnsperf's 16 connections.
with open(f"{out}/unbound-enc.conf", "w") as f:
    f.write(open(f"{out}/unbound.conf").read() + "  interface: 127.0.0.1@5381\n  interface: 127.0.0.1@5382\n  tls-port: 5381\n  https-port: 5382\n"
            f"  tls-service-key: \"{out}/tls.key\"\n  tls-service-pem: \"{out}/tls.pem\"\n  http-endpoint: \"/dns-query\"\n  http-max-streams: 100\n  incoming-num-tcp: 100\n")
with open(f"{out}/bunbound-enc.toml", "w") as f:
    f.write(open(f"{out}/bunbound-local.toml").read().replace('listen = ["127.0.0.1:5302"]', 'listen = ["127.0.0.1:5385"]\nlisten_tls = ["127.0.0.1:5383"]\nlisten_https = ["127.0.0.1:5384"]')
            + f'[tls]\ncert = "{out}/tls.pem"\nkey = "{out}/tls.key"\n')
with open(f"{out}/queries.txt", "w") as f:
    for _ in range(10000):
        f.write(f"{random.choice(names)} {random.choice(['A','AAAA','TXT'])}\n")
with open(f"{out}/queries-cache.txt", "w") as f:
    for _ in range(10000):
        f.write(f"{random.choice(cnames)} {random.choice(['A','AAAA','TXT'])}\n")
PY

if [ "$MODE" = cache ] || [ "$MODE" = abcache ]; then
  taskset -c 0 unbound -d -c "$gen/backend.conf" >"$gen/backend.log" 2>&1 & backend=$!
  trap 'kill $backend 2>/dev/null' EXIT
  for i in $(seq 50); do dig +time=1 +tries=1 @127.0.0.1 -p 5310 h1.cachebench.net A >/dev/null 2>&1 && break; sleep 0.2; done
  specs=("unbound=unbound -d -c $gen/unbound-cache.conf:5301" "bunbound=bun $root/src/cli.ts --config $gen/bunbound-cache.toml:5302")
  if [ "$MODE" = abcache ]; then
    [ -f "${BASE:-}/src/cli.ts" ] || { echo "MODE=abcache needs BASE=<a checkout of bunbound>"; exit 2; }
    specs=("unbound=unbound -d -c $gen/unbound-cache.conf:5301" "base=bun $BASE/src/cli.ts --config $gen/bunbound-cache.toml --listen 127.0.0.1:5342 --data-dir $gen/data-cbase:5342" "this=bun $root/src/cli.ts --config $gen/bunbound-cache.toml --listen 127.0.0.1:5343 --data-dir $gen/data-cthis:5343")
  fi
  qfile="$gen/queries-cache.txt"; probe=h1.cachebench.net
elif [ "$MODE" = backend ]; then
  specs=("bun-socket=bun $root/src/cli.ts --config $gen/bunbound-bun.toml --data-dir $gen/data-bun:5302" "dgram-socket=bun $root/src/cli.ts --config $gen/bunbound-dgram.toml --data-dir $gen/data-dgram:5304" "mmsg-socket=bun $root/src/cli.ts --config $gen/bunbound-mmsg.toml --data-dir $gen/data-mmsg:5306")
elif [ "$MODE" = processes ]; then
  specs=("procs-1=bun $root/src/cli.ts --config $gen/bunbound-local.toml --listen 127.0.0.1:5304 --data-dir $gen/data-p1 --processes 1:5304" "procs-$PROCS=bun $root/src/cli.ts --config $gen/bunbound-local.toml --listen 127.0.0.1:5305 --data-dir $gen/data-pn --processes $PROCS:5305")
elif [ "$MODE" = coalesce ]; then
  specs=("unbound=unbound -d -c $gen/unbound.conf:5301")
  p=5330
  for w in ${WINDOWS:-0 50 100 200}; do
    sed "s/127.0.0.1:5302/127.0.0.1:$p/" "$gen/bunbound-local.toml" >"$gen/bunbound-c$w.toml"
    echo "coalesce_us = $w" >>"$gen/bunbound-c$w.toml"
    specs+=("coalesce-$w=bun $root/src/cli.ts --config $gen/bunbound-c$w.toml --data-dir $gen/data-c$w:$p")
    p=$((p + 1))
  done
elif [ "$MODE" = ab ]; then
  [ -f "${BASE:-}/src/cli.ts" ] || { echo "MODE=ab needs BASE=<a checkout of bunbound>"; exit 2; }
  specs=("unbound=unbound -d -c $gen/unbound.conf:5301" "base=bun $BASE/src/cli.ts --config $gen/bunbound-local.toml --listen 127.0.0.1:5340 --data-dir $gen/data-base:5340" "this=bun $root/src/cli.ts --config $gen/bunbound-local.toml --listen 127.0.0.1:5341 --data-dir $gen/data-this:5341")
elif [ "$MODE" = env ]; then
  [ -n "${VARIANTS:-}" ] || { echo "MODE=env needs VARIANTS=\"name=VAR=value[,VAR=value] ...\""; exit 2; }
  specs=("unbound=unbound -d -c $gen/unbound.conf:5301" "bunbound=bun $root/src/cli.ts --config $gen/bunbound-local.toml --listen 127.0.0.1:5350 --data-dir $gen/data-env0:5350")
  p=5351
  for v in $VARIANTS; do
    vars=${v#*=}
    specs+=("${v%%=*}=env ${vars//,/ } bun $root/src/cli.ts --config $gen/bunbound-local.toml --listen 127.0.0.1:$p --data-dir $gen/data-env$p:$p")
    p=$((p + 1))
  done
elif [ "$MODE" = echo ]; then
  specs=("unbound=unbound -d -c $gen/unbound.conf:5301" "bun-echo=bun $d/echo-bun.ts 5321:5321" "mmsg-echo=bun $d/echo-mmsg.ts 5320:5320")
elif [ "$MODE" = dot ]; then
  specs=("unbound=unbound -d -c $gen/unbound-enc.conf:5381" "bunbound=bun $root/src/cli.ts --config $gen/bunbound-enc.toml --data-dir $gen/data-enc:5383")
  probe_opt=+tls
elif [ "$MODE" = doh ]; then
  specs=("unbound=unbound -d -c $gen/unbound-enc.conf:5382" "bunbound=bun $root/src/cli.ts --config $gen/bunbound-enc.toml --data-dir $gen/data-enc:5384")
  probe_opt=+https
elif [ "$MODE" = tracking ]; then
  specs=("untracked=bun $root/src/cli.ts --config $gen/bunbound-notrack.toml --data-dir $gen/data-off:5303" "tracked=bun $root/src/cli.ts --config $gen/bunbound.toml --data-dir $gen/data-on:5302")
else
  specs=("unbound=unbound -d -c $gen/unbound.conf:5301" "bunbound=bun $root/src/cli.ts --config $gen/bunbound-local.toml:5302")
fi
qfile=${qfile:-$gen/queries.txt}; probe=${probe:-h1.bench.test}; probe_opt=${probe_opt:-}
# dnsperf's transport: UDP, or DoT/DoH to the spec's port (dnsperf does not check the certificate)
dp_args() { case $MODE in dot) echo "-m dot" ;; doh) echo "-m doh -O doh-uri=https://127.0.0.1:$1/dns-query -O doh-method=POST" ;; esac; }
# A spec is "name=command:port".
spec_fields() { name=${1%%=*}; local rest=${1#*=}; port=${rest##*:}; cmd=${rest%:*}; }
names=(); for spec in "${specs[@]}"; do spec_fields "$spec"; names+=("$name"); done
# utime+stime (clock ticks) and RSS (kB) of a process and all its descendants (serving processes of --processes)
tree() { local p=$1; echo "$p"; for c in $(pgrep -P "$p"); do tree "$c"; done; }
tree_cpu() { for p in $(tree "$1"); do awk '{print $14+$15}' /proc/$p/stat 2>/dev/null; done | awk '{s+=$1} END {print s+0}'; }
tree_rss() { for p in $(tree "$1"); do awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null; done | awk '{s+=$1} END {print s+0}'; }
# All servers run at once and the runs alternate between them, so a noisy stretch of this shared VM hits every
# server alike instead of whichever ran then. The ones not being measured are stopped (SIGSTOP, whole process
# tree; STOP=0 does not): an idle server's timers must not disturb the one under load. Each run starts with a
# 1 s warm-up.
declare -A pids rows
for n in "${names[@]}"; do : >"$gen/hist-$n.txt"; done
for spec in "${specs[@]}"; do
  spec_fields "$spec"
  taskset -c "$SERVER_CPUS" $cmd >"$gen/$name.log" 2>&1 & pids[$name]=$!
done
trap 'for p in ${pids[*]}; do kill -CONT $(tree $p) 2>/dev/null; done; kill ${pids[*]} ${backend:-} 2>/dev/null' EXIT
[ "$MODE" = processes ] && sleep 2
for spec in "${specs[@]}"; do
  spec_fields "$spec"
  for i in $(seq 50); do dig +time=1 +tries=1 $probe_opt @127.0.0.1 -p "$port" "$probe" A >/dev/null 2>&1 && break; sleep 0.2; done
  # It must answer the bench names with data (not, say, a local NXDOMAIN for an RFC 6761 name).
  if [ "$MODE" != echo ]; then
    st=$(dig +time=1 +tries=2 $probe_opt @127.0.0.1 -p "$port" "$probe" A | awk '/status:/{gsub(",","",$6); print $6}')
    an=$(dig +short +time=1 +tries=2 $probe_opt @127.0.0.1 -p "$port" "$probe" A | wc -l)
    if [ "$st" != NOERROR ] || [ "$an" -lt 1 ]; then echo "$name answers $probe with status ${st:-none}, $an records: not what this bench measures"; exit 3; fi
  fi
  # warm-up (JIT, caches), not measured: WARMUP seconds (default 30) of the same load. JavaScriptCore keeps
  # compiling the hot functions (DFG, then FTL, on its JIT thread, which shares the pinned core) for the first
  # ~10-20 s of load, and Bun's per-VM GC timers slow down once the heaps stop growing; a 2 s warm-up measured
  # that start-up phase: p99 ~0.9 ms against ~0.25 ms once settled (README, Performance, "Tails"). WARMUP=2 shows it.
  taskset -c 0 dnsperf $(dp_args "$port") -s 127.0.0.1 -p "$port" -d "$qfile" -l "$WARMUP" -c 16 -q 512 ${RATE:+-Q $RATE} >/dev/null 2>&1
  [ "$STOP" = 1 ] && kill -STOP $(tree ${pids[$name]})
done
for r in $(seq "$RUNS"); do
  for spec in "${specs[@]}"; do
    spec_fields "$spec"; pid=${pids[$name]}
    [ "$STOP" = 1 ] && kill -CONT $(tree $pid)
    taskset -c 0 dnsperf $(dp_args "$port") -s 127.0.0.1 -p "$port" -d "$qfile" -l 1 -c 16 -q 512 ${RATE:+-Q $RATE} >/dev/null 2>&1
    t0=$(tree_cpu $pid); read -r _ w0 s0 </proc/$pid/schedstat
    taskset -c 0 dnsperf -v $(dp_args "$port") -s 127.0.0.1 -p "$port" -d "$qfile" -l "$LEN" -c 16 -q 512 ${RATE:+-Q $RATE} >"$gen/run.out" 2>&1
    t1=$(tree_cpu $pid); read -r _ w1 s1 </proc/$pid/schedstat
    # how long the server's main thread was runnable but not running (preempted, or waiting to be scheduled)
    # and how many times it was scheduled in (each sleep in poll/epoll and each preemption ends one)
    waitms=$(( (w1 - w0) / 1000000 )); slices=$((s1 - s0)); waitper=$(( (w1 - w0) / (slices > 0 ? slices : 1) ))
    res=$(grep -v '^>' "$gen/run.out")
    done_q=$(echo "$res" | awk '/Queries completed/{print $3}')
    cpu=$(python3 -c "print(round(($t1-$t0)*1e6/$(getconf CLK_TCK)/max(1,${done_q:-0}),2))")
    qps=$(echo "$res" | awk '/Queries per second/{print $4}')
    lat=$(echo "$res" | awk '/Average Latency/{print $4*1e6; exit}')  # the first: DoT/DoH add a connection one
    lost=$(echo "$res" | awk '/Queries lost/{print $3}')
    # p99 from dnsperf -v's per-query lines ("> NOERROR name type seconds")
    read -r p50 p90 p99 p999 <<<"$(awk '/^>/{print $NF}' "$gen/run.out" | sort -g | awk '{a[NR]=$1} END {n=split("0.5 0.9 0.99 0.999",q," "); for (j=1;j<=n;j++) {i=int(NR*q[j]); if (i<1) i=1; printf "%s ", a[i]*1e6}}')"
    # every run's latencies into one histogram per server (1 µs buckets): the pooled quantiles at the end
    awk '/^>/{b=int($NF*1e6); if (b>100000) b=100000; h[b]++} END {for (k in h) print k, h[k]}' "$gen/run.out" >>"$gen/hist-$name.txt"
    [ -n "${KEEP:-}" ] && cp "$gen/run.out" "$gen/run-$name-$r.out"  # KEEP=1: every run's per-query lines
    noerror=$(awk '/^>/{n++; if ($2=="NOERROR") k++} END {printf "%.1f", n ? 100*k/n : 0}' "$gen/run.out")
    rss=$(tree_rss $pid)
    echo "$name run=$r qps=$qps avg_latency_us=$lat p50_us=$p50 p90_us=$p90 p99_us=$p99 p999_us=$p999 noerror_pct=$noerror lost=$lost server_cpu_us_per_query=$cpu rss_kb=$rss runqueue_wait_ms=$waitms slices=$slices wait_per_slice_ns=$waitper"
    rows[$name]+="$qps $lat $lost $cpu $rss $p99"$'\n'
    [ "$STOP" = 1 ] && kill -STOP $(tree $pid)
  done
done
for p in ${pids[*]}; do kill -CONT $(tree $p); done
kill ${pids[*]} 2>/dev/null; wait ${pids[*]} 2>/dev/null
declare -A med
for n in "${names[@]}"; do
  med[$n]=$(printf '%s' "${rows[$n]}" | python3 -c "
import sys, statistics as s
rows=[list(map(float,l.split())) for l in sys.stdin if l.strip()]
print(' '.join(str(round(s.median(c),2)) for c in zip(*rows)))")
done
echo
echo "mode $MODE: servers on CPU $SERVER_CPUS, dnsperf on CPU 0; ${WARMUP}s warm-up each, then medians of $RUNS interleaved runs, ${LEN}s each, offered ${RATE:-unthrottled} q/s, $(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| %-12s | %9s | %14s | %8s | %6s | %14s | %8s |\n' server qps "avg latency µs" "p99 µs" lost "CPU µs/query" "RSS MB"
printf '|%s|\n' "--------------|-----------|----------------|----------|--------|----------------|----------"
for n in "${names[@]}"; do
  read -r q l lo c r p <<<"${med[$n]}"
  printf '| %-12s | %9s | %14s | %8s | %6s | %14s | %8s |\n' "$n" "$q" "$l" "$p" "$lo" "$c" "$(python3 -c "print(round($r/1024,1))")"
done
# Pooled over every query of every run: a bad stretch counts by its weight instead of being a whole run's median
echo
hists=(); for n in "${names[@]}"; do hists+=("$n=$gen/hist-$n.txt"); done
python3 - "${hists[@]}" <<'PY'
import sys, collections
def quantiles(path):
    h = collections.Counter()
    for l in open(path):
        k, c = l.split(); h[int(k)] += int(c)
    total, acc, keys, out = sum(h.values()), 0, iter(sorted(h)), []
    for q in (0.5, 0.99, 0.999):
        while acc < total * q:
            k = next(keys); acc += h[k]
        out.append(k)
    return out
servers = [(a.split("=", 1)[0], quantiles(a.split("=", 1)[1])) for a in sys.argv[1:]]
print(f"| {'server':<12} | {'pooled p50 µs':>14} | {'pooled p99 µs':>14} | {'pooled p99.9 µs':>15} |")
print("|--------------|----------------|----------------|-----------------|")
first, (_, p99b, p999b) = servers[0]
for i, (name, (p50, p99, p999)) in enumerate(servers):
    ratio = f"  p99 {p99/max(p99b,1):.2f}x, p99.9 {p999/max(p999b,1):.2f}x {first}'s" if i else ""
    print(f"| {name:<12} | {p50:>14} | {p99:>14} | {p999:>15} |{ratio}")
PY
echo
read -r uq ul ulo uc ur up <<<"${med[${names[0]}]}"
for n in "${names[@]:1}"; do
  read -r bq bl blo bc br bp <<<"${med[$n]}"
  python3 -c "
a, b = ([l.split()[-1] for l in rows.splitlines() if l.strip()] for rows in ('''${rows[${names[0]}]}''', '''${rows[$n]}'''))
lower = sum(float(y) < float(x) for x, y in zip(a, b))
print(f'$n/${names[0]}: qps {$bq/$uq:.3f}x, CPU per query {$bc/$uc:.2f}x, latency avg {$bl/max($ul,1e-9):.2f}x, p99 {$bp/max($up,1e-9):.2f}x (lower in {lower} of {len(a)} paired runs)')"
done
