// A SIGNED internet on loopback for validator tests: the root, com., net., org. and leaf zones covering the
// validator's cases (NSEC, NSEC3, opt-out, insecure delegations, bad, expired and missing signatures, missing
// and mismatched keys, algorithms a runtime may lack), signed by ldns and served by real NSD instances, one per
// address on 127.55.0.0/16, port 53. The plan (signed-world/plan.ts) says what each zone is and which verdict a
// validator should reach; start() signs bottom-up (a parent needs its children's DS), starts every NSD, and
// writes the root hints and the test root's trust anchor in the forms Unbound and delv read.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeRootHints } from "./hierarchy";
import { checkPort53, type Nsd, startNsd } from "./signed-world/nsd";
import { CASES, type Case, ZONES, type ZonePlan } from "./signed-world/plan";
import { type Delegation, LDNS_TOOLS, type SignedZone, signZone, which, zoneText } from "./signed-world/sign";

export { Port53Unavailable } from "./signed-world/nsd";
export { type Case, CASES, EDE, type Signing, type Verdict, type ZonePlan, ZONES } from "./signed-world/plan";
export { dig, type DigAnswer, delv, expectCase, type Resolver, startValidatingUnbound, verdictOf } from "./signed-world/resolvers";

/** The tools start() needs; a caller that finds some missing skips. */
export const SIGNED_WORLD_TOOLS = ["nsd", ...LDNS_TOOLS];

export interface WorldServer {
  /** The NS name, e.g. "ns1.secure.com." or "a.root-servers.net.". */
  name: string;
  address: string;
  zone: ZonePlan;
  /** The master-file text NSD serves (signed and tampered as planned). */
  text: string;
  log(): string;
}

const labels = (origin: string) => (origin === "." ? 0 : origin.split(".").length - 1);

/** The nearest other zone above `origin`, the one holding its delegation. */
function parentOf(origin: string, zones: ZonePlan[]): ZonePlan | undefined {
  const above = zones.filter((z) => z.origin !== origin && (z.origin === "." || origin.endsWith(`.${z.origin}`)));
  return above.sort((a, b) => labels(b.origin) - labels(a.origin))[0];
}

/** "<tag> <alg> <digest type> <hex>" of a DS master-file line. */
function dsFields(line: string): string[] {
  const f = line.trim().split(/\s+/);
  return f.slice(f.indexOf("DS") + 1);
}

export class SignedWorld {
  private closing: Promise<void> | null = null;

  private constructor(
    /** The world's temporary directory: keys, zone files, each NSD's files. */
    readonly dir: string,
    private readonly byName: Map<string, WorldServer>,
    private readonly nsds: Nsd[],
    /** Root hints file (a.root-servers.net. at 127.55.0.1) for Unbound's root-hints or bunbound's root_hints. */
    readonly hints: string,
    /** The root KSK's DS as master-file lines ("." 3600 IN DS ...). */
    readonly anchorDs: string,
    /** The root KSK as a master-file DNSKEY line. */
    readonly anchorDnskey: string,
    /** anchorDs in a file: Unbound's trust-anchor-file. */
    readonly anchorFile: string,
    /** The same DS as BIND's trust-anchors { . static-ds ...; } clause, for delv -a. */
    readonly delvAnchorFile: string,
  ) {}

  /** Every zone of the plan with its intended verdict, the root first. */
  readonly zones: readonly ZonePlan[] = ZONES;
  /** The questions and the verdict (and EDE) a validator should give each. */
  readonly cases: readonly Case[] = CASES;

  /** Signs the zones and starts every NSD; rejects (having stopped what started) when port 53 cannot be bound. */
  static async start(): Promise<SignedWorld> {
    const missing = SIGNED_WORLD_TOOLS.filter((t) => !which(t));
    if (missing.length) throw new Error(`the signed world needs ${missing.join(", ")} (apt-get install -y nsd ldnsutils)`);
    for (const z of ZONES) await checkPort53(z.address);
    const dir = mkdtempSync(join(tmpdir(), "signed-world-"));
    const nsds: Nsd[] = [];
    try {
      const signed = new Map<string, SignedZone>();
      // Deepest first, each depth in parallel: a zone's text needs its children's DS.
      const depths = [...new Set(ZONES.map((z) => labels(z.origin)))].sort((a, b) => b - a);
      for (const depth of depths) {
        await Promise.all(
          ZONES.filter((z) => labels(z.origin) === depth).map(async (z) => {
            const delegations: Delegation[] = ZONES.filter((c) => parentOf(c.origin, ZONES) === z).map((c) => ({ child: c, ds: signed.get(c.origin)!.ds }));
            signed.set(z.origin, await signZone(join(dir, "keys", z.origin === "." ? "root" : z.origin), z, zoneText(z, delegations)));
          }),
        );
      }
      const byName = new Map<string, WorldServer>();
      const settled = await Promise.allSettled(
        ZONES.map(async (z) => {
          const name = z.origin === "." ? "root" : z.origin.slice(0, -1);
          const file = join(dir, `${name}.zone`);
          const text = signed.get(z.origin)!.text;
          writeFileSync(file, text);
          const nsd = await startNsd(join(dir, `nsd-${z.address}`), z.address, [{ origin: z.origin, file }]);
          nsds.push(nsd);
          byName.set(z.origin, { name: z.ns, address: z.address, zone: z, text, log: nsd.log });
        }),
      );
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) throw failed.reason;
      const root = signed.get(".")!;
      const hints = join(dir, "root.hints");
      writeRootHints(hints, [{ name: ZONES[0]!.ns, address: ZONES[0]!.address }]);
      const anchorDs = root.ds.join("\n");
      const anchorFile = join(dir, "root.anchor");
      writeFileSync(anchorFile, `${anchorDs}\n`);
      const delvAnchorFile = join(dir, "root.bind-keys");
      const statics = root.ds.map((l) => {
        const [tag, alg, type, ...hex] = dsFields(l);
        return `  "." static-ds ${tag} ${alg} ${type} "${hex.join("")}";`;
      });
      writeFileSync(delvAnchorFile, `trust-anchors {\n${statics.join("\n")}\n};\n`);
      return new SignedWorld(dir, byName, nsds, hints, anchorDs, root.dnskey!, anchorFile, delvAnchorFile);
    } catch (e) {
      await Promise.all(nsds.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The server of a zone ("secure.com", "secure.com.", "." for the root), by its NS name, or by a name in its zone. */
  server(nameOrZone: string): WorldServer {
    const n = nameOrZone === "." ? "." : `${nameOrZone.toLowerCase().replace(/\.$/, "")}.`;
    const exact = this.byName.get(n) ?? [...this.byName.values()].find((s) => s.name === n);
    if (exact) return exact;
    const zone = [...this.byName.keys()].filter((o) => o === "." || n.endsWith(`.${o}`)).sort((a, b) => labels(b) - labels(a))[0];
    return this.byName.get(zone!)!;
  }

  /** Stops every NSD and removes the directory; a second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.nsds.map((n) => n.stop()));
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }
}
