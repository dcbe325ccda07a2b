// bunbound validating what it resolves (mode = "recursive", dnssec.validate "auto") on a signed loopback
// hierarchy served by NSD (helpers/signed-world.ts: every validator case, secure, insecure and bogus, signed by
// ldns-signzone with a test root whose DS is the trust anchor), next to a validating Unbound 1.17 on the same
// world. Each case's verdict (AD=1 secure; SERVFAIL bogus, with its RFC 8914 code; else insecure) must be the
// one the case names, and Unbound's where the case does not say the two differ.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CASES, SignedWorld, dig, expectCase, startValidatingUnbound, type Resolver } from "../helpers/signed-world";
import { startBunbound, type Running } from "../helpers/proc";
import { metricValue } from "../helpers/prometheus";

setDefaultTimeout(30_000);

// Started at load, so that the cases can be skipped (not passed) when the world cannot run here.
const world: SignedWorld | null = await SignedWorld.start().catch((e: Error) => {
  console.warn(`skipping the validating conformance suite: ${e.message}`);
  return null;
});
const skip = world === null;
let unbound: Resolver | null = null;
let b: Running | null = null;
let dataDir = "";

beforeAll(async () => {
  if (!world) return;
  unbound = await startValidatingUnbound(world);
  const dir = mkdtempSync(join(tmpdir(), "bunbound-validating-"));
  dataDir = join(dir, "data");
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(
    cfg,
    `mode = "recursive"\nroot_hints = "${world.hints}"\ndata_dir = "${dir}/data"\n[dnssec]\ntrust_anchors = ["${world.anchorFile}"]\n` +
      `[recursion]\nport = 53\n[clients]\nenabled = false\n[discovery]\nenabled = false\n`,
  );
  b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
});
afterAll(async () => {
  await b?.stop("SIGKILL");
  await unbound?.stop();
  await world?.close();
});

