// DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484) in a real bunbound, asked by real clients: kdig and dig
// (+tls, +https, +https-get), curl (HTTP/2 and HTTP/1.1, and --doh-url), openssl s_client, and Bun's own TLS and
// HTTP/2 clients where a test needs to hold a connection. One server for the file, with the self-signed
// certificate it makes on first start; certificates and bad input have files of their own.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { addrFor, decode, makeQuery, udpAsk } from "../helpers/dns";
import { StandIn } from "../helpers/upstream";
import { DohSession, handshake, missing, pinOf, run, servedCertificate, startEncrypted, TlsClient, type EncryptedServer } from "../helpers/tls";
import { until } from "../helpers/wait";
import { startBunbound } from "../helpers/proc";

setDefaultTimeout(20_000);

const noKdig = missing(["kdig"], "apt-get install -y knot-dnsutils").length > 0;
const noDig = missing(["dig"], "apt-get install -y bind9-dnsutils").length > 0;
const noCurl = missing(["curl"], "apt-get install -y curl").length > 0;
const noOpenssl = missing(["openssl"], "apt-get install -y openssl").length > 0;

/** neg.lan: NXDOMAIN answers carry its SOA, whose negative TTL is min(SOA TTL 300, MINIMUM 60) = 60. */
const ZONE = `$ORIGIN neg.lan.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 10.9.0.1\n`;
let b: EncryptedServer;
let upstream: StandIn;

beforeAll(async () => {
  upstream = await StandIn.start({ delayMs: (name) => (name.startsWith("slow") ? 400 : 0) });
  const dir = mkdtempSync(join(tmpdir(), "bunbound-enc-"));
  writeFileSync(join(dir, "neg.lan.zone"), ZONE);
  b = await startEncrypted(
    `upstreams = ["${upstream.address}"]\n` +
      `records = ["x.lan 300 A 10.1.1.1", "web.lan 60 A 127.0.0.1", "alias.lan 600 CNAME x.lan"]\n` +
      `[[zone]]\nname = "neg.lan"\nfile = "${dir}/neg.lan.zone"\n[discovery]\nenabled = false\n`,
    { dir },
  );
});
afterAll(async () => {
  await b?.stop("SIGKILL");
  upstream?.close();
});

const kdig = (...args: string[]) => run(["kdig", "@127.0.0.1", "+time=3", "+retry=0", ...args]);
const dig = (...args: string[]) => run(["dig", "@127.0.0.1", "+time=3", "+tries=1", ...args]);
const curl = (...args: string[]) => run(["curl", "-sS", "-k", "--max-time", "5", ...args]);
/** The answer lines of kdig/dig output: "NAME TTL IN TYPE DATA", whitespace squeezed. */
const answerLines = (out: string) => out.split("\n").filter((l) => /^[^;\s].*\sIN\s/.test(l)).map((l) => l.split(/\s+/).join(" "));

