// A whole bunbound forwarding over DNS over TLS and DNS over HTTPS to Unbound's own DoT and DoH listeners, with
// a self-signed CA given as upstream.tls_ca; and what an unverifiable upstream or a bad CA file does.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, makeQuery, udpAsk } from "../helpers/dns";
import { startBunbound, ROOT, type Running } from "../helpers/proc";
import { startUnboundTls, unboundBinary, type UnboundTls } from "../helpers/unbound-tls";
import { until } from "../helpers/wait";

setDefaultTimeout(60_000);
let unbound: UnboundTls;
const running: Running[] = [];
beforeAll(async () => {
  if (unboundBinary) unbound = await startUnboundTls();
});
afterAll(async () => {
  for (const b of running) await b.stop("SIGKILL");
  await unbound?.stop();
});

async function bunbound(toml: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-upenc-"));
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(cfg, `data_dir = "${dir}/data"\n${toml}`);
  const b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
  running.push(b);
  return b;
}
const metrics = async (b: Running) => await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
const metric = (text: string, name: string) => Number(text.match(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m"))?.[1] ?? NaN);
const ask = async (b: Running, name: string) => decode((await udpAsk(b.udpPort, makeQuery(name), 4000))!);

describe.skipIf(!unboundBinary)("forwarding over DoT and DoH to Unbound", () => {
  test("tls:// with the auth name and https:// with an address hint both answer, verified against tls_ca; one connection carries them all", async () => {
    // test. is a special-use name (RFC 6761): it leaves bunbound only through a forward zone.
    const b = await bunbound(
      `upstreams = []\n[upstream]\ntls_ca = "${unbound.cert.caFile}"\n` +
        `[[forward]]\nzone = "test"\nupstreams = ["tls://127.0.0.1:${unbound.tlsPort}#dns.test"]\n` +
        `[[forward]]\nzone = "doh.test"\nupstreams = ["https://dns.test:${unbound.httpsPort}/dns-query#127.0.0.1"]\n`,
    );
    const dot = await ask(b, "a.example.test");
    expect(dot.rcode).toBe("NOERROR");
    expect(dot.answers.map((a) => a.data)).toEqual(["192.0.2.1"]);
    const doh = await ask(b, "b.doh.test");
    expect(doh.rcode).toBe("NOERROR");
    expect(doh.answers.map((a) => a.data)).toEqual(["192.0.2.1"]);
    // Several misses at once: still one TLS connection, reused.
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(b, `m${i}.example.test`)));
    expect(many.every((m) => m.rcode === "NOERROR")).toBe(true);
    const m = await metrics(b);
    expect(metric(m, "bunbound_upstream_connections_opened_total")).toBe(2); // one DoT connection, one DoH session
    expect(metric(m, "bunbound_upstream_connection_reuses_total")).toBeGreaterThanOrEqual(15);
    expect(unbound.connections(unbound.tlsPort)).toBe(1);
    const st = (await (await fetch(`http://127.0.0.1:${b.httpPort}/api/metrics/upstreams`)).json()) as any;
    const servers = Object.fromEntries(st.servers.map((s: any) => [s.upstream, s]));
    const dotLabel = `tls://127.0.0.1:${unbound.tlsPort}#dns.test`;
    const dohLabel = `https://dns.test:${unbound.httpsPort}/dns-query#127.0.0.1:${unbound.httpsPort}`;
    expect(Object.keys(servers).sort()).toEqual([dohLabel, dotLabel]);
    expect(servers[dotLabel]).toMatchObject({ queries: 21, failures: 0, breaker: "closed", connections: 1 });
    expect(servers[dohLabel]).toMatchObject({ queries: 1, failures: 0, breaker: "closed", connections: 1 });
  });

  test("an upstream whose certificate the system store alone does not trust: SERVFAIL, a tls failure, one clear log line, nothing in cleartext", async () => {
    const b = await bunbound(`upstreams = []\n[timeouts]\nquery_ms = 1500\n[[forward]]\nzone = "test"\nupstreams = ["tls://127.0.0.1:${unbound.tlsPort}#dns.test"]\n`);
    const r = await ask(b, "c.example.test");
    expect(r.rcode).toBe("SERVFAIL");
    const line = await b.waitLog("upstream connection failed");
    expect(line).toMatchObject({ failure: "tls" });
    const m = await until(() => metrics(b), (t) => metric(t, 'bunbound_upstream_attempt_failures_total{kind="tls"}') >= 1);
    expect(metric(m, 'bunbound_upstream_attempt_failures_total{kind="tls"}')).toBeGreaterThanOrEqual(1);
  });

  test("a tls_ca file that holds no certificate is a configuration error naming the field: exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-upenc-bad-"));
    writeFileSync(join(dir, "ca.pem"), "not a certificate\n");
    writeFileSync(join(dir, "b.toml"), `upstreams = ["tls://127.0.0.1:853"]\ndata_dir = "${dir}/data"\n[upstream]\ntls_ca = "${dir}/ca.pem"\n`);
    const p = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), "--config", join(dir, "b.toml"), "--listen", "127.0.0.1:0", "--http", "off"], { stderr: "pipe", stdout: "ignore" });
    const err = await new Response(p.stderr).text();
    expect(await p.exited).toBe(2);
    expect(err).toContain("upstream.tls_ca");
    expect(err).toContain("no PEM certificate");
  });
});
