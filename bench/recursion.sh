#!/usr/bin/env bash
# Side-by-side recursion bench: bunbound (mode = "recursive") vs Unbound (iterator only, no validation), both
# resolving from the root of a DNS hierarchy on loopback served by NSD, one NSD per level, each on port 53 of
# its own address (what a resolver asks: Unbound always uses port 53):
#   root  127.54.0.1  .          delegates com. and net. (glue), a.root-servers.net. is its server
#   TLD   127.54.1.1  com. net.  delegates bench.com., probe.com., zone1..15.com. (in-bailiwick NS, glue),
#                                zone16..20.com. (NS ns1.leaf.net.: no glue, the resolver looks it up) and leaf.net.
#   leaf  127.54.2.1  bench.com. (h0..h49999, A and AAAA), zone1..20.com. (h0..h9999 each), probe.com., leaf.net.
# Each resolver pinned to CPU 1, dnsperf and the NSDs on CPU 0. One resolver runs at a time; each run starts
# both afresh (empty caches) and measures, after one probe name (h0.probe.com: priming and the com. cut):
#   cold  COLD (default 20000) distinct names (A or AAAA, spread over the 21 zones), each asked once
#         (`dnsperf -n 1`), offered at RATE (default 2000) q/s: every query a full resolution below com.
#   warm  the same names again (all cached now) at WARM_RATE (default 20000) q/s for LEN (default 8) seconds
# Per phase: completed q/s, lost, avg/p50/p99 latency (dnsperf -v per-query lines), the resolver's CPU µs per
# completed query (utime+stime of /proc/PID/stat), RSS, and outgoing queries per completed query: the delta of
# the three NSDs' query counters (`nsd-control stats_noreset`, num.queries, over a unix socket), the same
# measure for both resolvers; bunbound's own bunbound_recursion_queries_total (/metrics) as a cross-check.
# WARMUP=N (default 0) first runs N seconds of distinct probe.com names at RATE (JIT warm-up; the com. cut
# is cached by the probe anyway), not measured. SERVERS (default "unbound bunbound") picks the resolvers.
# BACKEND (default auto) is bunbound's UDP backend (udp.backend). BB_ARGS adds bunbound arguments (e.g. "--log-level debug"; its log: gen/rec/bunbound.log).
# KEEP=1 keeps every phase's dnsperf output in gen/rec/run-NAME-PHASE-N.out, and bunbound's /metrics at the end
# of each run in gen/rec/metrics-NAME-N.txt.
# Medians of RUNS (default 3) runs, then the ratios bunbound/unbound.
# SIGNED=1: the same hierarchy with every zone DNSSEC-signed (ldns-keygen, ldns-signzone; each child's DS, from
# ldns-key2ds -2, added to its parent before the parent is signed): the root RSASHA256 (KSK+ZSK, like the real
# one), com./net./most leaves ECDSAP256SHA256 KSK+ZSK with NSEC, leaf.net./zone2/zone12/zone17 one ECDSA CSK,
# zone3/zone8/zone18 NSEC3 (0 iterations, no salt), zone5 RSASHA256 with NSEC, zone9 RSASHA256 with NSEC3. Keys
# (gen/rec/keys/) and signed files (gen/rec/signed/) are kept and reused while a zone's input, keys and
# signing options are unchanged and its signatures are valid for 7 more days (signing it all takes ~30 s
# on 2 cores); gen/rec/signed/root.ds is the trust anchor. Resolvers (SERVERS default "unbound bunbound
# bunbound-noval"): Unbound validating (module-config "validator iterator", trust-anchor-file), bunbound
# validating (validate = "auto", trust_anchors), bunbound not validating (validate = false). dnsperf sets
# DO (-D) in every phase. After the cold phase, ADCHECK (default 50) names of it, spread over the list, are
# asked again with `dig +dnssec`: how many are NOERROR with AD set and with an RRSIG in the answer (the AD
# column; a non-AD answer of a validating resolver is kept in gen/rec/noad-NAME-RUN.txt). bunbound's
# bunbound_dnssec_verdicts_total deltas (secure/insecure/bogus) are printed per cold run. Ratios: validating
# bunbound/validating Unbound and validating/non-validating bunbound (the cost of validation per miss).
# FORWARD=1 (with SIGNED=1): validation of forwarded answers instead. A non-validating Unbound (iterator only,
# port 5363, CPU 0 with the NSDs, started afresh before each resolver's run) resolves the signed hierarchy and
# hands over the signatures; the measured resolvers forward everything to it: Unbound validating (forward-zone
# ".", "validator iterator"), bunbound validating (upstreams, validate = "auto": its check finds the upstream
# signing), bunbound not validating. "out q/query" then counts what the upstream's recursion sent the NSDs.
# Needs: apt-get install -y nsd unbound dnsperf bind9-dnsutils curl (SIGNED=1: ldnsutils); root (NSD binds port 53).
# Usage: RUNS=3 RATE=2000 WARM_RATE=20000 LEN=8 COLD=20000 [SIGNED=1 [FORWARD=1]] bench/recursion.sh
set -u
d=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$d/.." && pwd)
gen="$d/gen/rec"
mkdir -p "$gen"
RUNS=${RUNS:-3}; RATE=${RATE:-2000}; WARM_RATE=${WARM_RATE:-20000}; LEN=${LEN:-8}; COLD=${COLD:-20000}; WARMUP=${WARMUP:-0}
SIGNED=${SIGNED:-0}; ADCHECK=${ADCHECK:-50}; FORWARD=${FORWARD:-0}
[ "$FORWARD" != 1 ] || [ "$SIGNED" = 1 ] || { echo "FORWARD=1 needs SIGNED=1"; exit 2; }
if [ "$SIGNED" = 1 ]; then SERVERS=${SERVERS:-unbound bunbound bunbound-noval}; DO=(-D); else SERVERS=${SERVERS:-unbound bunbound}; DO=(); fi
UPORT=5361; BPORT=5362; BHTTP=8062; FPORT=5363
for t in nsd nsd-control unbound dnsperf dig taskset curl python3; do command -v $t >/dev/null || { echo "missing $t (apt-get install -y nsd unbound dnsperf bind9-dnsutils curl)"; exit 2; }; done
[ "$SIGNED" != 1 ] || for t in ldns-keygen ldns-signzone ldns-key2ds; do command -v $t >/dev/null || { echo "missing $t (apt-get install -y ldnsutils)"; exit 2; }; done
[ "$COLD" -le 200000 ] || { echo "COLD must be <= 200000 (the names there are)"; exit 2; }

