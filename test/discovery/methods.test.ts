import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discover, type MethodConfig } from "../../src/discovery/methods";
import { MdnsResponder, NetbiosResponder } from "../helpers/lan";
import { StandIn } from "../helpers/upstream";

const cleanup: Array<() => unknown> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});
const dir = mkdtempSync(join(tmpdir(), "bunbound-leases-"));

function config(over: Partial<MethodConfig> = {}): MethodConfig {
  return {
    methods: ["ptr"],
    timeoutMs: { ptr: 300, netbios: 300, mdns: 300, dhcp: 0 },
    dns: { host: "127.0.0.1", port: 9 },
    netbiosPort: 9,
    mdnsPort: 9,
    leases: [],
    ...over,
  };
}

describe("discovery methods", () => {
  test("PTR asks bunbound's own DNS listener", async () => {
    const dns = await StandIn.start({
      answers: (n, t) => (t === "PTR" && n === "7.0.0.127.in-addr.arpa" ? [{ name: n, type: "PTR", class: "IN", ttl: 60, data: "laptop.lan" }] : []),
    });
    cleanup.push(() => dns.close());
    const r = await discover("127.0.0.7", config({ dns: { host: "127.0.0.1", port: dns.port } }));
    expect(r).toMatchObject({ name: "laptop.lan", source: "ptr", tried: ["ptr"] });
  });

  test("NetBIOS node status gives the workstation name (not the group)", async () => {
    const nb = await NetbiosResponder.start("DESKTOP-42");
    cleanup.push(() => nb.close());
    const r = await discover("127.0.0.1", config({ methods: ["netbios"], netbiosPort: nb.port }));
    expect(r).toMatchObject({ name: "desktop-42", source: "netbios" });
  });

  test("mDNS reverse lookup by legacy unicast", async () => {
    const md = await MdnsResponder.start("macbook");
    cleanup.push(() => md.close());
    const r = await discover("127.0.0.1", config({ methods: ["mdns"], mdnsPort: md.port }));
    expect(r).toMatchObject({ name: "macbook.local", source: "mdns" });
  });

  test("DHCP leases from dnsmasq, ISC dhcpd and Kea files", async () => {
    const dnsmasq = join(dir, "dnsmasq.leases");
    writeFileSync(dnsmasq, "1700000000 aa:bb:cc:dd:ee:01 192.168.1.50 phone *\n1700000000 aa:bb:cc:dd:ee:02 192.168.1.51 * *\n");
    const isc = join(dir, "dhcpd.leases");
    writeFileSync(isc, 'lease 192.168.1.60 {\n  starts 4 2026/11/20 10:00:00;\n  hardware ethernet aa:bb:cc:dd:ee:03;\n  client-hostname "printer";\n}\n');
    const kea = join(dir, "kea-leases4.csv");
    writeFileSync(kea, "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state\n192.168.1.70,aa:bb:cc:dd:ee:04,,3600,1800000000,1,0,0,tv.lan.,0\n");
    const cfg = config({ methods: ["dhcp"], leases: [{ format: "dnsmasq", file: dnsmasq }, { format: "isc", file: isc }, { format: "kea", file: kea }] });
    expect((await discover("192.168.1.50", cfg)).name).toBe("phone");
    expect((await discover("192.168.1.51", cfg)).name).toBeNull();
    expect((await discover("192.168.1.60", cfg)).name).toBe("printer");
    expect((await discover("192.168.1.70", cfg)).name).toBe("tv.lan");
  });

  test("methods are tried in order; a silent one times out and the next names the client", async () => {
    const silent = await NetbiosResponder.start("X", "127.0.0.1", true);
    const md = await MdnsResponder.start("fallback");
    cleanup.push(() => silent.close(), () => md.close());
    const t0 = performance.now();
    const r = await discover("127.0.0.1", config({ methods: ["netbios", "mdns"], netbiosPort: silent.port, mdnsPort: md.port, timeoutMs: { ptr: 300, netbios: 200, mdns: 300, dhcp: 0 } }));
    expect(r).toMatchObject({ name: "fallback.local", source: "mdns", tried: ["netbios", "mdns"] });
    expect(silent.received).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  test("with no method answering, the result says so, within the sum of the timeouts", async () => {
    const t0 = performance.now();
    const r = await discover("127.0.0.1", config({ methods: ["ptr", "netbios", "mdns"], timeoutMs: { ptr: 100, netbios: 100, mdns: 100, dhcp: 0 } }));
    expect(r.name).toBeNull();
    expect(r.tried).toEqual(["ptr", "netbios", "mdns"]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
