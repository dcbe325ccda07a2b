// bunbound validating bunbound: one bunbound serves a zone it signs online, another resolves it through a
// [[stub]] zone with that zone's DNSKEY as its trust anchor. Positive, NXDOMAIN, NODATA, wildcard and DS-absence
// answers come out secure (AD); a negative trust anchor makes them insecure; a wrong anchor makes them bogus.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBunbound, type Running } from "../helpers/proc";
import { dig } from "../helpers/signed-world";

setDefaultTimeout(30_000);
const noDig = !Bun.which("dig");
if (noDig) console.warn("skipping the validation tests: dig not installed (apt-get install -y bind9-dnsutils)");

const ZONE = `$ORIGIN signed.lan.\n$TTL 300\n@ SOA ns hostmaster 7 3600 600 86400 60\n@ NS ns\n@ MX 10 www\nns A 10.0.0.1\nwww A 10.0.0.2\nwww AAAA fd00::2\n*.wild TXT "w"\nsub NS ns.sub\nns.sub A 10.0.0.9\n`;
const running: Running[] = [];

async function authoritative(name: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `bunbound-auth-${name}-`));
  writeFileSync(join(dir, "zone"), ZONE);
  writeFileSync(join(dir, "c.toml"), `upstreams = []\ndata_dir = "${dir}/data"\n[[zone]]\nname = "signed.lan"\nfile = "${dir}/zone"\ndnssec = true\nalgorithm = 13\n`);
  const b = await startBunbound(["--config", join(dir, "c.toml"), "--listen", "127.0.0.1:0", "--http", "off"]);
  running.push(b);
  return b;
}

/** The zone's DNSKEY lines as the authoritative server gives them: a trust-anchor file. */
async function anchorOf(auth: Running): Promise<string> {
  const p = Bun.spawn(["dig", "@127.0.0.1", "-p", String(auth.udpPort), "+noall", "+answer", "+time=3", "signed.lan", "DNSKEY"], { stdout: "pipe" });
  const text = await new Response(p.stdout).text();
  const file = join(mkdtempSync(join(tmpdir(), "bunbound-anchor-")), "anchor");
  writeFileSync(file, text);
  expect(text).toContain("DNSKEY");
  return file;
}

/** A validating bunbound reaching `auth` through a [[stub]] zone (recursive mode), or forwarding to it. */
async function resolver(auth: Running, dnssec: string, mode: "recursive" | "forward" = "recursive"): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-validating-"));
  const route = mode === "recursive" ? `mode = "recursive"\n` : `upstreams = ["127.0.0.1:${auth.udpPort}"]\n`;
  const stub = mode === "recursive" ? `[[stub]]\nzone = "signed.lan"\nservers = ["127.0.0.1:${auth.udpPort}"]\n` : "";
  writeFileSync(join(dir, "c.toml"), `${route}data_dir = "${dir}/data"\n[dnssec]\n${dnssec}\n${stub}[clients]\nenabled = false\n[discovery]\nenabled = false\n`);
  const b = await startBunbound(["--config", join(dir, "c.toml"), "--listen", "127.0.0.1:0", "--http", "off"]);
  running.push(b);
  return b;
}

let auth: Running;
let other: Running;
let anchor: string;
beforeAll(async () => {
  if (noDig) return;
  [auth, other] = await Promise.all([authoritative("a"), authoritative("b")]);
  anchor = await anchorOf(auth);
});
afterAll(async () => {
  for (const r of running) await r.stop("SIGKILL");
});