echo "# $(date -u '+%F %T UTC'), $(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), unbound $(unbound -V | awk 'NR==1{print $2}'), NSD $(nsd -v 2>&1 | awk 'NR==1{print $3}'), bun $(bun --version), dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null)"
echo "# RUNS=$RUNS RATE=$RATE WARM_RATE=$WARM_RATE LEN=$LEN COLD=$COLD WARMUP=$WARMUP SIGNED=$SIGNED FORWARD=$FORWARD BACKEND=${BACKEND:-auto} SERVERS=\"$SERVERS\" $0"

python3 - "$gen" "$COLD" "$RATE" "$WARMUP" "$UPORT" "$BPORT" "$BHTTP" "${BACKEND:-auto}" "$SIGNED" "$FPORT" <<'PY'
import sys, random, os
out, cold, rate, warmup, uport, bport, bhttp, backend, signed, fport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), *sys.argv[5:]
signed = signed == "1"
anchor = f"{out}/signed/root.ds"
ROOT, TLD, LEAF = "127.54.0.1", "127.54.1.1", "127.54.2.1"
TTL = 86400
soa = lambda z: f"{z} {TTL} IN SOA ns.nic.net. hostmaster.nic.net. 1 3600 600 604800 3600\n"
zones = {}  # file name -> (origin, text)
zones["root.zone"] = (".", soa(".") + f". {TTL} IN NS a.root-servers.net.\n"
    f"com. {TTL} IN NS ns.nic.com.\nns.nic.com. {TTL} IN A {TLD}\n"
    f"net. {TTL} IN NS ns.nic.net.\nns.nic.net. {TTL} IN A {TLD}\na.root-servers.net. {TTL} IN A {ROOT}\n")
leafzones = [("bench.com.", 50000)] + [(f"zone{m}.com.", 10000) for m in range(1, 21)]
com = soa("com.") + f"com. {TTL} IN NS ns.nic.com.\nns.nic.com. {TTL} IN A {TLD}\n"
ns_of = {}
for z, _ in leafzones + [("probe.com.", 0)]:
    m = z.split(".")[0]
    if m.startswith("zone") and int(m[4:]) > 15:
        ns_of[z] = "ns1.leaf.net."  # glue-less: the resolver must resolve the NS name in net. first
        com += f"{z} {TTL} IN NS ns1.leaf.net.\n"
    else:
        ns_of[z] = f"ns1.{z}"
        com += f"{z} {TTL} IN NS ns1.{z}\nns1.{z} {TTL} IN A {LEAF}\n"
zones["com.zone"] = ("com.", com)
zones["net.zone"] = ("net.", soa("net.") + f"net. {TTL} IN NS ns.nic.net.\nns.nic.net. {TTL} IN A {TLD}\na.root-servers.net. {TTL} IN A {ROOT}\n"
    f"leaf.net. {TTL} IN NS ns1.leaf.net.\nns1.leaf.net. {TTL} IN A {LEAF}\n")
