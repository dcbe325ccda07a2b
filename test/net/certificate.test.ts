// The self-signed certificate of the encrypted listeners, read back with node:crypto's X.509 parser (and, where
// installed, checked by openssl as a TLS server certificate).
import { describe, expect, test } from "bun:test";
import { createHash, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selfSigned } from "../../src/net/certificate";

describe("self-signed certificates", async () => {
  const c = await selfSigned({ names: ["dns.test", "localhost"], addresses: ["127.0.0.1", "::1"], days: 30 });
  const x = new X509Certificate(c.certPem);

  test("names its DNS names and addresses, is valid from before now for the days asked, and signs itself", () => {
    expect(x.subjectAltName).toBe("DNS:dns.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(x.subject).toBe("CN=dns.test");
    expect(new Date(x.validFrom).getTime()).toBeLessThan(Date.now());
    expect(Math.abs(new Date(x.validTo).getTime() - (Date.now() + 30 * 86_400_000))).toBeLessThan(5_000);
    expect(x.ca).toBe(false);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkHost("dns.test")).toBe("dns.test");
    expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1");
  });

  test("the key is the certificate's, and the pin is the SHA-256 of its SubjectPublicKeyInfo (RFC 7858 4.2)", () => {
    const spki = x.publicKey.export({ type: "spki", format: "der" });
    expect(createPublicKey(c.keyPem).export({ type: "spki", format: "der" }).equals(spki)).toBe(true);
    expect(c.pin).toBe(createHash("sha256").update(spki).digest("base64"));
  });

  test.skipIf(!Bun.which("openssl"))("openssl takes it as a TLS server certificate", () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-cert-"));
    writeFileSync(join(dir, "c.pem"), c.certPem);
    const r = Bun.spawnSync(["openssl", "verify", "-CAfile", join(dir, "c.pem"), "-purpose", "sslserver", join(dir, "c.pem")]);
    expect(r.stdout.toString()).toContain(": OK");
  });

  test("every certificate has a key and serial of its own", async () => {
    const d = await selfSigned({ names: ["dns.test"], addresses: [], days: 1 });
    expect(d.pin).not.toBe(c.pin);
    expect(new X509Certificate(d.certPem).serialNumber).not.toBe(x.serialNumber);
  });
});
