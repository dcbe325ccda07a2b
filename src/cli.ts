#!/usr/bin/env bun
// Command line: parse flags, load config, start the app, hand signals to it. Nothing else lives here.
import { parseArgs } from "node:util";
import { App } from "./app";
import { ConfigError, loadConfig, type Overrides } from "./config/load";
import { installSignals } from "./lifecycle/signals";
import { log, setLogBase } from "./metrics/log";
import { VERSION } from "./version";
import { LISTEN_ENV, ROLE_ENV, SLOT_ENV } from "./lifecycle/processes";
import { linkToPrimary, servingConfig } from "./lifecycle/serving";

const USAGE = `bunbound ${VERSION} — a Bun-native DNS resolver

Usage: bunbound [options]

  --config FILE          TOML config file (env BUNBOUND_CONFIG)
  --listen ADDR:PORT     UDP+TCP listener, repeatable (default 127.0.0.1:5300 and [::1]:5300)
  --listen-tls ADDR[:PORT]
                         DNS over TLS listener (port 853 by default), repeatable
  --listen-https ADDR[:PORT]
                         DNS over HTTPS listener (port 443 by default; path /dns-query), repeatable
  --upstream ADDR[:PORT] upstream server, repeatable (default: nameservers in /etc/resolv.conf);
                         also tls://ADDR[:PORT][#auth-name] and https://HOST[:PORT]/PATH[#ADDR]
  --recursive            resolve from the root servers instead of forwarding (mode = "recursive")
  --http ADDR:PORT|off   HTTP API (default 127.0.0.1:8053)
  --record 'NAME TTL TYPE DATA'
                         local record, repeatable, e.g. --record 'a.lan 60 A 10.0.0.5'
  --zone NAME=FILE       authoritative zone from an RFC 1035 master file, repeatable
  --data-dir DIR         state directory (default ./data)
  --log-level LEVEL      debug | info | warn | error (default info)
  --processes N          processes sharing the listen ports (SO_REUSEPORT; default 1)
  --version              print the version and exit
  --help                 print this help and exit

Flags override the config file; BUNBOUND_* environment variables (BUNBOUND_LISTEN, BUNBOUND_LISTEN_TLS,
BUNBOUND_LISTEN_HTTPS, BUNBOUND_UPSTREAMS,
BUNBOUND_HTTP, BUNBOUND_MODE, BUNBOUND_RECORDS, BUNBOUND_DATA_DIR, BUNBOUND_LOG_LEVEL, BUNBOUND_PROCESSES) sit between
the two.
Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT drain and stop.
`;

/** Parses argv into overrides; throws ConfigError for unknown or malformed flags. */
export function parseFlags(argv: string[]): Overrides & { help?: boolean; version?: boolean } {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: "string" },
        listen: { type: "string", multiple: true },
        "listen-tls": { type: "string", multiple: true },
        "listen-https": { type: "string", multiple: true },
        upstream: { type: "string", multiple: true },
        http: { type: "string" },
        recursive: { type: "boolean" },
        record: { type: "string", multiple: true },
        zone: { type: "string", multiple: true },
        "data-dir": { type: "string" },
        "log-level": { type: "string" },
        processes: { type: "string" },
        version: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new ConfigError("flags", [{ path: "flags", message: (e as Error).message }]);
  }
  return {
    config: values.config as string | undefined,
    listen: values.listen as string[] | undefined,
    listen_tls: values["listen-tls"] as string[] | undefined,
    listen_https: values["listen-https"] as string[] | undefined,
    upstream: values.upstream as string[] | undefined,
    http: values.http as string | undefined,
    mode: values.recursive ? "recursive" : undefined,
    record: values.record as string[] | undefined,
    zone: values.zone as string[] | undefined,
    data_dir: values["data-dir"] as string | undefined,
    log_level: values["log-level"] as string | undefined,
    processes: values.processes as string | undefined,
    help: values.help as boolean | undefined,
    version: values.version as boolean | undefined,
  };
}

async function main(argv: string[]): Promise<number> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(argv);
  } catch (e) {
    process.stderr.write(`bunbound: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`bunbound ${VERSION}\n`);
    return 0;
  }
  const { help: _h, version: _v, ...overrides } = flags;
  // A serving process of `processes = N` (started by the primary): same config sources, the primary's ports.
  const serving = process.env[ROLE_ENV] === "serve";
  const listen = serving ? (JSON.parse(process.env[LISTEN_ENV] ?? "[]") as string[]) : [];
  if (serving) setLogBase({ process: Number(process.env[SLOT_ENV] ?? 0), pid: process.pid });
  const load = () => (serving ? servingConfig(loadConfig(overrides), listen) : loadConfig(overrides));
  // Handlers go in before the start: a supervisor may signal as soon as "bunbound started" is logged, and a signal
  // without a handler kills the process. One that comes during the start waits for it; a failed start exits with
  // its own code.
  const started = (async () => App.start(load(), serving ? "serve" : "primary"))();
  const ready = started.catch(() => null);
  const never = new Promise<void>(() => {});
  installSignals({
    reload: async () => {
      const app = await ready;
      if (!app) return;
      try {
        await app.reload(load());
      } catch (e) {
        log.error("reload rejected; keeping the running configuration", {
          problems: e instanceof ConfigError ? e.problems : undefined,
          err: e instanceof ConfigError ? undefined : e,
        });
      }
    },
    shutdown: async (sig) => {
      const app = await ready;
      return app ? app.shutdown(sig) : never;
    },
    exit: (code) => process.exit(code),
  });
  try {
    const app = await started;
    if (serving) linkToPrimary(app, app.forwardQueue!);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`bunbound: ${e.message}\n`);
      return 2;
    }
    log.error("failed to start", { err: e });
    return 1;
  }
  return -1; // keep running
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
}