zones["leaf.net.zone"] = ("leaf.net.", soa("leaf.net.") + f"leaf.net. {TTL} IN NS ns1.leaf.net.\nns1.leaf.net. {TTL} IN A {LEAF}\n")
for z, n in leafzones + [("probe.com.", 50000)]:
    lines = [soa(z), f"{z} {TTL} IN NS {ns_of[z]}\n"]
    if ns_of[z].endswith(z): lines.append(f"{ns_of[z]} {TTL} IN A {LEAF}\n")
    for i in range(n):
        lines.append(f"h{i}.{z} {TTL} IN A 10.{i >> 16}.{(i >> 8) & 255}.{i & 255}\nh{i}.{z} {TTL} IN AAAA fd00::{i:x}\n")
    zones[z + "zone"] = (z, "".join(lines))
for f, (_, text) in zones.items():
    path = f"{out}/{f}"
    if not (os.path.exists(path) and open(path).read() == text):
        open(path, "w").write(text)
levels = {"root": (ROOT, ["root.zone"]), "tld": (TLD, ["com.zone", "net.zone"]),
          "leaf": (LEAF, ["leaf.net.zone", "probe.com.zone"] + [z + "zone" for z, _ in leafzones])}
for lvl, (addr, files) in levels.items():
    with open(f"{out}/nsd-{lvl}.conf", "w") as c:
        c.write(f'server:\n  ip-address: {addr}\n  port: 53\n  server-count: 1\n  username: ""\n  chroot: ""\n  zonesdir: "{out}"\n'
                f'  database: ""\n  zonelistfile: "{out}/nsd-{lvl}.zonelist"\n  xfrdfile: "{out}/nsd-{lvl}.xfrd"\n  xfrdir: "{out}"\n'
                f'  pidfile: "{out}/nsd-{lvl}.pid"\n  logfile: "{out}/nsd-{lvl}.log"\n  do-ip6: no\n  reuseport: no\n'
                f'  receive-buffer-size: 4194304\n  send-buffer-size: 4194304\n  hide-version: yes\n'
                # NSD's response rate limiting (on by default in Debian's build, 200 q/s a source /24) would drop
                # a resolver's queries: off
                f'  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n'
                f'remote-control:\n  control-enable: yes\n  control-interface: "{out}/nsd-{lvl}.sock"\n')
        for f in files:
            c.write(f'zone:\n  name: "{zones[f][0]}"\n  zonefile: "{"signed/" + f + ".signed" if signed else f}"\n')
with open(f"{out}/root.hints", "w") as f:
    f.write(f". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A {ROOT}\n")
with open(f"{out}/unbound-rec.conf", "w") as f:
    f.write(f'server:\n  interface: 127.0.0.1@{uport}\n  port: {uport}\n  num-threads: 1\n  do-daemonize: no\n  use-syslog: no\n  logfile: ""\n'
            f'  username: ""\n  chroot: ""\n  pidfile: ""\n  directory: "{out}"\n  access-control: 127.0.0.0/8 allow\n  so-reuseport: no\n  so-rcvbuf: 4m\n'
            f'  root-hints: "{out}/root.hints"\n  do-not-query-localhost: no\n  module-config: "{"validator iterator" if signed else "iterator"}"\n  qname-minimisation: yes\n'
            + (f'  trust-anchor-file: "{anchor}"\n' if signed else '') +
            f'  prefetch: no\n  msg-cache-size: 128m\n  rrset-cache-size: 256m\n  verbosity: 0\n')
unbound_common = (f'  num-threads: 1\n  do-daemonize: no\n  use-syslog: no\n  logfile: ""\n  username: ""\n  chroot: ""\n  pidfile: ""\n'
                  f'  directory: "{out}"\n  access-control: 127.0.0.0/8 allow\n  so-reuseport: no\n  so-rcvbuf: 4m\n  do-not-query-localhost: no\n'
                  f'  prefetch: no\n  msg-cache-size: 128m\n  rrset-cache-size: 256m\n  verbosity: 0\n')
with open(f"{out}/unbound-upstream.conf", "w") as f:
    f.write(f'server:\n  interface: 127.0.0.1@{fport}\n  port: {fport}\n' + unbound_common +
            f'  root-hints: "{out}/root.hints"\n  module-config: "iterator"\n  qname-minimisation: yes\n')
with open(f"{out}/unbound-fwd.conf", "w") as f:
    f.write(f'server:\n  interface: 127.0.0.1@{uport}\n  port: {uport}\n' + unbound_common +
            f'  module-config: "validator iterator"\n  trust-anchor-file: "{anchor}"\n'
            f'forward-zone:\n  name: "."\n  forward-addr: 127.0.0.1@{fport}\n')
