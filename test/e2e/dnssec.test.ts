// Online signing: the AXFR of a signed zone must pass ldns-verify-zone (Debian ldnsutils), and an RRSIG from
// a live answer must verify with WebCrypto against the served DNSKEY.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipName, toWire } from "../../src/wire/name";
import { decode, makeQuery, tcpAsk, udpAsk } from "../helpers/dns";
import { startBunbound, type Running } from "../helpers/proc";

setDefaultTimeout(60_000);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const ZONE = `$ORIGIN signed.lan.\n$TTL 300\n@ SOA ns hostmaster 7 3600 600 86400 60\n@ NS ns\n@ MX 10 www\nns A 10.0.0.1\nwww A 10.0.0.2\nwww A 10.0.0.3\nwww AAAA fd00::2\n*.wild TXT "w"\nsub NS ns.sub\nns.sub A 10.0.0.9\nsec NS ns.sec\nsec DS 12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A2921182BB183AF5F22588179A53B0A\nns.sec A 10.0.0.10\n`;

async function signedServer(algorithm: 13 | 15, dir = mkdtempSync(join(tmpdir(), "bunbound-dnssec-"))): Promise<Running & { dir: string }> {
  writeFileSync(join(dir, "signed.lan.zone"), ZONE);
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(cfg, `upstreams = []\ndata_dir = "${dir}/data"\n[[zone]]\nname = "signed.lan"\nfile = "${dir}/signed.lan.zone"\ndnssec = true\nalgorithm = ${algorithm}\n`);
  const b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "off"]);
  cleanup.push(() => b.stop("SIGKILL"));
  return Object.assign(b, { dir });
}

const tools = ["dig", "ldns-verify-zone"].filter((t) => !Bun.which(t));
if (tools.length) console.warn(`skipping ldns-verify-zone checks: ${tools.join(", ")} not installed (apt-get install -y bind9-dnsutils ldnsutils)`);

/** Answer-section RRs of a raw response: owner end offset, type and rdata. */
function answerRecords(msg: Uint8Array) {
  let off = skipName(msg, 12, msg.length) + 4;
  const an = (msg[6]! << 8) | msg[7]!;
  const out: Array<{ type: number; ttl: number; rdata: Uint8Array }> = [];
  for (let i = 0; i < an; i++) {
    off = skipName(msg, off, msg.length);
    const v = new DataView(msg.buffer, msg.byteOffset + off);
    const rdlen = v.getUint16(8);
    out.push({ type: v.getUint16(0), ttl: v.getUint32(4), rdata: msg.slice(off + 10, off + 10 + rdlen) });
    off += 10 + rdlen;
  }
  return out;
}

describe.each([13, 15] as const)("DNSSEC with algorithm %i", (algorithm) => {
  test.skipIf(tools.length > 0)("the signed zone obtained by AXFR passes ldns-verify-zone", async () => {
    const b = await signedServer(algorithm);
    const dig = Bun.spawnSync(["dig", "+onesoa", "+nocmd", "+nostats", "@127.0.0.1", "-p", String(b.udpPort), "signed.lan", "AXFR"]);
    const text = dig.stdout.toString();
    expect(text).toContain("RRSIG");
    expect(text).toContain("NSEC");
    const file = join(b.dir, "axfr.zone");
    writeFileSync(file, text);
    const verify = Bun.spawnSync(["ldns-verify-zone", file]);
    const out = verify.stdout.toString() + verify.stderr.toString();
    expect(out).toContain("Zone is verified and complete");
    expect(verify.exitCode).toBe(0);
  });

  test("an RRSIG from a live DO answer verifies with WebCrypto against the served DNSKEY", async () => {
    const b = await signedServer(algorithm);
    const keyMsg = (await tcpAsk(b.udpPort, makeQuery("signed.lan", "DNSKEY", { edns: 1232, dnssec: true })))!;
    const dnskey = answerRecords(keyMsg).find((r) => r.type === 48)!;
    expect(dnskey.rdata[3]).toBe(algorithm);
    const raw = dnskey.rdata.slice(4);
    const key =
      algorithm === 13
        ? await crypto.subtle.importKey("raw", new Uint8Array([4, ...raw]), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])
        : await crypto.subtle.importKey("raw", new Uint8Array(raw), { name: "Ed25519" }, false, ["verify"]);
    const msg = (await udpAsk(b.udpPort, makeQuery("WWW.signed.lan", "A", { edns: 1232, dnssec: true })))!;
    const rrs = answerRecords(msg);
    const sig = rrs.find((r) => r.type === 46)!;
    const as = rrs.filter((r) => r.type === 1).map((r) => r.rdata).sort(Buffer.compare);
    expect(as.length).toBe(2);
    const signerEnd = skipName(sig.rdata, 18, sig.rdata.length);
    const origTtl = new DataView(sig.rdata.buffer).getUint32(4);
    const owner = toWire("www.signed.lan");
    const parts: Uint8Array[] = [sig.rdata.subarray(0, signerEnd)];
    for (const rd of as) {
      const fixed = new Uint8Array(10);
      const v = new DataView(fixed.buffer);
      v.setUint16(0, 1);
      v.setUint16(2, 1);
      v.setUint32(4, origTtl);
      v.setUint16(8, rd.length);
      parts.push(owner, fixed, rd);
    }
    const signed = Buffer.concat(parts);
    const params = algorithm === 13 ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
    expect(await crypto.subtle.verify(params, key, sig.rdata.slice(signerEnd), signed)).toBe(true);
    // And a flipped byte does not verify.
    signed[signed.length - 1]! ^= 1;
    expect(await crypto.subtle.verify(params, key, sig.rdata.slice(signerEnd), signed)).toBe(false);
  });

  test("the key is made once and kept in the data dir: a restart serves the same DNSKEY", async () => {
    const first = await signedServer(algorithm);
    const tag = async (b: Running) => {
      const m = (await tcpAsk(b.udpPort, makeQuery("signed.lan", "DNSKEY", { edns: 1232 })))!;
      return Buffer.from(answerRecords(m).find((r) => r.type === 48)!.rdata).toString("hex");
    };
    const before = await tag(first);
    expect(await first.stop()).toBe(0);
    const second = await signedServer(algorithm, first.dir);
    expect(await tag(second)).toBe(before);
  });

  test("DO queries get NSEC proofs for NXDOMAIN and NODATA; queries without DO get none", async () => {
    const b = await signedServer(algorithm);
    const nx = decode((await tcpAsk(b.udpPort, makeQuery("nope.signed.lan", "A", { edns: 1232, dnssec: true })))!);
    expect(nx.rcode).toBe("NXDOMAIN");
    expect(nx.authorities.filter((a) => a.type === "NSEC").length).toBeGreaterThanOrEqual(1);
    expect(nx.authorities.filter((a) => a.type === "RRSIG").length).toBeGreaterThanOrEqual(2);
    const nodata = decode((await tcpAsk(b.udpPort, makeQuery("www.signed.lan", "MX", { edns: 1232, dnssec: true })))!);
    expect(nodata.authorities.map((a) => a.type)).toContain("NSEC");
    const plain = decode((await udpAsk(b.udpPort, makeQuery("nope.signed.lan", "A")))!);
    expect(plain.authorities.map((a) => a.type)).toEqual(["SOA"]);
    const referral = decode((await tcpAsk(b.udpPort, makeQuery("x.sec.signed.lan", "A", { edns: 1232, dnssec: true })))!);
    expect(referral.authorities.map((a) => a.type)).toEqual(["NS", "DS", "RRSIG"]);
  });
});
