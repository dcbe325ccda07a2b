// The trust store of encrypted upstreams: the system's roots plus upstream.tls_ca, read when the configuration is
// built so a bad file fails the load, not the first query.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getCACertificates, rootCertificates } from "node:tls";
import { loadTrust } from "../../src/upstream/tls-ca";
import { makeForwarder } from "../helpers/pipeline";
import { testCertificate } from "../helpers/encrypted";

const dir = mkdtempSync(join(tmpdir(), "bunbound-tls-ca-"));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("the trust store of encrypted upstreams", () => {
  test("without tls_ca it is the system store", () => {
    const t = loadTrust();
    const system = getCACertificates("system");
    expect(t.ca).toEqual(system.length > 0 ? system : rootCertificates); // a system without roots: Bun's own
    expect(t.source).toBe("system");
  });

  test("tls_ca adds every certificate of its PEM file to the system store", async () => {
    const a = await testCertificate();
    const b = await testCertificate();
    const t = loadTrust(file("two.pem", `# two test CAs\n${a.certPem}\n${b.certPem}`));
    const system = getCACertificates("system");
    expect(t.ca.length).toBe(system.length + 2);
    expect(t.ca.slice(system.length).map((p) => p.trim())).toEqual([a.certPem.trim(), b.certPem.trim()]);
  });

  test("the same file with the same certificates makes an equal store; another file's does not", async () => {
    const a = await testCertificate();
    const path = file("same.pem", a.certPem);
    expect(loadTrust(path).key).toBe(loadTrust(path).key);
    expect(loadTrust(file("other.pem", (await testCertificate()).certPem)).key).not.toBe(loadTrust(path).key);
  });

  test("a file that cannot be read is an error naming it", () => {
    expect(() => loadTrust(join(dir, "absent.pem"))).toThrow(/upstream\.tls_ca ".*absent\.pem" cannot be read \(ENOENT\)/);
  });

  test("a file without a PEM certificate is an error naming it", () => {
    expect(() => loadTrust(file("empty.pem", "nothing here\n"))).toThrow(/holds no PEM certificate/);
  });

  test("a certificate that does not parse is an error saying which", async () => {
    const good = (await testCertificate()).certPem;
    const bad = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    expect(() => loadTrust(file("bad.pem", good + bad))).toThrow(/certificate 2 of 2 does not parse/);
  });

  test("a forwarder is not built with a bad tls_ca: the configuration fails to load", () => {
    expect(() => makeForwarder(["tls://127.0.0.1:853"], { upstream: { tls_ca: join(dir, "absent.pem") } })).toThrow(/tls_ca/);
  });
});
