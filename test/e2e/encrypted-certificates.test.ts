// The certificate of the encrypted listeners in a real bunbound: a configured PEM pair is what DoT and DoH serve
// (checked with openssl s_client), a new pair is taken on SIGHUP or when the files change, for new connections
// only (open ones keep answering), a garbage file keeps the last good certificate, and min_version is enforced.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { selfSigned, type SelfSigned } from "../../src/net/certificate";
import { decode, makeQuery, udpAsk } from "../helpers/dns";
import { DohSession, handshake, missing, servedCertificate, startEncrypted, TlsClient, type EncryptedServer } from "../helpers/tls";
import { until } from "../helpers/wait";

setDefaultTimeout(30_000);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const noOpenssl = missing(["openssl"], "apt-get install -y openssl").length > 0;

const pair = () => selfSigned({ names: ["dns.test"], addresses: ["127.0.0.1"], days: 30 });
const fingerprint = (p: SelfSigned) => new X509Certificate(p.certPem).fingerprint256;

/** A bunbound serving the pair written to dir/cert.pem and dir/key.pem; `toml` goes after [tls]'s cert and key. */
async function withPair(p: SelfSigned, toml = "[jobs]\nwatch_interval_ms = 0\n"): Promise<EncryptedServer & { certFile: string; keyFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-cert-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  writeFileSync(certFile, p.certPem);
  writeFileSync(keyFile, p.keyPem);
  const b = await startEncrypted(`records = ["x.lan 300 A 10.1.1.1"]\n[tls]\ncert = "${certFile}"\nkey = "${keyFile}"\n${toml}`, { dir });
  cleanup.push(() => b.stop("SIGKILL"));
  return Object.assign(b, { certFile, keyFile });
}

/** Writes the new pair over the files, sends SIGHUP, and waits for the log line that says how it went. */
async function replaceAndHup(b: EncryptedServer & { certFile: string; keyFile: string }, cert: string, key: string, expectLog: string) {
  const from = b.logs.length;
  writeFileSync(b.certFile, cert);
  writeFileSync(b.keyFile, key);
  b.proc.kill("SIGHUP");
  return await b.waitLog(expectLog, 10_000, from);
}

const dotAnswers = async (port: number) => {
  const c = await TlsClient.open(port);
  c.ask(makeQuery("x.lan", "A", { id: 7 }));
  await c.waitFor(1);
  c.close();
  return c.messages.map((m) => decode(m).answers.map((a) => a.data)).flat();
};

describe("a configured certificate", () => {
  test.skipIf(noOpenssl)("the configured cert/key pair is what DoT and DoH serve, and its SPKI pin is the one logged", async () => {
    const p = await pair();
    const b = await withPair(p);
    expect((await servedCertificate(b.tlsPort)).fingerprint256).toBe(fingerprint(p));
    expect((await servedCertificate(b.httpsPort)).fingerprint256).toBe(fingerprint(p));
    expect(b.pin).toBe(p.pin);
    expect(b.logs.find((l) => l.msg === "TLS certificate")).toMatchObject({ file: b.certFile, selfSigned: false, spkiPin: p.pin });
  });

  test.skipIf(noOpenssl)("after the files are replaced by a new pair and SIGHUP, new DoT and DoH connections get the new certificate", async () => {
    const [a, next] = await Promise.all([pair(), pair()]);
    const b = await withPair(a);
    expect((await servedCertificate(b.tlsPort)).fingerprint256).toBe(fingerprint(a));
    const loaded = await replaceAndHup(b, next.certPem, next.keyPem, "TLS certificate loaded");
    expect(loaded.spkiPin).toBe(next.pin);
    expect((await servedCertificate(b.tlsPort)).fingerprint256).toBe(fingerprint(next));
    expect((await servedCertificate(b.httpsPort)).fingerprint256).toBe(fingerprint(next));
    expect(await dotAnswers(b.tlsPort)).toEqual(["10.1.1.1"]);
  });

  test("a DoT connection and an HTTP/2 session opened before the reload keep answering after it, on the certificate they began with", async () => {
    const [a, next] = await Promise.all([pair(), pair()]);
    const b = await withPair(a);
    const dot = await TlsClient.open(b.tlsPort);
    const doh = await DohSession.open(b.httpsPort);
    cleanup.push(() => dot.close(), () => doh.close());
    expect(doh.peerFingerprint).toBe(fingerprint(a));
    await replaceAndHup(b, next.certPem, next.keyPem, "TLS certificate loaded");
    dot.ask(makeQuery("x.lan", "A", { id: 9 }));
    await dot.waitFor(1);
    expect(dot.closed).toBe(false);
    expect(decode(dot.messages[0]!)).toMatchObject({ id: 9, answers: [{ data: "10.1.1.1" }] });
    const r = await doh.ask(makeQuery("x.lan", "A", { id: 0 }));
    expect(r.status).toBe(200);
    expect(decode(r.body).answers.map((x) => x.data)).toEqual(["10.1.1.1"]);
    expect(doh.closed).toBe(false);
    expect(doh.peerFingerprint).toBe(fingerprint(a));
  });

  test.skipIf(noOpenssl)("a new pair is taken when the files change, without SIGHUP (jobs.watch_interval_ms)", async () => {
    const [a, next] = await Promise.all([pair(), pair()]);
    const b = await withPair(a, "[jobs]\nwatch_interval_ms = 200\n");
    writeFileSync(b.certFile, next.certPem);
    writeFileSync(b.keyFile, next.keyPem);
    const served = await until(() => servedCertificate(b.tlsPort), (x) => x.fingerprint256 === fingerprint(next), 10_000);
    expect(served.fingerprint256).toBe(fingerprint(next));
    expect((await servedCertificate(b.httpsPort)).fingerprint256).toBe(fingerprint(next));
  });

  test.skipIf(noOpenssl)("a certificate file replaced by garbage: the error is logged, and new connections still get the old certificate and answers", async () => {
    const p = await pair();
    const b = await withPair(p);
    expect(await dotAnswers(b.tlsPort)).toEqual(["10.1.1.1"]);
    const warned = await replaceAndHup(b, "this is not a certificate\n", p.keyPem, "TLS certificate not reloaded; the running one stays");
    expect(warned).toMatchObject({ level: "warn", file: b.certFile });
    expect(JSON.stringify(warned.err)).not.toBe("{}");
    expect((await servedCertificate(b.tlsPort)).fingerprint256).toBe(fingerprint(p));
    expect((await servedCertificate(b.httpsPort)).fingerprint256).toBe(fingerprint(p));
    expect(await dotAnswers(b.tlsPort)).toEqual(["10.1.1.1"]);
    const doh = await DohSession.open(b.httpsPort);
    expect((await doh.ask(makeQuery("x.lan"))).status).toBe(200);
    doh.close();
    expect(decode((await udpAsk(b.udpPort, makeQuery("x.lan")))!).answers.length).toBe(1);
  });

  test("a key that is not the certificate's stops the start, saying so", async () => {
    const [a, other] = await Promise.all([pair(), pair()]);
    const started = withPair({ ...a, keyPem: other.keyPem });
    await expect(started).rejects.toThrow(/exited \(1\) before "bunbound started".*failed to start/);
  });
});

