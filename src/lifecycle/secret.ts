// Secrets kept in the data dir, so every process of `processes = N` and every restart agree on them (the DNS
// cookie secret: a client's server cookie stays good across both, RFC 9018 4.2).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** The `bytes`-byte secret in `file`, made (mode 0600) when the file is missing or of the wrong size. */
export function loadOrCreateSecret(file: string, bytes = 16): Uint8Array {
  if (existsSync(file)) {
    const b = new Uint8Array(readFileSync(file));
    if (b.length === bytes) return b;
  }
  const secret = crypto.getRandomValues(new Uint8Array(bytes));
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
