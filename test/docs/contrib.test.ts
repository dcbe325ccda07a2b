import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load";

// Docker and systemd do not run here: these check by reading that contrib/ builds and starts what the
// repository builds, with configurations the real loader accepts.
const root = new URL("../../", import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), "utf8");
const pkg = JSON.parse(read("package.json")) as { engines: { bun: string }; scripts: Record<string, string> };
const outfile = /--outfile (\S+)/.exec(pkg.scripts.build!)![1]!;
const resolv = join(mkdtempSync(join(tmpdir(), "bunbound-contrib-")), "resolv.conf");

describe("contrib/Dockerfile", () => {
  const dockerfile = read("contrib/Dockerfile");
  const lines = dockerfile.split("\n").filter((l) => !l.startsWith("#"));

  test("builds with the pinned Bun and exactly the package.json build script", () => {
    expect(lines).toContain(`FROM oven/bun:${pkg.engines.bun} AS build`);
    expect(lines).toContain("RUN bun install --frozen-lockfile");
    expect(lines.filter((l) => l.startsWith("RUN bun run "))).toEqual(["RUN bun run build"]);
  });

  test("copies into the build everything the build script compiles, and the binary it writes", () => {
    const copied = lines.filter((l) => l.startsWith("COPY ") && !l.includes("--from")).flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const f of copied) expect([f, existsSync(join(root, f))]).toEqual([f, true]);
    const entries = pkg.scripts.build!.split(/\s+/).filter((w) => w.endsWith(".ts"));
    for (const e of entries) expect(copied.some((c) => e === c || e.startsWith(c.replace(/\/?$/, "/")))).toBe(true);
    expect(copied).toContain("bun.lock");
    const workdir = /^WORKDIR (\S+)$/m.exec(dockerfile)![1]!;
    expect(dockerfile).toContain(`COPY --from=build ${workdir}/${outfile} /usr/local/bin/bunbound`);
  });

  test("exposes DNS over UDP and TCP and the HTTP port, and starts the binary with its config", () => {
    expect(lines).toContain("EXPOSE 53/udp 53/tcp 8053");
    expect(lines).toContain('ENTRYPOINT ["/usr/local/bin/bunbound"]');
    expect(lines).toContain('CMD ["--config", "/etc/bunbound/bunbound.toml"]');
    expect(lines).toContain("COPY contrib/container.toml /etc/bunbound/bunbound.toml");
    expect(lines.some((l) => /^USER \S+/.test(l) && !/root/.test(l))).toBe(true);
  });

  test("its configuration loads and listens on 0.0.0.0:53", () => {
    const c = loadConfig({ config: join(root, "contrib/container.toml") }, {}, resolv);
    expect(c.listen).toEqual(["0.0.0.0:53"]);
    expect(c.data_dir).toBe("/var/lib/bunbound");
  });

  test("the build context keeps what the build copies", () => {
    const ignore = read("contrib/Dockerfile.dockerignore").split("\n");
    for (const f of ["package.json", "bun.lock", "src", "contrib/container.toml"]) expect(ignore).toContain(`!${f}`);
  });
});

describe("contrib/bunbound.service", () => {
  const unit = read("contrib/bunbound.service");
  const keys = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (k: string) => keys.get(k)?.join(" ");

  test("runs the single binary with the system configuration, reloads with SIGHUP, restarts on failure", () => {
    expect(one("ExecStart")).toBe(`/usr/local/bin/${outfile.split("/").pop()} --config /etc/bunbound/bunbound.toml`);
    expect(one("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(one("Restart")).toBe("on-failure");
    expect(one("RestartPreventExitStatus")).toBe("2"); // a bad configuration
  });

  test("runs unprivileged with only the capability for port 53, and leaves the JIT working", () => {
    expect(one("DynamicUser")).toBe("yes");
    expect(one("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE");
    expect(keys.has("MemoryDenyWriteExecute")).toBe(false);
    expect(one("StateDirectory")).toBe("bunbound");
  });

  test("its configuration loads and keeps state in the StateDirectory", () => {
    const c = loadConfig({ config: join(root, "contrib/bunbound.toml") }, {}, resolv);
    expect(c.data_dir).toBe(`/var/lib/${one("StateDirectory")}`);
    expect(c.listen.every((l) => l.endsWith(":53"))).toBe(true);
  });
});