describe("DNSSEC verdicts of what bunbound resolves, next to a validating Unbound", () => {
  for (const c of CASES) {
    test.skipIf(skip)(`${c.name} ${c.type}: ${c.verdict} — ${c.why}`, async () => {
      expectCase(c, await dig(b!.udpPort, c.name, c.type), await dig(unbound!.port, c.name, c.type));
    });
  }

  test.skipIf(skip)("a bogus answer asked again is SERVFAIL from the cache for servfail_ttl, with the same EDE and reason", async () => {
    const first = await dig(b!.udpPort, "www.nosig.com.", "A");
    const again = await dig(b!.udpPort, "www.nosig.com.", "A");
    const reason = (a: { out: string }) => /; EDE: \d+ \([^)]*\): \((.*)\)/.exec(a.out)?.[1];
    expect(first.status).toBe(again.status);
    expect(again.ede).toEqual(first.ede);
    expect(reason(again)).toBe(reason(first));
    const misses = await (await fetch(`http://127.0.0.1:${b!.httpPort}/metrics`)).text();
    expect(misses).toMatch(/bunbound_cache_hits_total [1-9]/);
  });

  test.skipIf(skip)("the query log shows each answer's verdict: AD for secure ones, the EDE of bogus ones", async () => {
    await dig(b!.udpPort, "www.secure.com.", "A");
    await dig(b!.udpPort, "www.expired.com.", "A");
    const log = (await (await fetch(`http://127.0.0.1:${b!.httpPort}/api/querylog?limit=50`)).json()) as { queries: Array<{ qname: string; ad: boolean; ede: number | null }> };
    expect(log.queries.find((q) => q.qname === "www.secure.com.")).toMatchObject({ ad: true, ede: null });
    expect(log.queries.find((q) => q.qname === "www.expired.com.")).toMatchObject({ ad: false, ede: 7 });
  });

  test.skipIf(skip)("aggressive NSEC (RFC 8198): a name the NSECs of an earlier NXDOMAIN cover is NXDOMAIN without asking, and delv accepts it", async () => {
    const first = await dig(b!.udpPort, "nope.secure.com.", "A");
    expect([first.status, first.flags.includes("ad")]).toEqual(["NXDOMAIN", true]);
    const asked = async () => metricValue(await (await fetch(`http://127.0.0.1:${b!.httpPort}/metrics`)).text(), "bunbound_recursion_queries_total");
    const before = await asked();
    // mail < noway < ns1 (the NSEC covering nope), and *.secure.com is denied by the apex's NSEC
    const other = await dig(b!.udpPort, "noway.secure.com.", "A");
    expect([other.status, other.flags.includes("ad")]).toEqual(["NXDOMAIN", true]);
    expect(other.out).toMatch(/^mail\.secure\.com\.\s+\d+\s+IN\s+NSEC\s+ns1\.secure\.com\./m);
    expect(await asked()).toBe(before);
    const ref = await dig(unbound!.port, "noway.secure.com.", "A");
    expect(ref.status).toBe("NXDOMAIN");
    // delv checks the answer's proof itself (no CD: the answer made from the kept NSECs)
    const p = Bun.spawn(["delv", "@127.0.0.1", "-p", String(b!.udpPort), "-a", world!.delvAnchorFile, "+root=.", "noway.secure.com.", "A"], { stdout: "pipe", stderr: "pipe" });
    const out = (await new Response(p.stdout).text()) + (await new Response(p.stderr).text());
    expect(out).toContain("negative response, fully validated");
    // a name inside the zone that does exist is not answered from the NSECs
    expect((await dig(b!.udpPort, "mail.secure.com.", "A")).status).toBe("NOERROR");
  });

  test.skipIf(skip)("RFC 5011: the root's KSK, trusted through the anchor, is tracked as valid in data_dir", async () => {
    await dig(b!.udpPort, "www.secure.com.", "A");
    const file = JSON.parse(readFileSync(join(dataDir, "dnssec", "trust-anchors.json"), "utf8")) as { zones: Record<string, Array<{ keyTag: number; state: string }>> };
    const tag = Number(/\sDS\s+(\d+)\s/.exec(world!.anchorDs)![1]);
    expect(file.zones["."]!.map((k) => [k.keyTag, k.state])).toEqual([[tag, "valid"]]);
  });

  test.skipIf(skip)("what a CD=1 client got unchecked is never served to a CD=0 one: first asked with CD=1, then without", async () => {
    const unchecked = await dig(b!.udpPort, "expired.com.", "SOA", ["+cdflag"]);
    expect([unchecked.status, unchecked.answer.some((l) => /\sSOA\s/.test(l))]).toEqual(["NOERROR", true]);
    const checked = await dig(b!.udpPort, "expired.com.", "SOA");
    expect([checked.status, checked.ede]).toEqual(["SERVFAIL", [7]]);
  });

  test.skipIf(skip)("CD=1: a bogus answer is handed over unchecked (RFC 4035 3.2.2)", async () => {
    const a = await dig(b!.udpPort, "www.badsig.com.", "A", ["+cdflag"]);
    expect(a.status).toBe("NOERROR");
    expect(a.flags).not.toContain("ad");
    expect(a.answer.some((l) => /\sA\s/.test(l))).toBe(true);
  });

  test.skipIf(skip)("a client without DO gets AD when it sets AD, and no RRSIGs (RFC 6840 5.7, RFC 4035 3.2.1)", async () => {
    const a = await dig(b!.udpPort, "www.secure.com.", "A", ["+nodnssec", "+adflag"]);
    expect(a.status).toBe("NOERROR");
    expect(a.flags).toContain("ad");
    expect(a.answer.some((l) => /\sRRSIG\s/.test(l))).toBe(false);
    const noAd = await dig(b!.udpPort, "www.rsa.com.", "A", ["+nodnssec", "+noadflag"]);
    expect(noAd.flags).not.toContain("ad");
  });
});