describe.skipIf(noDig)("bunbound validating the zones bunbound signs", () => {
  const cases: Array<[string, string, string]> = [
    ["www.signed.lan", "A", "NOERROR"],
    ["signed.lan", "MX", "NOERROR"],
    ["nope.signed.lan", "A", "NXDOMAIN"],
    ["www.signed.lan", "TXT", "NOERROR"],
    ["x.wild.signed.lan", "TXT", "NOERROR"],
    ["sub.signed.lan", "DS", "NOERROR"],
  ];

  test("secure with the zone's key as anchor: data, NXDOMAIN, NODATA, wildcard and no-DS answers all get AD", async () => {
    const v = await resolver(auth, `trust_anchors = ["${anchor}"]`);
    for (const [name, type, status] of cases) {
      const a = await dig(v.udpPort, name, type);
      expect([name, type, a.status, a.flags.includes("ad")]).toEqual([name, type, status, true]);
    }
  });

  test("forwarding to the signer with validate = true: the same answers get AD; another signer's key makes them SERVFAIL", async () => {
    const v = await resolver(auth, `validate = true\ntrust_anchors = ["${anchor}"]`, "forward");
    for (const [name, type, status] of cases) {
      const a = await dig(v.udpPort, name, type);
      expect([name, type, a.status, a.flags.includes("ad")]).toEqual([name, type, status, true]);
    }
    const wrong = await resolver(auth, `validate = true\ntrust_anchors = ["${await anchorOf(other)}"]`, "forward");
    const a = await dig(wrong.udpPort, "www.signed.lan", "A");
    expect([a.status, a.ede]).toEqual(["SERVFAIL", [9]]);
  });

  test("a negative trust anchor: the same answers, without AD", async () => {
    const v = await resolver(auth, `trust_anchors = ["${anchor}"]\nnegative_trust_anchors = ["signed.lan"]`);
    const a = await dig(v.udpPort, "www.signed.lan", "A");
    expect(a.status).toBe("NOERROR");
    expect(a.flags).not.toContain("ad");
    expect(a.answer.some((l) => l.includes("10.0.0.2"))).toBe(true);
  });

  test("the key of another signer as anchor: bogus, SERVFAIL with EDE 9 (DNSKEY Missing); with CD=1 the data", async () => {
    const wrong = await anchorOf(other);
    const v = await resolver(auth, `trust_anchors = ["${wrong}"]`);
    const a = await dig(v.udpPort, "www.signed.lan", "A");
    expect(a.status).toBe("SERVFAIL");
    expect(a.ede).toEqual([9]);
    const cd = await dig(v.udpPort, "www.signed.lan", "A", ["+cdflag"]);
    expect(cd.status).toBe("NOERROR");
    expect(cd.flags).not.toContain("ad");
  });

  test("validate = false: no AD, whatever the anchors", async () => {
    const v = await resolver(auth, `validate = false\ntrust_anchors = ["${anchor}"]`);
    const a = await dig(v.udpPort, "www.signed.lan", "A");
    expect(a.status).toBe("NOERROR");
    expect(a.flags).not.toContain("ad");
  });
});

describe("DNSSEC settings that cannot work are refused at start, naming the field", () => {
  async function refused(toml: string): Promise<{ code: number; stderr: string }> {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-badcfg-"));
    writeFileSync(join(dir, "c.toml"), `data_dir = "${dir}/data"\n${toml}`);
    const p = Bun.spawn(["bun", join(import.meta.dir, "../../src/cli.ts"), "--config", join(dir, "c.toml"), "--listen", "127.0.0.1:0", "--http", "off"], { stdout: "ignore", stderr: "pipe" });
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);
    return { code, stderr };
  }

  for (const mode of ['mode = "recursive"', 'upstreams = ["127.0.0.1:9"]']) {
    test(`a trust anchor file without DS or DNSKEY records (${mode}): exit 2, dnssec.trust_anchors named`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "bunbound-badanchor-"));
      writeFileSync(join(dir, "anchor"), "example. 60 IN A 192.0.2.1\n");
      const r = await refused(`${mode}\n[dnssec]\ntrust_anchors = ["${join(dir, "anchor")}"]\n`);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("dnssec.trust_anchors");
      expect(r.stderr).toContain("no DS or DNSKEY records");
    });
  }
});