describe("DNS over TLS with kdig, dig and openssl", () => {
  test.skipIf(noKdig)("kdig +tls gets the answer over a TLS session", async () => {
    const r = await kdig("-p", String(b.tlsPort), "+tls", "x.lan", "A");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/;; TLS session \(TLS1\.[23]\)/);
    expect(answerLines(r.stdout)).toEqual(["x.lan. 300 IN A 10.1.1.1"]);
  });

  test.skipIf(noDig)("dig +tls gets the answer", async () => {
    const r = await dig("-p", String(b.tlsPort), "+tls", "x.lan", "A", "+short");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("10.1.1.1");
  });

  test.skipIf(noKdig)("kdig +tls-pin with the logged SPKI pin is answered, and with another pin it refuses the server", async () => {
    const good = await kdig("-p", String(b.tlsPort), `+tls-pin=${b.pin}`, "x.lan", "A", "+short");
    expect(good.code).toBe(0);
    expect(good.stdout.trim()).toBe("10.1.1.1");
    const other = Buffer.from(b.pin, "base64");
    other[0]! ^= 0xff;
    const bad = await kdig("-p", String(b.tlsPort), `+tls-pin=${other.toString("base64")}`, "x.lan", "A", "+short");
    expect(bad.code).not.toBe(0);
    expect(bad.stdout.trim()).toBe("");
    expect(bad.stderr).toContain("handshake failed");
  });

  test.skipIf(noOpenssl)("with no certificate configured, the one served is the self-signed one made in data_dir/tls, for localhost and 127.0.0.1", async () => {
    const file = readFileSync(join(b.dir, "data/tls/cert.pem"), "utf8");
    expect(readFileSync(join(b.dir, "data/tls/key.pem"), "utf8")).toContain("PRIVATE KEY");
    const served = await servedCertificate(b.tlsPort);
    expect(served.fingerprint256).toBe(new X509Certificate(file).fingerprint256);
    expect(await pinOf(file)).toBe(b.pin);
    expect(served.checkHost("localhost")).toBe("localhost");
    expect(served.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(served.issuer).toBe(served.subject);
  });

  test.skipIf(noKdig)("answers over TLS carry EDNS padding up to a multiple of 468 bytes (RFC 7830, RFC 8467)", async () => {
    for (const name of ["x.lan", "alias.lan", "nope.neg.lan"]) {
      const r = await kdig("-p", String(b.tlsPort), "+tls", "+padding", name, "A");
      expect(r.stdout).toMatch(/;; PADDING: \d+ B/);
      const size = Number(/;; Received (\d+) B/.exec(r.stdout)?.[1]);
      expect(size % 468).toBe(0);
      expect(size).toBeGreaterThan(0);
    }
  });

  test.skipIf(noKdig)("answers over UDP to the same padded query carry no padding", async () => {
    const r = await kdig("-p", String(b.udpPort), "+padding", "x.lan", "A");
    expect(answerLines(r.stdout)).toEqual(["x.lan. 300 IN A 10.1.1.1"]);
    expect(r.stdout).not.toContain("PADDING");
  });

  test.skipIf(noOpenssl)("openssl s_client -alpn dot negotiates ALPN dot", async () => {
    const h = await handshake(b.tlsPort, "tls1_3", "dot");
    expect(h.ok).toBe(true);
    expect(h.alpn).toBe("dot");
  });

  test("pipelined queries on one connection are answered as they complete: a local answer overtakes a slow upstream one", async () => {
    const c = await TlsClient.open(b.tlsPort);
    c.ask(makeQuery("slow1.example", "A", { id: 1 }));
    c.ask(makeQuery("x.lan", "A", { id: 2 }));
    await c.waitFor(2);
    c.close();
    const [first, second] = c.messages.map(decode);
    expect(first!.id).toBe(2);
    expect(first!.answers.map((a) => a.data)).toEqual(["10.1.1.1"]);
    expect(second!.id).toBe(1);
    expect(second!.answers.map((a) => a.data)).toEqual([addrFor("slow1.example")]);
  });

  test("fifty queries written at once on one connection get fifty answers, each with its ID (RFC 7766 pipelining)", async () => {
    const c = await TlsClient.open(b.tlsPort);
    const ids = Array.from({ length: 50 }, (_, i) => 1000 + i);
    for (const id of ids) c.ask(makeQuery(id % 2 ? "x.lan" : `p${id}.example`, "A", { id }));
    await c.waitFor(50);
    c.close();
    expect(c.messages.map((m) => decode(m).id).sort()).toEqual(ids);
    expect(c.messages.every((m) => decode(m).rcode === "NOERROR")).toBe(true);
  });
});

describe("TLS versions (openssl s_client)", () => {
  test.skipIf(noOpenssl).each(["DoT", "DoH"] as const)("%s refuses TLS 1.1 with a protocol_version alert and accepts TLS 1.2 and 1.3", async (which) => {
    const port = which === "DoT" ? b.tlsPort : b.httpsPort;
    const old = await handshake(port, "tls1_1");
    expect(old.ok).toBe(false);
    expect(old.output).toContain("alert protocol version");
    expect((await handshake(port, "tls1_2")).protocol).toBe("TLSv1.2");
    expect((await handshake(port, "tls1_3")).protocol).toBe("TLSv1.3");
  });
});

