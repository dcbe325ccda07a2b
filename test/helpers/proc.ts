// Runs a real bunbound process (source or compiled binary) and reads its JSON-lines log.
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");

export interface Running {
  proc: import("bun").Subprocess<"ignore", "pipe", "pipe">;
  udpPort: number;
  httpPort: number;
  logs: Array<Record<string, unknown>>;
  /** Resolves with the first log line whose msg matches. */
  waitLog(msg: string | RegExp, timeoutMs?: number, from?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export async function startBunbound(args: string[], opts: { cmd?: string[]; env?: Record<string, string>; cwd?: string } = {}): Promise<Running> {
  const cmd = opts.cmd ?? ["bun", resolve(ROOT, "src/cli.ts")];
  const proc = Bun.spawn([...cmd, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of proc.stderr) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          logs.push(JSON.parse(line));
        } catch {
          logs.push({ msg: "(raw)", line });
        }
        for (const l of [...listeners]) l();
      }
    }
    for (const l of [...listeners]) l();
  })();
  void proc.exited.then(() => {
    for (const l of [...listeners]) l();
  });
  const waitLog = (msg: string | RegExp, timeoutMs = 10_000, from = 0) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      const match = () => logs.slice(from).find((l) => (typeof msg === "string" ? l.msg === msg : msg.test(String(l.msg))));
      const found = match();
      if (found) return res(found);
      const timer = setTimeout(() => {
        listeners.delete(check);
        rej(new Error(`no log "${msg}" within ${timeoutMs} ms; got: ${JSON.stringify(logs.slice(-5))}`));
      }, timeoutMs);
      const check = () => {
        const f = match();
        if (f) {
          clearTimeout(timer);
          listeners.delete(check);
          res(f);
        } else if (proc.exitCode !== null) {
          clearTimeout(timer);
          listeners.delete(check);
          rej(new Error(`bunbound exited (${proc.exitCode}) before "${msg}": ${JSON.stringify(logs.slice(-5))}`));
        }
      };
      listeners.add(check);
    });
  const started = await waitLog("bunbound started", 20_000);
  const listen = (started.listen as string[])[0]!;
  const http = String(started.http);
  return {
    proc,
    logs,
    udpPort: Number(listen.slice(listen.lastIndexOf(":") + 1)),
    httpPort: http === "off" ? 0 : Number(http.slice(http.lastIndexOf(":") + 1)),
    waitLog,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
}
