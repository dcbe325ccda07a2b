// Where configuration comes from, lowest precedence first: defaults, the TOML file, BUNBOUND_* env, flags.
// Every problem is reported with the field path and the reason (ConfigError); nothing is half-applied.
import { readFileSync } from "node:fs";
import { checkedConfigSchema, type Config } from "./schema";
import { resolvConfNameservers } from "./resolvconf";

/** Values that flags (or env) set; lists replace the file's lists. */
export interface Overrides {
  config?: string;
  listen?: string[];
  listen_tls?: string[];
  listen_https?: string[];
  upstream?: string[];
  http?: string;
  record?: string[];
  /** NAME=FILE */
  zone?: string[];
  data_dir?: string;
  log_level?: string;
  processes?: string;
  /** forward or recursive (--recursive, BUNBOUND_MODE) */
  mode?: string;
}

export interface Problem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(`invalid configuration (${source}):\n` + problems.map((p) => `  ${p.path || "(top level)"}: ${p.message}`).join("\n"));
  }
}

export type ResolvedConfig = Config & { upstreams: string[]; source: string; upstreamsFrom: "config" | "resolv.conf" };

const list = (v: string | undefined) =>
  v === undefined ? undefined : v.split(/[,\s]+/).filter((x) => x.length > 0);

/** BUNBOUND_* variables as overrides. Records are separated by ';' or newlines (they contain spaces). */
export function envOverrides(env: Record<string, string | undefined>): Overrides {
  const o: Overrides = {};
  if (env.BUNBOUND_CONFIG) o.config = env.BUNBOUND_CONFIG;
  if (env.BUNBOUND_LISTEN) o.listen = list(env.BUNBOUND_LISTEN);
  if (env.BUNBOUND_LISTEN_TLS) o.listen_tls = list(env.BUNBOUND_LISTEN_TLS);
  if (env.BUNBOUND_LISTEN_HTTPS) o.listen_https = list(env.BUNBOUND_LISTEN_HTTPS);
  const up = env.BUNBOUND_UPSTREAMS ?? env.BUNBOUND_UPSTREAM;
  if (up) o.upstream = list(up);
  if (env.BUNBOUND_HTTP) o.http = env.BUNBOUND_HTTP;
  if (env.BUNBOUND_RECORDS) o.record = env.BUNBOUND_RECORDS.split(/[;\n]/).map((s) => s.trim()).filter(Boolean);
  if (env.BUNBOUND_DATA_DIR) o.data_dir = env.BUNBOUND_DATA_DIR;
  if (env.BUNBOUND_LOG_LEVEL) o.log_level = env.BUNBOUND_LOG_LEVEL;
  if (env.BUNBOUND_PROCESSES) o.processes = env.BUNBOUND_PROCESSES;
  if (env.BUNBOUND_MODE) o.mode = env.BUNBOUND_MODE;
  return o;
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function readToml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, [{ path: "--config", message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  try {
    const parsed = Bun.TOML.parse(text);
    return parsed as Record<string, unknown>;
  } catch (e) {
    const err = e as Error & { line?: number; column?: number };
    const where = err.line !== undefined ? `line ${err.line}, column ${err.column ?? 0}` : "syntax";
    throw new ConfigError(file, [{ path: where, message: err.message.replace(/^TOML Parse error:\s*/, "TOML syntax error: ") }]);
  }
}

/**
 * Builds the effective configuration from flags and env (flags win), reading the TOML file they name.
 * Throws ConfigError naming every bad field.
 */
export function loadConfig(flags: Overrides, env: Record<string, string | undefined> = process.env, resolvConf?: string): ResolvedConfig {
  const fromEnv = envOverrides(env);
  const o: Overrides = { ...fromEnv, ...stripUndefined(flags) };
  const file = o.config;
  const raw: Record<string, unknown> = file ? readToml(file) : {};
  const source = [file ?? "defaults", Object.keys(fromEnv).length ? "env" : "", Object.keys(stripUndefined(flags)).length ? "flags" : ""]
    .filter(Boolean)
    .join(" + ");
  if (o.listen) raw.listen = o.listen;
  if (o.listen_tls) raw.listen_tls = o.listen_tls;
  if (o.listen_https) raw.listen_https = o.listen_https;
  if (o.upstream) raw.upstreams = o.upstream;
  if (o.http) raw.http = o.http;
  if (o.record) raw.records = o.record;
  if (o.zone) {
    raw.zone = o.zone.map((z) => {
      const i = z.indexOf("=");
      return i > 0 ? { name: z.slice(0, i), file: z.slice(i + 1) } : { name: z, file: "" };
    });
  }
  if (o.data_dir) raw.data_dir = o.data_dir;
  if (o.log_level) raw.log_level = o.log_level;
  if (o.mode) raw.mode = o.mode;
  if (o.processes) raw.processes = /^\d+$/.test(o.processes) ? Number(o.processes) : o.processes;
  const result = checkedConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(source, result.error.issues.map((i) => ({ path: pathOf(i.path), message: i.message })));
  }
  const cfg = result.data;
  const fromFile = cfg.upstreams !== undefined;
  return {
    ...cfg,
    upstreams: cfg.upstreams ?? resolvConfNameservers(resolvConf),
    source,
    upstreamsFrom: fromFile ? "config" : "resolv.conf",
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