describe("DNS over HTTPS with dig, kdig and curl", () => {
  test.skipIf(noDig)("dig +https (POST) gets the answer", async () => {
    const r = await dig("-p", String(b.httpsPort), "+https", "x.lan", "A", "+short");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("10.1.1.1");
  });

  test.skipIf(noDig)("dig +https-get (GET with ?dns=) gets the answer", async () => {
    const r = await dig("-p", String(b.httpsPort), "+https-get", "x.lan", "A", "+short");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("10.1.1.1");
  });

  test.skipIf(noKdig)("kdig +https gets the answer", async () => {
    const r = await kdig("-p", String(b.httpsPort), "+https", "x.lan", "A");
    expect(r.code).toBe(0);
    expect(answerLines(r.stdout)).toEqual(["x.lan. 300 IN A 10.1.1.1"]);
  });

  const query = makeQuery("x.lan", "A", { id: 0 });
  test.skipIf(noCurl).each([
    ["--http2", "POST", "2"],
    ["--http2", "GET", "2"],
    ["--http1.1", "POST", "1.1"],
    ["--http1.1", "GET", "1.1"],
  ])("curl %s %s to /dns-query: 200, application/dns-message, the answer", async (version, method, expected) => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-curl-"));
    writeFileSync(join(dir, "q.bin"), query);
    const url = `https://127.0.0.1:${b.httpsPort}/dns-query`;
    const args =
      method === "POST"
        ? ["-H", "content-type: application/dns-message", "--data-binary", `@${dir}/q.bin`, url]
        : [`${url}?dns=${Buffer.from(query).toString("base64url")}`];
    const r = await curl(version, "-D", `${dir}/h.txt`, "-o", `${dir}/a.bin`, "-w", "%{http_version} %{http_code} %{content_type}", ...args);
    expect(r.stdout).toBe(`${expected} 200 application/dns-message`);
    expect(readFileSync(join(dir, "h.txt"), "utf8").toLowerCase()).toContain("cache-control: max-age=300");
    const m = decode(readFileSync(join(dir, "a.bin")));
    expect(m.id).toBe(0);
    expect(m.answers.map((a) => `${a.name} ${a.ttl} ${a.data}`)).toEqual(["x.lan 300 10.1.1.1"]);
  });

  test.skipIf(noCurl)("curl --doh-url resolves a name through bunbound and fetches from it", async () => {
    let host = "";
    const web = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => ((host = req.headers.get("host") ?? ""), new Response("hello from web.lan\n")) });
    try {
      const r = await curl("--doh-url", `https://127.0.0.1:${b.httpsPort}/dns-query`, "--doh-insecure", `http://web.lan:${web.port}/`);
      expect(r.stdout).toBe("hello from web.lan\n");
      expect(host).toBe(`web.lan:${web.port}`);
      const log = (await b.api("/api/querylog?limit=20")).body.queries as Array<{ qname: string; transport: string }>;
      expect(log.filter((q) => q.qname === "web.lan." && q.transport === "https").length).toBeGreaterThanOrEqual(1);
    } finally {
      web.stop(true);
    }
  });

  test.skipIf(noCurl)("curl's DoH requests use HTTP/2 even with --http1.1, which applies to the page it fetches", async () => {
    const web = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
    try {
      const r = await curl("-v", "--http1.1", "--doh-url", `https://127.0.0.1:${b.httpsPort}/dns-query`, "--doh-insecure", `http://web.lan:${web.port}/`);
      expect(r.stdout).toBe("ok");
      expect(r.stderr).toContain("> POST /dns-query HTTP/2");
      expect(r.stderr).not.toContain("> POST /dns-query HTTP/1.1");
      expect(r.stderr).toContain("> GET / HTTP/1.1");
    } finally {
      web.stop(true);
    }
  });

  test.each(["GET", "POST"] as const)("a %s query with ID 0 is answered with ID 0 (RFC 8484 4.1)", async (method) => {
    const s = await DohSession.open(b.httpsPort);
    const r = await s.ask(makeQuery("x.lan", "A", { id: 0 }), method);
    s.close();
    expect(r.status).toBe(200);
    expect(decode(r.body).id).toBe(0);
    expect(decode(r.body).answers.length).toBe(1);
  });

  test("cache-control max-age is the smallest TTL of the answer (a 600 s CNAME to a 300 s A: 300)", async () => {
    const s = await DohSession.open(b.httpsPort);
    const r = await s.ask(makeQuery("alias.lan", "A", { id: 0 }));
    s.close();
    const m = decode(r.body);
    expect(m.answers.map((a) => [a.type, a.ttl])).toEqual([["CNAME", 600], ["A", 300]]);
    expect(r.headers["cache-control"]).toBe("max-age=300");
  });

  test("for NXDOMAIN, max-age is the negative TTL: min(SOA TTL, SOA MINIMUM) (RFC 2308 5)", async () => {
    const s = await DohSession.open(b.httpsPort);
    const r = await s.ask(makeQuery("nope.neg.lan", "A", { id: 0 }));
    s.close();
    const m = decode(r.body);
    expect(m.rcode).toBe("NXDOMAIN");
    const soa = m.authorities.find((a) => a.type === "SOA")!;
    expect(r.headers["cache-control"]).toBe(`max-age=${Math.min(soa.ttl, soa.data.minimum)}`);
    expect(r.headers["cache-control"]).toBe("max-age=60");
  });

  test("answers over DoH to EDNS queries are padded to a multiple of 468 bytes", async () => {
    const s = await DohSession.open(b.httpsPort);
    const r = await s.ask(makeQuery("x.lan", "A", { id: 0, edns: 1232 }));
    s.close();
    expect(r.body.length % 468).toBe(0);
    const opt = decode(r.body).additionals.find((a) => a.type === "OPT")!;
    expect((opt.options as Array<{ code: number }>).map((o) => o.code)).toContain(12);
  });
});

