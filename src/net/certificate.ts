// A self-signed X.509 v3 certificate (RFC 5280) from WebCrypto and a small DER encoder: what the encrypted
// listeners serve when no certificate is configured, so the single binary runs anywhere without openssl. ECDSA
// P-256 with SHA-256 (the key type every DoT/DoH client takes), a serverAuth certificate for the names and
// addresses given, and the SHA-256 SPKI pin clients can check it by (RFC 7858 4.2).
import { isIP } from "node:net";
import { ipv6ToBytes } from "./address";

const concat = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** DER length octets. */
function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

const tlv = (tag: number, ...content: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const v = concat(...content);
  return concat(Uint8Array.of(tag), length(v.length), v);
};
const sequence = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);
const octets = (b: Uint8Array) => tlv(0x04, b);
const bits = (b: Uint8Array) => tlv(0x03, Uint8Array.of(0), b);
const boolean = (v: boolean) => tlv(0x01, Uint8Array.of(v ? 0xff : 0));
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));

function oid(dotted: string): Uint8Array {
  const p = dotted.split(".").map(Number);
  const out = [40 * p[0]! + p[1]!];
  for (const n of p.slice(2)) {
    const b = [n & 0x7f];
    for (let x = n >> 7; x > 0; x >>= 7) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** A positive INTEGER from big-endian bytes (leading zeros dropped, a zero added when the top bit is set). */
function integer(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? concat(Uint8Array.of(0), v) : v);
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Uint8Array {
  const z = (n: number, w = 2) => String(n).padStart(w, "0");
  const rest = `${z(d.getUTCMonth() + 1)}${z(d.getUTCDate())}${z(d.getUTCHours())}${z(d.getUTCMinutes())}${z(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  return y < 2050 ? tlv(0x17, new TextEncoder().encode(z(y % 100) + rest)) : tlv(0x18, new TextEncoder().encode(z(y, 4) + rest));
}

const commonName = (cn: string) => sequence(set(sequence(oid("2.5.4.3"), utf8(cn))));

/** WebCrypto's ECDSA signature is r‖s (IEEE P1363); X.509 wants SEQUENCE { r INTEGER, s INTEGER }. */
const ecdsaDer = (raw: Uint8Array) => sequence(integer(raw.subarray(0, 32)), integer(raw.subarray(32)));

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The base64 SHA-256 of a SubjectPublicKeyInfo: the pin of RFC 7858 4.2 (and kdig's +tls-pin). */
export async function spkiPin(spki: Uint8Array<ArrayBuffer>): Promise<string> {
  return Buffer.from(await crypto.subtle.digest("SHA-256", spki)).toString("base64");
}

export interface SelfSigned {
  certPem: string;
  keyPem: string;
  /** SHA-256 SPKI pin, base64. */
  pin: string;
  notAfter: Date;
}

/**
 * A new key pair and a self-signed certificate for `names` (DNS names) and `addresses` (IP literals), valid from an
 * hour ago for `days`.
 */
export async function selfSigned(o: { names: string[]; addresses: string[]; days: number }): Promise<SelfSigned> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const algorithm = sequence(oid("1.2.840.10045.4.3.2")); // ecdsa-with-SHA256
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f;
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + o.days * 86_400_000);
  const keyId = new Uint8Array(await crypto.subtle.digest("SHA-1", spki));
  const altNames = sequence(
    ...o.names.map((n) => tlv(0x82, new TextEncoder().encode(n))),
    ...o.addresses.map((a) => tlv(0x87, isIP(a) === 4 ? Uint8Array.from(a.split(".").map(Number)) : Uint8Array.from(ipv6ToBytes(a)))),
  );
  const extensions = tlv(
    0xa3,
    sequence(
      sequence(oid("2.5.29.19"), boolean(true), octets(sequence())), // basicConstraints, critical: not a CA
      sequence(oid("2.5.29.15"), boolean(true), octets(tlv(0x03, Uint8Array.of(7, 0x80)))), // keyUsage: digitalSignature
      sequence(oid("2.5.29.37"), octets(sequence(oid("1.3.6.1.5.5.7.3.1")))), // extKeyUsage: serverAuth
      sequence(oid("2.5.29.14"), octets(octets(keyId))), // subjectKeyIdentifier
      sequence(oid("2.5.29.17"), octets(altNames)), // subjectAltName
    ),
  );
  const cn = o.names[0] ?? o.addresses[0] ?? "bunbound";
  const tbs = sequence(tlv(0xa0, integer(Uint8Array.of(2))), integer(serial), algorithm, commonName(cn), sequence(time(notBefore), time(notAfter)), commonName(cn), spki, extensions);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, tbs));
  const cert = sequence(tbs, algorithm, bits(ecdsaDer(signature)));
  return { certPem: pem("CERTIFICATE", cert), keyPem: pem("PRIVATE KEY", pkcs8), pin: await spkiPin(spki), notAfter };
}
