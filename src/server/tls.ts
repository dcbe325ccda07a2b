// The certificate of the encrypted listeners (DoT, DoH): the configured PEM files, or — with none — a self-signed
// one made once in data_dir/tls/ and kept, so a bare start serves TLS anywhere. A changed file (or a reload with
// other files) is read and checked before it is used: a certificate that does not parse or does not match its key
// is logged and the last good one stays. Listeners are told of a new one and apply it to new connections only.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { X509Certificate } from "node:crypto";
import { selfSigned, spkiPin } from "../net/certificate";
import type { TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 SPKI pin of the certificate, base64 (RFC 7858 4.2). */
  pin: string;
  /** Where they came from: the configured files, or the self-signed pair in data_dir/tls. */
  certFile: string;
  keyFile: string;
  selfSigned: boolean;
}

export interface TlsFiles {
  /** [tls] cert and key, when configured. */
  cert?: string;
  key?: string;
  data_dir: string;
}

/** Reads and checks a certificate and its key; throws, saying what is wrong, when they are not usable. */
async function read(certFile: string, keyFile: string, selfMade: boolean): Promise<TlsMaterial> {
  const cert = readFileSync(certFile, "utf8");
  const key = readFileSync(keyFile, "utf8");
  createSecureContext({ cert, key }); // throws on a bad PEM or a key that is not the certificate's
  const spki = new X509Certificate(cert).publicKey.export({ type: "spki", format: "der" });
  return { cert, key, pin: await spkiPin(new Uint8Array(spki)), certFile, keyFile, selfSigned: selfMade };
}

const mtime = (file: string): number => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** The files to serve: the configured pair, else the self-signed pair of data_dir/tls. */
function where(f: TlsFiles): { certFile: string; keyFile: string; configured: boolean } {
  if (f.cert && f.key) return { certFile: f.cert, keyFile: f.key, configured: true };
  const dir = join(f.data_dir, "tls");
  return { certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem"), configured: false };
}

export class TlsCertificates {
  private current: TlsMaterial | null = null;
  private seen = { cert: 0, key: 0 };
  private readonly listeners: Array<(m: TlsMaterial) => void> = [];

  constructor(private readonly files: () => TlsFiles) {}

  get material(): TlsMaterial {
    if (!this.current) throw new Error("TLS certificate not loaded");
    return this.current;
  }

  /** Called with each new certificate once it is in use. */
  onChange(fn: (m: TlsMaterial) => void): void {
    this.listeners.push(fn);
  }

  /** The configured certificate, or the self-signed one (made on first use). Throws when the configured one is bad. */
  async load(): Promise<TlsMaterial> {
    const m = await this.readNow();
    this.use(m);
    return m;
  }

  /**
   * Reads the files again if they changed (or other ones are configured): a good pair is swapped in and the
   * listeners told; a bad one is logged and the last good one stays. Returns whether a new one is in use.
   */
  async check(): Promise<boolean> {
    const w = where(this.files());
    const now = { cert: mtime(w.certFile), key: mtime(w.keyFile) };
    if (w.certFile === this.current?.certFile && now.cert === this.seen.cert && now.key === this.seen.key) return false;
    try {
      this.use(await this.readNow());
      log.info("TLS certificate loaded", { file: w.certFile, spkiPin: this.current!.pin });
      return true;
    } catch (err) {
      this.seen = now; // one report per change
      log.warn("TLS certificate not reloaded; the running one stays", { file: w.certFile, err });
      return false;
    }
  }

  /** Registers the file check every `intervalMs` (jobs.watch_interval_ms; 0: never). */
  start(tasks: Pick<TaskManager, "every">, intervalMs: number): void {
    if (intervalMs > 0) tasks.every("tls-certificate-watch", "server", intervalMs, () => this.check().then(() => undefined));
  }

  private async readNow(): Promise<TlsMaterial> {
    const w = where(this.files());
    if (!w.configured && (!existsSync(w.certFile) || !existsSync(w.keyFile))) {
      const made = await selfSigned({ names: ["localhost"], addresses: ["127.0.0.1", "::1"], days: 3650 });
      mkdirSync(join(w.certFile, ".."), { recursive: true, mode: 0o700 });
      writeFileSync(w.keyFile, made.keyPem, { mode: 0o600 });
      writeFileSync(w.certFile, made.certPem);
    }
    return read(w.certFile, w.keyFile, !w.configured);
  }

  private use(m: TlsMaterial): void {
    const before = this.current;
    this.current = m;
    this.seen = { cert: mtime(m.certFile), key: mtime(m.keyFile) };
    if (before) for (const fn of this.listeners) fn(m);
  }
}