describe("DoH requests that are not DNS queries get a 4xx with the reason, and UDP keeps answering", () => {
  const url = () => `https://127.0.0.1:${String(b.httpsPort)}`;
  const big = Buffer.alloc(70 * 1024, 7);
  /** [case, curl arguments (@BIG: a 70 KB file), status, reason in the body, a header it must have] */
  const bad: Array<{ name: string; args: () => string[]; status: number; reason: RegExp; header?: string }> = [
    { name: "PUT", args: () => ["-X", "PUT", "--data-binary", "x", `${url()}/dns-query`], status: 405, reason: /takes GET and POST/, header: "allow: GET, POST" },
    { name: "POST with content-type text/plain", args: () => ["-H", "content-type: text/plain", "--data-binary", "x", `${url()}/dns-query`], status: 415, reason: /content-type application\/dns-message/ },
    { name: "POST without a body", args: () => ["-X", "POST", "-H", "content-type: application/dns-message", `${url()}/dns-query`], status: 400, reason: /not a DNS message/ },
    { name: "GET without dns=", args: () => [`${url()}/dns-query`], status: 400, reason: /dns parameter/ },
    { name: "GET with dns= in base64 with + / and padding", args: () => [`${url()}/dns-query?dns=AAABAAAB%2B%2F%3D%3D`], status: 400, reason: /not base64url/ },
    { name: "GET with dns= of 6 bytes", args: () => [`${url()}/dns-query?dns=AAAAAAAA`], status: 400, reason: /not a DNS message/ },
    { name: "GET at another path", args: () => [`${url()}/resolve?dns=AAAAAAAA`], status: 404, reason: /\/dns-query/ },
    { name: "POST of 70 KB (HTTP/2)", args: () => ["--http2", "-H", "content-type: application/dns-message", "--data-binary", "@BIG", `${url()}/dns-query`], status: 413, reason: /at most 65535 bytes/ },
    { name: "POST of 70 KB without content-length (HTTP/2, streamed)", args: () => ["--http2", "-H", "content-type: application/dns-message", "-H", "transfer-encoding: chunked", "--data-binary", "@BIG", `${url()}/dns-query`], status: 413, reason: /at most 65535 bytes/ },
    { name: "POST of 70 KB (HTTP/1.1)", args: () => ["--http1.1", "-H", "content-type: application/dns-message", "--data-binary", "@BIG", `${url()}/dns-query`], status: 413, reason: /at most 65535 bytes/ },
  ];
  test.skipIf(noCurl).each(bad)("$name", async ({ args, status, reason, header }) => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-curl-"));
    writeFileSync(join(dir, "big.bin"), big);
    const r = await curl("-D", `${dir}/h.txt`, "-w", "\n%{http_code}", ...args().map((a) => a.replace("@BIG", `@${dir}/big.bin`)));
    const lines = r.stdout.trimEnd().split("\n");
    expect(Number(lines.at(-1))).toBe(status);
    expect(lines.slice(0, -1).join("\n")).toMatch(reason);
    if (header) expect(readFileSync(join(dir, "h.txt"), "utf8").toLowerCase()).toContain(header.toLowerCase());
    expect(decode((await udpAsk(b.udpPort, makeQuery("x.lan")))!).answers.length).toBe(1);
  });
});

