// Unbound (Debian's, 1.17+) serving DNS over TLS and DNS over HTTPS on free loopback ports, with a self-signed
// certificate for dns.test and 127.0.0.1, answering every name under test. (192.0.2.1) from local data, so it
// needs no network. Its server-side connections are counted with ss(8).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testCertificate, type TestCertificate } from "./encrypted";

const SBIN = "/usr/sbin:/usr/bin:/sbin:/bin";

/** The Unbound binary, or null when it is not installed (the tests that need it skip). */
export const unboundBinary: string | null = Bun.which("unbound") ?? Bun.which("unbound", { PATH: SBIN });
const ssBinary = Bun.which("ss") ?? Bun.which("ss", { PATH: SBIN });

export interface UnboundTls {
  tlsPort: number;
  httpsPort: number;
  cert: TestCertificate;
  /** Established connections on Unbound's side of `port`. */
  connections(port: number): number;
  log(): string;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now. */
function freeTcpPort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

async function accepts(port: number): Promise<boolean> {
  try {
    const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    s.terminate();
    return true;
  } catch {
    return false;
  }
}

const live = new Set<import("bun").Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export async function startUnboundTls(): Promise<UnboundTls> {
  if (!unboundBinary) throw new Error("unbound is not installed (apt-get install -y unbound)");
  const cert = await testCertificate({ names: ["dns.test"], addresses: ["127.0.0.1"] });
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-unbound-tls-"));
    const tlsPort = freeTcpPort();
    const httpsPort = freeTcpPort();
    writeFileSync(join(dir, "cert.pem"), cert.certPem);
    writeFileSync(join(dir, "key.pem"), cert.keyPem);
    writeFileSync(
      join(dir, "unbound.conf"),
      `server:
    username: ""
    chroot: ""
    directory: "${dir}"
    pidfile: ""
    use-syslog: no
    logfile: "${join(dir, "unbound.log")}"
    verbosity: 1
    do-daemonize: no
    module-config: "iterator"
    interface: 127.0.0.1@${tlsPort}
    interface: 127.0.0.1@${httpsPort}
    tls-port: ${tlsPort}
    https-port: ${httpsPort}
    tls-service-key: "${join(dir, "key.pem")}"
    tls-service-pem: "${join(dir, "cert.pem")}"
    http-endpoint: "/dns-query"
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    num-threads: 1
    local-zone: "test." redirect
    local-data: "test. 60 IN A 192.0.2.1"
remote-control:
    control-enable: no
`,
    );
    const proc = Bun.spawn([unboundBinary, "-d", "-c", join(dir, "unbound.conf")], { stdout: "ignore", stderr: "pipe" });
    live.add(proc);
    const log = () => {
      try {
        return readFileSync(join(dir, "unbound.log"), "utf8");
      } catch {
        return "";
      }
    };
    const stop = async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(3000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      live.delete(proc);
    };
    const until = Date.now() + 10_000;
    while (Date.now() < until && proc.exitCode === null && !((await accepts(tlsPort)) && (await accepts(httpsPort)))) await Bun.sleep(50);
    if (proc.exitCode === null && Date.now() < until) {
      const connections = (port: number) => {
        if (!ssBinary) throw new Error("ss is not installed (apt-get install -y iproute2)");
        const out = Bun.spawnSync([ssBinary, "-Htn", "state", "established", `( sport = :${port} )`]).stdout.toString();
        return out.split("\n").filter((l) => l.trim()).length;
      };
      return { tlsPort, httpsPort, cert, connections, log, stop };
    }
    await stop();
    if (attempt >= 3) throw new Error(`unbound did not start:\n${log()}`);
  }
}