describe("signals", () => {
  // "bunbound started" is the readiness line supervisors and these tests wait for: signals sent right after it must
  // get bunbound's handling, not the default action (which kills the process). Ten starts each, because the window
  // between the line and the handlers is short.
  test("a SIGHUP sent as soon as the started line appears reloads the configuration, and never kills the process", async () => {
    for (let i = 0; i < 10; i++) {
      const b = await startEncrypted();
      cleanup.push(() => b.stop("SIGKILL"));
      const from = b.logs.length;
      b.proc.kill("SIGHUP");
      const outcome = await Promise.race([
        b.waitLog("configuration reloaded", 5000, from).then(() => "reloaded"),
        b.proc.exited.then(() => `died of ${b.proc.signalCode ?? b.proc.exitCode}`),
      ]).catch((e: Error) => e.message);
      expect(outcome).toBe("reloaded");
    }
  });

  test("a SIGTERM sent as soon as the started line appears is a clean shutdown: exit code 0", async () => {
    for (let i = 0; i < 10; i++) {
      const b = await startEncrypted();
      cleanup.push(() => b.stop("SIGKILL"));
      expect(await b.stop("SIGTERM")).toBe(0);
    }
  });
});

describe("the self-signed certificate", () => {
  test("is made once in data_dir/tls: a restart serves the same pin", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-selfsigned-"));
    const first = await startEncrypted("", { dir });
    cleanup.push(() => first.stop("SIGKILL"));
    expect(first.logs.find((l) => l.msg === "TLS certificate")).toMatchObject({ file: join(dir, "data/tls/cert.pem"), selfSigned: true, spkiPin: first.pin });
    await first.stop("SIGKILL"); // the pair is on disk before the started line
    const second = await startEncrypted("", { dir });
    cleanup.push(() => second.stop("SIGKILL"));
    expect(second.pin).toBe(first.pin);
  });
});

describe('[tls] min_version = "1.3"', () => {
  test.skipIf(noOpenssl).each(["DoT", "DoH"] as const)("%s refuses TLS 1.2 and accepts TLS 1.3", async (which) => {
    const b = await withPair(await pair(), 'min_version = "1.3"\n');
    const port = which === "DoT" ? b.tlsPort : b.httpsPort;
    const old = await handshake(port, "tls1_2");
    expect(old.ok).toBe(false);
    expect(old.output).toContain("alert protocol version");
    expect((await handshake(port, "tls1_3")).protocol).toBe("TLSv1.3");
  });
});
