// RFC 5011 trust anchor updates, with keys made and signatures written by bunbound's own signer: a root whose
// configured anchor is KSK 1 publishes KSK 2, later signs with KSK 2 alone, and revokes KSK 1; the validator's
// verdicts and the state file follow each step, across a restart.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyTag, loadOrCreateKey, signRRset, type ZoneKey } from "../../src/zones/dnssec";
import { Validator } from "../../src/validator/validate";
import { dsOfKey } from "../../src/validator/anchors";
import { ADD_HOLD_DOWN_S, AnchorStates } from "../../src/validator/rfc5011";

const ROOT = new Uint8Array([0]);
const DAY = 86400;
const T0 = 1_800_000_000;

/** The key with the REVOKE bit set (RFC 5011 2.1): another key tag. */
function revoked(k: ZoneKey): ZoneKey {
  const rdata = k.dnskeyRdata.slice();
  rdata[1]! |= 0x80;
  return { ...k, flags: k.flags | 0x80, dnskeyRdata: rdata, keyTag: keyTag(rdata) };
}

/** A root DNSKEY answer publishing `keys`, the RRset signed by each of `signers`, valid around `now`. */
async function dnskeyAnswer(keys: ZoneKey[], signers: ZoneKey[], now: number): Promise<Uint8Array> {
  const rdatas = keys.map((k) => k.dnskeyRdata).sort((a, b) => Buffer.compare(a, b));
  const sigs = await Promise.all(signers.map((k) => signRRset(ROOT, 48, 3600, rdatas, k, ROOT, { inception: now - DAY, expiration: now + 7 * DAY })));
  const rr = (type: number, rdata: Uint8Array) => Buffer.concat([Buffer.from([0, type >> 8, type & 255, 0, 1, 0, 0, 0x0e, 0x10, rdata.length >> 8, rdata.length & 255]), rdata]);
  const header = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, rdatas.length + sigs.length, 0, 0, 0, 0, 0, 0, 48, 0, 1]);
  return new Uint8Array(Buffer.concat([header, ...rdatas.map((r) => rr(48, r)), ...sigs.map((s) => rr(46, s))]));
}

const states = (t: AnchorStates) => Object.fromEntries(t.keys(".").map((k) => [k.keyTag, k.state]));

describe("RFC 5011: the root's keys over a rollover", () => {
  test("a new KSK is trusted after 30 days, survives a restart, and a revoked one is never trusted again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-5011-"));
    const keys = join(dir, "keys");
    const [k1, k2] = [await loadOrCreateKey(keys, "k1", 13), await loadOrCreateKey(keys, "k2", 13)];
    const anchors = [{ zone: ROOT, ds: [dsOfKey(ROOT, k1.dnskeyRdata)!] }];
    let now = T0;
    let published = await dnskeyAnswer([k1, k2], [k1], now);
    const fetch = async () => published;
    const state = join(dir, "dnssec");
    const validator = (tracker: AnchorStates) => new Validator(() => anchors, () => [], { tracker, now: () => now });

    let tracker = new AnchorStates(state);
    expect((await validator(tracker).keysFor(ROOT, fetch)).verdict.state).toBe("secure");
    expect(states(tracker)).toEqual({ [k1.keyTag]: "valid", [k2.keyTag]: "addpend" });

    // Signed by KSK 2 alone before the hold-down is over: not trusted.
    now = T0 + 10 * DAY;
    published = await dnskeyAnswer([k1, k2], [k1], now);
    expect((await validator(tracker).keysFor(ROOT, fetch)).verdict.state).toBe("secure");
    published = await dnskeyAnswer([k2], [k2], now);
    expect((await validator(tracker).keysFor(ROOT, fetch)).verdict).toMatchObject({ state: "bogus", ede: 9 });
    expect(states(tracker)[k2.keyTag]).toBe("addpend");

    // Published (with KSK 1) past the hold-down: valid, and written down.
    now = T0 + ADD_HOLD_DOWN_S + DAY;
    published = await dnskeyAnswer([k1, k2], [k1], now);
    expect((await validator(tracker).keysFor(ROOT, fetch)).verdict.state).toBe("secure");
    expect(states(tracker)[k2.keyTag]).toBe("valid");
    const file = JSON.parse(readFileSync(join(state, "trust-anchors.json"), "utf8"));
    expect(Object.fromEntries(file.zones["."].map((k: { keyTag: number; state: string }) => [k.keyTag, k.state]))).toEqual({ [k1.keyTag]: "valid", [k2.keyTag]: "valid" });

    // After a restart (the states read back), the root signing with KSK 2 alone is secure; KSK 1 goes missing.
    tracker = new AnchorStates(state);
    published = await dnskeyAnswer([k2], [k2], now);
    expect((await validator(tracker).keysFor(ROOT, fetch)).verdict.state).toBe("secure");
    expect(states(tracker)[k1.keyTag]).toBe("missing");

    // KSK 1 revoked, signed by itself: from then on its DS (the configured anchor) trusts nothing.
    const r1 = revoked(k1);
    published = await dnskeyAnswer([r1, k2], [r1, k2], now);
    expect((await validator(tracker).keysFor(ROOT, fetch)).verdict.state).toBe("secure");
    expect(states(tracker)[k1.keyTag]).toBe("revoked");
    published = await dnskeyAnswer([k1], [k1], now);
    expect((await validator(tracker).keysFor(ROOT, fetch)).verdict).toMatchObject({ state: "bogus", ede: 9 });
  });

  test("a REVOKE bit without the key's own signature changes nothing; a new key gone before its hold-down is forgotten", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-5011-"));
    const [k1, k2] = [await loadOrCreateKey(dir, "k1", 13), await loadOrCreateKey(dir, "k2", 13)];
    const anchors = [{ zone: ROOT, ds: [dsOfKey(ROOT, k1.dnskeyRdata)!] }];
    const now = T0;
    const tracker = new AnchorStates(null);
    const v = () => new Validator(() => anchors, () => [], { tracker, now: () => now });
    const k2r = revoked(k2);
    // k2 shown revoked but signed only by k1: not a revocation (RFC 5011 2.1 needs the key's own signature)
    let published = await dnskeyAnswer([k1, k2r], [k1], now);
    expect((await v().keysFor(ROOT, async () => published)).verdict.state).toBe("secure");
    expect(tracker.keys(".").map((k) => k.state)).toEqual(["valid"]);
    published = await dnskeyAnswer([k1, k2], [k1], now);
    await v().keysFor(ROOT, async () => published);
    expect(states(tracker)).toEqual({ [k1.keyTag]: "valid", [k2.keyTag]: "addpend" });
    published = await dnskeyAnswer([k1], [k1], now);
    await v().keysFor(ROOT, async () => published);
    expect(tracker.keys(".").map((k) => k.state)).toEqual(["valid"]);
  });
});
