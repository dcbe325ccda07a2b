// One NSD 4.6 per server address, on port 53 (validators ask authoritative servers there only), in the
// foreground. Its server and xfrd children exit when it does, however it is stopped. It returns once every
// zone's SOA answers with AA.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { udpAsk } from "../dns";
import { buildQuery } from "../../conformance/query";
import { nsdConfig, readOr, stopProc, track } from "../../conformance/servers";
import { which } from "./sign";

export interface Nsd {
  address: string;
  dir: string;
  /** NSD's log and standard error, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Port 53 of a world address cannot be bound here: callers skip rather than fail. */
export class Port53Unavailable extends Error {
  override name = "Port53Unavailable";
}

/** Rejects, naming the address, when port 53 cannot be bound there (no root or CAP_NET_BIND_SERVICE, or taken). */
export async function checkPort53(address: string): Promise<void> {
  try {
    const udp = await Bun.udpSocket({ hostname: address, port: 53 });
    udp.close();
    const tcp = Bun.listen({ hostname: address, port: 53, socket: { data() {} } });
    tcp.stop(true);
  } catch (e) {
    throw new Port53Unavailable(`cannot listen on ${address} port 53 (needs root or CAP_NET_BIND_SERVICE, and the port free): ${(e as Error).message}`);
  }
}

/** NSD serving the zone files on `address` port 53, its files in `dir`. */
export async function startNsd(dir: string, address: string, zones: Array<{ origin: string; file: string }>, timeoutMs = 10_000): Promise<Nsd> {
  await checkPort53(address);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, "nsd.conf");
  writeFileSync(
    conf,
    nsdConfig({
      dir,
      address,
      port: 53,
      verbosity: 1,
      // A validator asks the same names again and again from one address: rate limiting would drop its queries.
      server: ["reuseport: no", "rrl-ratelimit: 0", "rrl-whitelist-ratelimit: 0"],
      zones: zones.map((z) => ({ name: z.origin, file: z.file })),
    }),
  );
  const nsd = which("nsd");
  if (!nsd) throw new Error("nsd is not installed (apt-get install -y nsd)");
  const proc = track(Bun.spawn([nsd, "-d", "-c", conf], { stdin: "ignore", stdout: Bun.file(join(dir, "nsd.out")), stderr: Bun.file(join(dir, "nsd.err")) }));
  const log = () => `${readOr(join(dir, "nsd.log"))}${readOr(join(dir, "nsd.err"))}`;
  const server: Nsd = { address, dir, log, stop: () => stopProc(proc) };
  const until = Date.now() + timeoutMs;
  for (const z of zones) {
    for (;;) {
      const r = await udpAsk(53, buildQuery(z.origin, "SOA"), 300, address);
      // QR, AA and NOERROR: the zone is loaded.
      if (r && (r[2]! & 0x84) === 0x84 && (r[3]! & 0x0f) === 0) break;
      if (proc.exitCode !== null || Date.now() > until) {
        await server.stop();
        throw new Error(`nsd on ${address} ${proc.exitCode !== null ? `exited (${proc.exitCode})` : `did not serve ${z.origin} within ${timeoutMs} ms`}:\n${log()}`);
      }
      await Bun.sleep(30);
    }
  }
  return server;
}