for name, validate in (("bunbound-fwd", True), ("bunbound-fwd-noval", False)):
  with open(f"{out}/{name}.toml", "w") as f:
    f.write(f'listen = ["127.0.0.1:{bport}"]\nhttp = "127.0.0.1:{bhttp}"\nupstreams = ["127.0.0.1:{fport}"]\n'
            f'data_dir = "{out}/data-rec"\nlog_level = "warn"\n[clients]\nenabled = false\n[discovery]\nenabled = false\n'
            f'[udp]\nbackend = "{backend}"\nreceive_buffer_bytes = 4194304\n[cache]\nprefetch = false\n[dnssec]\n'
            + (f'validate = "auto"\ntrust_anchors = ["{anchor}"]\n' if validate else 'validate = false\n'))
for name, validate in (("bunbound-rec", signed), ("bunbound-rec-noval", False)):
  with open(f"{out}/{name}.toml", "w") as f:
    f.write(f'listen = ["127.0.0.1:{bport}"]\nhttp = "127.0.0.1:{bhttp}"\nmode = "recursive"\nroot_hints = "{out}/root.hints"\n'
            f'data_dir = "{out}/data-rec"\nlog_level = "warn"\n[clients]\nenabled = false\n[discovery]\nenabled = false\n'
            f'[udp]\nbackend = "{backend}"\nreceive_buffer_bytes = 4194304\n[cache]\nprefetch = false\n[dnssec]\n'
            + (f'validate = "auto"\ntrust_anchors = ["{anchor}"]\n' if validate else 'validate = false\n') + '[recursion]\nport = 53\n')
random.seed(11)
pool = [(z, i) for z, n in leafzones for i in range(n)]
with open(f"{out}/cold.txt", "w") as f:
    for z, i in random.sample(pool, cold):
        f.write(f"h{i}.{z} {random.choice(['A', 'AAAA'])}\n")
with open(f"{out}/warmup.txt", "w") as f:
    for i in range(1, min(49999, max(1, rate * warmup)) + 1):
        f.write(f"h{i}.probe.com. A\n")
PY

# SIGNED=1: keys (made once) and signed zone files, leaves first, each parent with its children's DS
# spec of a zone file: algorithm (8 RSASHA256, 13 ECDSAP256SHA256), keys (split: KSK+ZSK, csk: one key), denial
spec_of() {
  case $1 in
    root.zone) echo "8 split nsec" ;;
    leaf.net.zone|zone2.com.zone|zone12.com.zone|zone17.com.zone) echo "13 csk nsec" ;;
    zone3.com.zone|zone8.com.zone|zone18.com.zone) echo "13 split nsec3" ;;
    zone5.com.zone) echo "8 split nsec" ;;
    zone9.com.zone) echo "8 split nsec3" ;;
    *) echo "13 split nsec" ;;
  esac
}
origin_of() { case $1 in root.zone) echo . ;; *) echo "${1%zone}" ;; esac; }
# keys of a zone file: their base names, KSK (or CSK) first; made on first use, again when the spec changes
keys_of() {
  local f=$1 spec; spec=$(spec_of "$f"); local kd="$gen/keys/$f"
  if [ "$(cat "$kd/spec" 2>/dev/null)" != "$spec" ]; then
    rm -rf "$kd"; mkdir -p "$kd"
    local alg layout o bits=(); read -r alg layout _ <<<"$spec"; o=$(origin_of "$f")
    [ "$alg" = 8 ] && bits=(-b 2048)
    ( cd "$kd" && ldns-keygen -a "$alg" "${bits[@]}" -k "$o" && if [ "$layout" = split ]; then ldns-keygen -a "$alg" "${bits[@]}" "$o"; fi ) >"$kd/names" 2>"$kd/err" || { cat "$kd/err"; return 1; }
    echo "$spec" >"$kd/spec"
  fi
  sed "s|^|$kd/|" "$kd/names"
}
ds_of() { ldns-key2ds -2 -n "$(keys_of "$1" | head -1).key"; }
# sign_zone FILE CHILD-FILES...: signed/FILE.signed from FILE plus the children's DS, unless the same input
# (text, keys, options) was signed before and its signatures last 7 more days
sign_zone() {
  local f=$1; shift
  local sd="$gen/signed" o keys spec now; o=$(origin_of "$f"); spec=$(spec_of "$f"); keys=$(keys_of "$f") || return 1; now=$(date +%s)
  { cat "$gen/$f"; for c in "$@"; do ds_of "$c"; done; } >"$sd/$f.in"
  local sum; sum=$( { cat "$sd/$f.in"; echo "$spec"; for k in $keys; do cat "$k.key"; done; } | sha256sum | cut -c1-64)
  local old_sum old_exp; read -r old_sum old_exp 2>/dev/null <"$sd/$f.stamp" || true
  if [ -s "$sd/$f.signed" ] && [ "${old_sum:-}" = "$sum" ] && [ "${old_exp:-0}" -gt $((now + 7 * 86400)) ]; then echo reused; return 0; fi
  local nsec3=(); [ "${spec##* }" = nsec3 ] && nsec3=(-n -t 0)
  local exp=$((now + 30 * 86400))
  # shellcheck disable=SC2086
  ldns-signzone "${nsec3[@]}" -i $((now - 3600)) -e "$exp" -o "$o" -f "$sd/$f.signed.tmp" "$sd/$f.in" $keys >"$sd/$f.err" 2>&1 \
    || { echo "ldns-signzone $f failed:"; cat "$sd/$f.err"; return 1; }
  mv "$sd/$f.signed.tmp" "$sd/$f.signed"; echo "$sum $exp" >"$sd/$f.stamp"; echo signed
}
if [ "$SIGNED" = 1 ]; then
  mkdir -p "$gen/signed" "$gen/keys"; t0=$(date +%s.%N)
  leaves=(bench.com.zone probe.com.zone $(for m in $(seq 20); do echo "zone$m.com.zone"; done))
  for f in "${leaves[@]}" leaf.net.zone com.zone net.zone root.zone; do keys_of "$f" >/dev/null || exit 2; done
  # leaves two at a time (2 cores), then net. (leaf.net.'s DS), com. (the leaves' DS), the root (com.'s and net.'s)
  for f in "${leaves[@]}" leaf.net.zone; do
    [ "$(jobs -rp | wc -l)" -ge 2 ] && wait -n
    sign_zone "$f" >"$gen/signed/$f.result" &
  done
  wait
  sign_zone net.zone leaf.net.zone >"$gen/signed/net.zone.result"
  sign_zone com.zone "${leaves[@]}" >"$gen/signed/com.zone.result"
  sign_zone root.zone com.zone net.zone >"$gen/signed/root.zone.result"
  for f in "${leaves[@]}" leaf.net.zone net.zone com.zone root.zone; do
    r=$(head -1 "$gen/signed/$f.result"); [ "$r" = signed ] || [ "$r" = reused ] || { cat "$gen/signed/$f.result"; exit 2; }
  done
  ds_of root.zone >"$gen/signed/root.ds"
  echo "# signing: $(cat "$gen"/signed/*.result | grep -c '^signed') zones signed, $(cat "$gen"/signed/*.result | grep -c '^reused') reused, $(python3 -c "print(round($(date +%s.%N)-$t0,1))") s; trust anchor $(awk '{print $1, $4, $5, $6, $7}' "$gen/signed/root.ds")"