describe("queries over TLS and HTTPS in the metrics, the query log and client tracking", () => {
  const tlsCount = () => b.metric("bunbound_queries_total", { transport: "tls" });
  const httpsCount = () => b.metric("bunbound_queries_total", { transport: "https" });

  test('/metrics counts each DoT query under bunbound_queries_total{transport="tls"}', async () => {
    const before = await tlsCount();
    const c = await TlsClient.open(b.tlsPort);
    for (let i = 0; i < 3; i++) c.ask(makeQuery("x.lan"));
    await c.waitFor(3);
    c.close();
    expect(await tlsCount()).toBe(before + 3);
  });

  test('/metrics counts each DoH query under bunbound_queries_total{transport="https"}', async () => {
    const before = await httpsCount();
    const s = await DohSession.open(b.httpsPort);
    await Promise.all([s.ask(makeQuery("x.lan"), "GET"), s.ask(makeQuery("x.lan"), "POST")]);
    s.close();
    expect(await httpsCount()).toBe(before + 2);
  });

  test("the query log shows each query with its transport: tls and https", async () => {
    const c = await TlsClient.open(b.tlsPort);
    c.ask(makeQuery("qlog-tls.neg.lan"));
    await c.waitFor(1);
    c.close();
    const s = await DohSession.open(b.httpsPort);
    await s.ask(makeQuery("qlog-https.neg.lan"));
    s.close();
    const log = (await b.api("/api/querylog?limit=50")).body.queries as Array<{ qname: string; transport: string; rcode: string }>;
    expect(log.find((q) => q.qname === "qlog-tls.neg.lan.")).toMatchObject({ transport: "tls", rcode: "NXDOMAIN" });
    expect(log.find((q) => q.qname === "qlog-https.neg.lan.")).toMatchObject({ transport: "https", rcode: "NXDOMAIN" });
  });

  test.skipIf(noDig)("client tracking records a client's DoH queries: last_transport https, and https among its transports", async () => {
    const r = await dig("-b", "127.0.0.9", "-p", String(b.httpsPort), "+https", "x.lan", "A", "+short");
    expect(r.stdout.trim()).toBe("10.1.1.1");
    const c = await until(() => b.api("/api/clients/127.0.0.9"), (x) => x.status === 200 && x.body.queries >= 1);
    expect(c.body).toMatchObject({ last_transport: "https", transports: ["https"] });
  });
});

describe("listeners", () => {
  // SO_REUSEPORT lets a new listener take over a port for a certificate swap; it must not let a second server share
  // the port unnoticed (the kernel would then split the connections between two servers and two certificates).
  test.each(["DoT", "DoH"] as const)("a second bunbound asking for the %s port already in use fails to start", async (which) => {
    const flag = which === "DoT" ? "--listen-tls" : "--listen-https";
    const port = which === "DoT" ? b.tlsPort : b.httpsPort;
    const dir = mkdtempSync(join(tmpdir(), "bunbound-dup-"));
    const second = startBunbound(["--listen", "127.0.0.1:0", flag, `127.0.0.1:${port}`, "--http", "off", "--upstream", upstream.address, "--data-dir", `${dir}/data`]);
    const outcome = await second.then(
      async (s) => (await s.stop("SIGKILL"), "started"),
      (e: Error) => e.message,
    );
    expect(outcome).toMatch(/exited \(1\) before "bunbound started"/);
  });
});
