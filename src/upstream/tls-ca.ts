// The certificate authorities an encrypted upstream's certificate is verified against: the system store plus the
// PEM file of `upstream.tls_ca`. Bun's `ca` option replaces the default roots, so the bundle always carries the
// system's too. The file is read and every certificate in it parsed when the configuration is built, so a bad
// file fails the load (or the reload), not the first query.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { getCACertificates, rootCertificates } from "node:tls";

export interface TrustStore {
  /** The PEM certificates to pass as `ca`: the system store's, then the configured file's. */
  readonly ca: readonly string[];
  /** Says whether two stores trust the same: connections opened with another one are replaced. */
  readonly key: string;
  /** The configured file, for logs ("system" when none). */
  readonly source: string;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The system's roots; where the system has none (a bare container), the Mozilla roots Bun carries. */
function systemRoots(): string[] {
  let system: string[] = [];
  try {
    system = getCACertificates("system");
  } catch {
    // An older runtime without the system store: the bundled roots below.
  }
  return system.length > 0 ? system : [...rootCertificates];
}

/** The certificates of a PEM file's text; throws naming the file when there are none or one does not parse. */
export function parsePemBundle(text: string, file: string): string[] {
  const blocks = text.match(PEM) ?? [];
  if (blocks.length === 0) throw new Error(`upstream.tls_ca "${file}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new Error(`upstream.tls_ca "${file}": certificate ${i + 1} of ${blocks.length} does not parse (${(err as Error).message})`);
    }
  });
  return blocks;
}

/** The trust store for `file` (upstream.tls_ca), or the system store alone; throws a clear error for a bad file. */
export function loadTrust(file?: string): TrustStore {
  let extra: string[] = [];
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`upstream.tls_ca "${file}" cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    extra = parsePemBundle(text, file);
  }
  const ca = [...systemRoots(), ...extra];
  return { ca, key: `${file ?? ""}\n${extra.join("")}`, source: file ?? "system" };
}