fi

# utime+stime (clock ticks) and RSS (kB) of a process and its descendants
tree() { local p=$1; echo "$p"; for c in $(pgrep -P "$p"); do tree "$c"; done; }
tree_cpu() { for p in $(tree "$1"); do awk '{print $14+$15}' /proc/$p/stat 2>/dev/null; done | awk '{s+=$1} END {print s+0}'; }
tree_rss() { for p in $(tree "$1"); do awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null; done | awk '{s+=$1} END {print s+0}'; }
# queries the three NSDs have received, UDP and TCP
nsd_queries() { for l in root tld leaf; do nsd-control -c "$gen/nsd-$l.conf" stats_noreset; done | awk -F= '$1=="num.queries"{s+=$2} END {print s+0}'; }
bb_queries() { curl -s --max-time 2 "http://127.0.0.1:$BHTTP/metrics" | awk '$1=="bunbound_recursion_queries_total"{print $2; f=1} END {if (!f) print "-"}'; }

declare -A nsdpid
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "${upid:-}" ] && kill "$upid" 2>/dev/null; for p in ${nsdpid[*]}; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
for l in root tld leaf; do
  addr=$(awk '/ip-address/{print $2}' "$gen/nsd-$l.conf")
  if ss -lun | awk '{print $4}' | grep -qx "$addr:53"; then echo "$addr:53 is taken (a stray NSD?): $(ss -lunp | grep "$addr:53")"; exit 2; fi
  rm -f "$gen/nsd-$l.sock"
  taskset -c 0 nsd -d -c "$gen/nsd-$l.conf" >"$gen/nsd-$l.out" 2>&1 & nsdpid[$l]=$!
done
nsd_t0=$(date +%s.%N)
for l in root tld leaf; do
  addr=$(awk '/ip-address/{print $2}' "$gen/nsd-$l.conf"); zone=$(awk '/^ *name:/{gsub("\"","",$2); print $2; exit}' "$gen/nsd-$l.conf")
  for i in $(seq 600); do [ "$(dig +norec +time=1 +tries=1 @"$addr" -p 53 "$zone" SOA 2>/dev/null | awk '/status:/{gsub(",","",$6); print $6}')" = NOERROR ] && break; sleep 0.2; done
  [ "$i" = 600 ] && { echo "NSD $l ($addr) does not answer $zone SOA:"; cat "$gen/nsd-$l.out" "$gen/nsd-$l.log" 2>/dev/null | tail -20; exit 2; }
