// The signed loopback world checked by the reference validators: each NSD serves its zone as planned, and a
// validating Unbound 1.17 (root hints + the test root's DS) reaches each case's verdict: AD=1 for secure, NOERROR
// or NXDOMAIN without AD for insecure, SERVFAIL with the case's EDE for bogus. delv, validating by itself through
// that Unbound with CD=1, agrees on a few. These are the reference verdicts bunbound's validator is held to.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { missingTools } from "../conformance/servers";
import { udpAsk } from "./dns";
import { buildQuery } from "../conformance/query";
import { type Case, type DigAnswer, delv, dig, Port53Unavailable, type Resolver, SIGNED_WORLD_TOOLS, SignedWorld, startValidatingUnbound, verdictOf } from "./signed-world";

setDefaultTimeout(30_000);

const missing = missingTools(["unbound", "dig", ...SIGNED_WORLD_TOOLS], "the signed world's tests");

/** The world, or null (with a warning) when port 53 cannot be bound here; any other failure fails the file. */
async function startWorld(): Promise<SignedWorld | null> {
  if (missing.length) return null;
  try {
    return await SignedWorld.start();
  } catch (e) {
    if (!(e instanceof Port53Unavailable)) throw e;
    console.warn(`skipping the signed world's tests: ${e.message}`);
    return null;
  }
}
const world = await startWorld();
afterAll(() => world?.close());

/** The answer section's RRset types, without RRSIGs. */
const types = (a: DigAnswer) => a.answer.map((l) => l.split(" ")[3]!).filter((t) => t !== "RRSIG");

describe.skipIf(!world)("the signed world's servers, asked directly", () => {
  const flagsOf = (r: Uint8Array | null) => (r ? { aa: (r[2]! & 0x04) !== 0, rcode: r[3]! & 0x0f, answers: (r[6]! << 8) | r[7]! } : null);

  test("every zone's server answers its DNSKEY question authoritatively, with keys where the zone is signed", async () => {
    const wrong: string[] = [];
    for (const z of world!.zones) {
      const r = flagsOf(await udpAsk(53, buildQuery(z.origin, "DNSKEY", { edns: 1232, dnssecOk: true }), 2000, z.address));
      const keys = !!z.signing && z.signing.tamper !== "drop-dnskey";
      if (!r || !r.aa || r.rcode !== 0 || (r.answers > 0) !== keys) wrong.push(`${z.origin}: ${JSON.stringify(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  test("server() finds a zone's server by origin, by NS name and by a name inside the zone", () => {
    expect(world!.server(".").address).toBe("127.55.0.1");
    expect(world!.server("secure.com").name).toBe("ns1.secure.com.");
    expect(world!.server("ns1.nsec3.com.").zone.origin).toBe("nsec3.com.");
    expect(world!.server("www.insecure.optout.com").zone.origin).toBe("insecure.optout.com.");
    expect(world!.server("nowhere.org").zone.origin).toBe("org.");
  });

  test("the trust anchor is the root KSK's SHA-256 DS, in master-file and BIND forms", async () => {
    expect(world!.anchorDs).toMatch(/^\.\s+\d+\s+IN\s+DS\s+\d+ 13 2 [0-9A-F]{64}$/i);
    expect(world!.anchorDnskey).toMatch(/^\.\s+(\d+\s+)?IN\s+DNSKEY\s+257 3 13 /);
    expect(await Bun.file(world!.delvAnchorFile).text()).toMatch(/trust-anchors \{\n {2}"\." static-ds \d+ 13 2 "[0-9A-F]{64}";\n\};/i);
  });
});

describe.skipIf(!world)("a validating Unbound 1.17 from the signed world's root", () => {
  let unbound: Resolver;
  const answers = new Map<Case, DigAnswer>();

  beforeAll(async () => {
    unbound = await startValidatingUnbound(world!);
    // One after the other: each case's chain is fetched on its own, none waits behind another's.
    for (const c of world!.cases) answers.set(c, await dig(unbound.port, c.name, c.type));
    const table = world!.cases.map((c) => {
      const a = answers.get(c)!;
      return `${`${c.name} ${c.type}`.padEnd(32)} ${verdictOf(a).padEnd(8)} ${a.status.padEnd(8)} ede=${a.ede.join(",") || "-"}`;
    });
    console.log(`Unbound's verdicts on the signed world:\n${table.join("\n")}`);
  });

  afterAll(async () => {
    await unbound?.stop();
  });

  for (const c of world?.cases ?? []) {
    const expected = c.unbound ?? c.verdict;
    test(`${c.name} ${c.type} is ${expected}${c.unbound ? ` (intended: ${c.verdict})` : ""}: ${c.why}`, () => {
      const a = answers.get(c)!;
      expect({ verdict: verdictOf(a), status: a.status }).toEqual({ verdict: expected, status: expected === "bogus" ? "SERVFAIL" : c.rcode });
      if (expected !== "bogus" && c.rcode === "NOERROR") expect(types(a).includes(c.type)).toBe(!c.nodata);
    });
    if (expected === "bogus") {
      test(`${c.name} ${c.type}: Unbound's SERVFAIL carries EDE ${c.ede}`, () => {
        expect(answers.get(c)!.ede).toEqual([c.ede!]);
      });
    }
  }

  for (const c of world?.cases ?? []) {
    const expected = c.delv ?? c.verdict;
    test(`delv, validating by itself through Unbound with CD=1, finds ${c.name} ${c.type} ${expected}`, async () => {
      const r = await delv(unbound.port, world!.delvAnchorFile, c.name, c.type);
      expect({ verdict: r.verdict, out: r.verdict === expected ? "" : r.out }).toEqual({ verdict: expected, out: "" });
    });
  }
});
