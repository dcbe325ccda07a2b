// bunbound validating forwarded answers (mode = "forward", dnssec.validate "auto" and true) on the signed
// loopback hierarchy (helpers/signed-world.ts). Its upstream is a non-validating Unbound resolving that world,
// which hands over signatures and proofs, bogus ones included; the reference is a validating Unbound from the
// same root. Each case's verdict must be the recursive suite's (and Unbound's where the case does not say the two
// differ). Then the same through a forwarder that strips RRSIGs: "auto" notices and passes answers on unvalidated
// (a warning and bunbound_dnssec_downgraded 1), true answers SERVFAIL.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CASES, SignedWorld, dig, expectCase, startValidatingUnbound, type Resolver } from "../helpers/signed-world";
import { startStripper, type Stripper } from "../helpers/signed-world/strip";
import { startUnbound } from "./servers";
import { startBunbound, type Running } from "../helpers/proc";
import { metricValue } from "../helpers/prometheus";

setDefaultTimeout(30_000);

const world: SignedWorld | null = await SignedWorld.start().catch((e: Error) => {
  console.warn(`skipping the validating forwarder suite: ${e.message}`);
  return null;
});
const skip = world === null;
let reference: Resolver | null = null;
let upstream: Resolver | null = null;
let stripper: Stripper | null = null;
const running: Running[] = [];

/** bunbound forwarding to `port` with the world's trust anchor and `validate`. */
async function forwarder(port: number, validate: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-validating-forward-"));
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(
    cfg,
    `upstreams = ["127.0.0.1:${port}"]\ndata_dir = "${dir}/data"\n[dnssec]\nvalidate = ${validate}\ntrust_anchors = ["${world!.anchorFile}"]\n` +
      `[clients]\nenabled = false\n[discovery]\nenabled = false\n`,
  );
  const b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
  running.push(b);
  return b;
}

let auto: Running | null = null;
beforeAll(async () => {
  if (!world) return;
  [reference, upstream] = await Promise.all([startValidatingUnbound(world), startUnbound({ mode: "recursive", rootHints: world.hints })]);
  auto = await forwarder(upstream.port, '"auto"');
});
afterAll(async () => {
  await Promise.all(running.map((b) => b.stop("SIGKILL")));
  stripper?.stop();
  await reference?.stop();
  await upstream?.stop();
  await world?.close();
});

const metrics = async (b: Running) => (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();

describe("DNSSEC verdicts of forwarded answers, next to a validating Unbound", () => {
  for (const c of CASES) {
    test.skipIf(skip)(`${c.name} ${c.type}: ${c.verdict} — ${c.why}`, async () => {
      expectCase(c, await dig(auto!.udpPort, c.name, c.type), await dig(reference!.port, c.name, c.type));
    });
  }

  test.skipIf(skip)("the upstreams were found to return DNSSEC data: not downgraded; verdicts counted", async () => {
    const m = await metrics(auto!);
    expect(metricValue(m, "bunbound_dnssec_downgraded")).toBe(0);
    expect(metricValue(m, "bunbound_dnssec_verdicts_total", { verdict: "secure" })).toBeGreaterThan(0);
    expect(metricValue(m, "bunbound_dnssec_verdicts_total", { verdict: "bogus" })).toBeGreaterThan(0);
    expect(metricValue(m, "bunbound_dnssec_verdicts_total", { verdict: "insecure" })).toBeGreaterThan(0);
    expect(auto!.logs.some((l) => l.msg === "upstreams return DNSSEC data: forwarded answers are validated")).toBe(true);
  });

  test.skipIf(skip)("what a CD=1 client got unchecked is never served to a CD=0 one: first asked with CD=1, then without", async () => {
    const unchecked = await dig(auto!.udpPort, "expired.com.", "SOA", ["+cdflag"]);
    expect([unchecked.status, unchecked.answer.some((l) => /\sSOA\s/.test(l))]).toEqual(["NOERROR", true]);
    const checked = await dig(auto!.udpPort, "expired.com.", "SOA");
    expect([checked.status, checked.ede]).toEqual(["SERVFAIL", [7]]);
  });

  test.skipIf(skip)("CD=1: a bogus answer is handed over unchecked; DO=0 with AD: AD and no RRSIGs", async () => {
    const cd = await dig(auto!.udpPort, "www.badsig.com.", "A", ["+cdflag"]);
    expect([cd.status, cd.flags.includes("ad"), cd.answer.some((l) => /\sA\s/.test(l))]).toEqual(["NOERROR", false, true]);
    const plain = await dig(auto!.udpPort, "www.secure.com.", "A", ["+nodnssec", "+adflag"]);
    expect([plain.status, plain.flags.includes("ad"), plain.answer.some((l) => /\sRRSIG\s/.test(l))]).toEqual(["NOERROR", true, false]);
  });
});

describe("an upstream that strips RRSIGs", () => {
  test.skipIf(skip)('"auto" finds out from the root DNSKEY, warns, says so in a metric, and passes answers on unvalidated', async () => {
    stripper = await startStripper(upstream!.port);
    const b = await forwarder(stripper.port, '"auto"');
    const secure = await dig(b.udpPort, "www.secure.com.", "A");
    expect([secure.status, secure.flags.includes("ad")]).toEqual(["NOERROR", false]);
    expect(secure.answer.some((l) => /\sA\s/.test(l))).toBe(true);
    const bogus = await dig(b.udpPort, "www.badsig.com.", "A");
    expect(bogus.status).toBe("NOERROR"); // not validated: what the upstream said
    expect(stripper.relayed).toContain(". DNSKEY");
    expect(metricValue(await metrics(b), "bunbound_dnssec_downgraded")).toBe(1);
    const warning = b.logs.find((l) => String(l.msg).startsWith("upstreams do not return DNSSEC data"));
    expect(warning?.upstreams).toEqual([`127.0.0.1:${stripper.port}`]);
  });

  test.skipIf(skip)("true never downgrades: answers from a zone the anchor covers are SERVFAIL, with an EDE", async () => {
    stripper ??= await startStripper(upstream!.port);
    const b = await forwarder(stripper.port, "true");
    const a = await dig(b.udpPort, "www.secure.com.", "A");
    expect(a.status).toBe("SERVFAIL");
    expect(a.ede.length).toBe(1);
    expect(metricValue(await metrics(b), "bunbound_dnssec_downgraded")).toBeNull();
  });
});