done
[ "$SIGNED" = 1 ] && echo "# NSDs loaded the signed zones in $(python3 -c "print(round($(date +%s.%N)-$nsd_t0,1))") s"
n0=$(nsd_queries); sleep 0.3; [ "$(nsd_queries)" = "$n0" ] || echo "warning: the NSDs get queries from elsewhere ($n0 -> $(nsd_queries))"
for l in root tld leaf; do nsd-control -c "$gen/nsd-$l.conf" stats_noreset >/dev/null || { echo "nsd-control ($l) fails: no query counts"; exit 2; }; done

kind=rec; [ "$FORWARD" = 1 ] && kind=fwd
cmd_of() { case $1 in unbound) echo "unbound -d -c $gen/unbound-$kind.conf" ;; bunbound) echo "bun $root/src/cli.ts --config $gen/bunbound-$kind.toml ${BB_ARGS:-}" ;;
  bunbound-noval) echo "bun $root/src/cli.ts --config $gen/bunbound-$kind-noval.toml ${BB_ARGS:-}" ;; esac; }
# FORWARD=1: the upstream every measured resolver forwards to, started afresh (empty cache) before each one
upid=
start_upstream() {
  [ "$FORWARD" = 1 ] || return 0
  taskset -c 0 unbound -d -c "$gen/unbound-upstream.conf" >"$gen/unbound-upstream.log" 2>&1 & upid=$!
  for i in $(seq 50); do dig +time=1 +tries=1 @127.0.0.1 -p "$FPORT" localhost A >/dev/null 2>&1 && break; sleep 0.2; done
}
stop_upstream() { [ -n "$upid" ] && { kill "$upid"; wait "$upid" 2>/dev/null; upid=; }; return 0; }
port_of() { case $1 in unbound) echo $UPORT ;; bunbound*) echo $BPORT ;; esac; }
validating() { [ "$SIGNED" = 1 ] && [ "$1" != bunbound-noval ]; }
# bunbound_dnssec_verdicts_total: "secure insecure bogus indeterminate"
bb_verdicts() { curl -s --max-time 2 "http://127.0.0.1:$BHTTP/metrics" | awk '$1 ~ /^bunbound_dnssec_verdicts_total/ {split($1, a, "\""); v[a[2]]=$2} END {printf "%d %d %d %d\n", v["secure"], v["insecure"], v["bogus"], v["indeterminate"]}'; }
# adcheck NAME RUN: ADCHECK names of the cold list asked again with dig +dnssec; prints "noerror ad rrsig asked"
adcheck() {
  local name=$1 r=$2 port; port=$(port_of "$name")
  awk -v n="$ADCHECK" -v t="$COLD" 'BEGIN {s = int(t / n); if (s < 1) s = 1} (NR - 1) % s == 0 && k < n {print $1, $2; k++}' "$gen/cold.txt" >"$gen/adcheck.txt"
  taskset -c 0 dig +dnssec +time=2 +tries=1 @127.0.0.1 -p "$port" -f "$gen/adcheck.txt" >"$gen/adcheck.out" 2>&1
  rm -f "$gen/noad-$name-$r.txt"
  awk -v keep="$gen/noad-$name-$r.txt" -v val="$(validating "$name" && echo 1)" '
    function flush() { if (!inq) return; n++; if (st == "NOERROR") ok++; if (ad) a++; if (sig) g++
                       if (val && !ad && !kept) { printf "%s", buf > keep; kept = 1 } }
    /^; <<>> DiG/ { flush(); inq = 1; st = ""; ad = 0; sig = 0; sec = ""; buf = "" }
    { buf = buf $0 "\n" }
    /->>HEADER<<-/ { st = $6; sub(",", "", st) }
    /^;; flags:/ { split($0, p, ";"); if (p[3] ~ / ad( |$)/) ad = 1 }
    /^;; [A-Z]+ SECTION:/ { sec = $2 }
    /^$/ { sec = "" }
    sec == "ANSWER" && $4 == "RRSIG" { sig = 1 }
    END { flush(); printf "%d %d %d %d\n", ok, a, g, n }' "$gen/adcheck.out"
}
declare -A rows failed adrows
# measure NAME PHASE RUN dnsperf-args...: one dnsperf run against the running resolver $pid
measure() {
  local name=$1 phase=$2 r=$3; shift 3
  local port; port=$(port_of "$name")
  local t0 q0 b0 t1 q1 b1
  local v0 v1 vs=
  [ "$SIGNED" = 1 ] && [[ $name == bunbound* ]] && v0=$(bb_verdicts)
  t0=$(tree_cpu $pid); q0=$(nsd_queries); b0=$(bb_queries)
  taskset -c 0 dnsperf "${DO[@]}" -v -s 127.0.0.1 -p "$port" -c 16 -q 512 "$@" >"$gen/run.out" 2>&1
  t1=$(tree_cpu $pid); q1=$(nsd_queries); b1=$(bb_queries)
  if [ -n "${v0:-}" ]; then v1=$(bb_verdicts); vs=$(python3 -c "a='$v0'.split(); b='$v1'.split(); print(' verdicts(secure/insecure/bogus/indeterminate)=' + '/'.join(str(int(y)-int(x)) for x, y in zip(a, b)))"); fi
  local res; res=$(grep -v '^>' "$gen/run.out")
  local done_q qps lat lost cpu out self noerror p50 p99 rss
  done_q=$(echo "$res" | awk '/Queries completed/{print $3}'); done_q=${done_q:-0}
  qps=$(echo "$res" | awk '/Queries per second/{print $4}')
  lat=$(echo "$res" | awk '/Average Latency/{print $4*1e6; exit}')
  lost=$(echo "$res" | awk '/Queries lost/{print $3}')
  cpu=$(python3 -c "print(round(($t1-$t0)*1e6/$(getconf CLK_TCK)/max(1,$done_q),2))")
  out=$(python3 -c "print(round(($q1-$q0)/max(1,$done_q),3))")
  if [ "$b0" = - ] || [ "$b1" = - ]; then self=-; else self=$(python3 -c "print(round(($b1-$b0)/max(1,$done_q),3))"); fi
  read -r p50 p99 <<<"$(awk '/^>/{print $NF}' "$gen/run.out" | sort -g | awk '{a[NR]=$1} END {n=split("0.5 0.99",q," "); for (j=1;j<=n;j++) {i=int(NR*q[j]); if (i<1) i=1; printf "%s ", a[i]*1e6}}')"
  noerror=$(awk '/^>/{n++; if ($2=="NOERROR") k++} END {printf "%.1f", n ? 100*k/n : 0}' "$gen/run.out")
  rss=$(tree_rss $pid)
  [ -n "${KEEP:-}" ] && cp "$gen/run.out" "$gen/run-$name-$phase-$r.out"
  echo "$name $phase run=$r qps=$qps lost=$lost avg_latency_us=$lat p50_us=$p50 p99_us=$p99 noerror_pct=$noerror cpu_us_per_query=$cpu nsd_queries=$((q1 - q0)) out_per_query=$out self_out_per_query=$self rss_kb=$rss$vs"
  rows[$name-$phase]+="${qps:-0} ${lost:-0} ${lat:-0} ${p50:-0} ${p99:-0} $cpu $out $([ "$self" = - ] && echo -1 || echo "$self") $rss $noerror"$'\n'
}
for r in $(seq "$RUNS"); do
  for name in $SERVERS; do
    [ -n "${failed[$name]:-}" ] && continue
    port=$(port_of "$name")
    rm -rf "$gen/data-rec"
    start_upstream
    taskset -c 1 $(cmd_of "$name") >"$gen/$name.log" 2>&1 & pid=$!
    for i in $(seq 50); do dig +time=1 +tries=1 @127.0.0.1 -p "$port" localhost A >/dev/null 2>&1 && break; sleep 0.2; done
    # it must resolve a name of the hierarchy from the root
    probe=$(dig +time=3 +tries=1 @127.0.0.1 -p "$port" h0.probe.com A 2>&1)
    if ! echo "$probe" | grep -q 'status: NOERROR' || ! echo "$probe" | grep -qE '^h0\.probe\.com\.\s+[0-9]+\s+IN\s+A\s+10\.0\.0\.0'; then
      echo "$name does not resolve h0.probe.com from the root (run $r): not measured"; echo "$probe" | sed 's/^/    /'
      echo "    --- last lines of $gen/$name.log:"; tail -20 "$gen/$name.log" | sed 's/^/    /'
      failed[$name]=1; kill "$pid"; wait "$pid" 2>/dev/null; pid=; stop_upstream; continue
    fi
    if validating "$name" && ! dig +dnssec +time=3 +tries=1 @127.0.0.1 -p "$port" h0.probe.com A | grep -qE '^;; flags:[^;]* ad[ ;]'; then
      echo "warning: $name does not set AD on h0.probe.com (run $r):"; dig +dnssec +time=3 +tries=1 @127.0.0.1 -p "$port" h0.probe.com A | sed 's/^/    /'
    fi
    [ "$WARMUP" -gt 0 ] && taskset -c 0 dnsperf "${DO[@]}" -s 127.0.0.1 -p "$port" -d "$gen/warmup.txt" -n 1 -c 16 -q 512 -Q "$RATE" >/dev/null 2>&1
    sleep 0.5
    measure "$name" cold "$r" -d "$gen/cold.txt" -n 1 -Q "$RATE"
    if [ "$SIGNED" = 1 ]; then
      read -r ad_ok ad_ad ad_sig ad_n <<<"$(adcheck "$name" "$r")"
      echo "$name adcheck run=$r asked=$ad_n noerror=$ad_ok ad=$ad_ad rrsig_in_answer=$ad_sig$([ -s "$gen/noad-$name-$r.txt" ] && echo " (first answer without AD: $gen/noad-$name-$r.txt)")"
      adrows[$name]+="$(python3 -c "print(round(100*$ad_ad/max(1,$ad_n),1))")"$'\n'
    fi
    measure "$name" warm "$r" -d "$gen/cold.txt" -l "$LEN" -Q "$WARM_RATE"
    [ -n "${KEEP:-}" ] && [[ $name == bunbound* ]] && curl -s --max-time 2 "http://127.0.0.1:$BHTTP/metrics" >"$gen/metrics-$name-$r.txt"
    kill "$pid"; wait "$pid" 2>/dev/null; pid=
    stop_upstream
  done
done

declare -A med
names=()
for name in $SERVERS; do
  [ -n "${rows[$name-cold]:-}" ] || continue
  names+=("$name")
  for ph in cold warm; do
    med[$name-$ph]=$(printf '%s' "${rows[$name-$ph]}" | python3 -c "
import sys, statistics as s
rows=[list(map(float,l.split())) for l in sys.stdin if l.strip()]
print(' '.join(str(round(s.median(c),3)) for c in zip(*rows)))")
  done
done
echo
if [ "$FORWARD" = 1 ]; then echo "forwarding to a non-validating Unbound (CPU 0) resolving a loopback hierarchy (3 NSDs); resolvers on CPU 1, dnsperf, the upstream and NSDs on CPU 0; medians of $RUNS runs, each from empty caches;"
else echo "recursion from the root of a loopback hierarchy (3 NSDs); resolvers on CPU 1, dnsperf and NSDs on CPU 0; medians of $RUNS runs, each from an empty cache;"; fi
[ "$SIGNED" = 1 ] && echo "SIGNED=1: every zone signed; dnsperf sets DO; AD%: of $ADCHECK cold names asked again with dig +dnssec after the cold phase, the share with AD (median)"
echo "cold: $COLD distinct names once at $RATE q/s; warm: the same names at $WARM_RATE q/s for ${LEN}s; $(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| %-14s | %-5s | %8s | %9s | %6s | %8s | %8s | %8s | %8s | %12s | %13s | %6s | %5s |\n' server phase offered qps lost "avg µs" "p50 µs" "p99 µs" NOERROR% "CPU µs/query" "out q/query" "RSS MB" AD%
printf '|%s|\n' "----------------|-------|----------|-----------|--------|----------|----------|----------|----------|--------------|---------------|--------|-------"
for name in "${names[@]}"; do
  for ph in cold warm; do
    read -r q lo l p50 p99 c o s rss ne <<<"${med[$name-$ph]}"
    [ "$ph" = cold ] && off=$RATE || off=$WARM_RATE
    oo=$o; python3 -c "import sys; sys.exit(0 if $s >= 0 else 1)" && oo="$o ($s)"
    ad=-; [ "$ph" = cold ] && [ -n "${adrows[$name]:-}" ] && ad=$(printf '%s' "${adrows[$name]}" | python3 -c "import sys, statistics as s; print(round(s.median(float(l) for l in sys.stdin if l.strip()), 1))")
    printf '| %-14s | %-5s | %8s | %9s | %6s | %8s | %8s | %8s | %8s | %12s | %13s | %6s | %5s |\n' "$name" "$ph" "$off" "$q" "$lo" "$l" "$p50" "$p99" "$ne" "$c" "$oo" "$(python3 -c "print(round($rss/1024,1))")" "$ad"
  done
done
echo "out q/query: queries the NSDs received / completed client queries (in parentheses: bunbound's own bunbound_recursion_queries_total)"
# ratio A B LABEL: A/B per phase
ratio() {
  [ -n "${med[$1-cold]:-}" ] && [ -n "${med[$2-cold]:-}" ] || return 0
  for ph in cold warm; do
    read -r uq _ ul _ up uc uo _ ru _ <<<"${med[$2-$ph]}"
    read -r bq _ bl _ bp bc bo _ rb _ <<<"${med[$1-$ph]}"
    python3 -c "
r = lambda a, b: f'{a/b:.2f}x' if b else 'n/a'
print(f'$3 $ph: qps {r($bq,$uq)}, CPU per query {r($bc,$uc)} ({$bc-$uc:+.1f} µs), latency avg {r($bl,$ul)}, p99 {r($bp,$up)}, outgoing queries per query {r($bo,$uo)}, RSS {r($rb,$ru)}')"
  done
}
echo
if [ "$SIGNED" = 1 ]; then
  ratio bunbound unbound "validating bunbound/validating unbound"
  ratio bunbound bunbound-noval "validating/non-validating bunbound"
else
  ratio bunbound unbound "bunbound/unbound"
fi
for name in $SERVERS; do [ -n "${failed[$name]:-}" ] && echo "$name: FAILED (see above; log $gen/$name.log)"; done
exit 0
