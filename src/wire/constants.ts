// Numeric vocabulary of the DNS wire format. `const enum` so the hot path compiles to plain numbers.
export const enum Rcode {
  NOERROR = 0,
  FORMERR = 1,
  SERVFAIL = 2,
  NXDOMAIN = 3,
  NOTIMP = 4,
  REFUSED = 5,
  BADVERS = 16, // extended rcode: needs OPT (RFC 6891)
}

export const enum QType {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  MX = 15,
  TXT = 16,
  AAAA = 28,
  SRV = 33,
  OPT = 41,
  DS = 43,
  RRSIG = 46,
  DNSKEY = 48,
  CAA = 257,
  IXFR = 251,
  AXFR = 252,
  ANY = 255,
}

export const enum QClass {
  IN = 1,
  CH = 3,
  ANY = 255,
}

/** Header flag bits in the 16-bit flags word. */
export const enum Flag {
  QR = 0x8000,
  AA = 0x0400,
  TC = 0x0200,
  RD = 0x0100,
  RA = 0x0080,
  AD = 0x0020,
  CD = 0x0010,
}

export const HEADER_LEN = 12;
/** Classic DNS UDP limit, and the floor for any advertised EDNS size. */
export const MIN_UDP = 512;
/** What we advertise and the most we send over UDP (DNS Flag Day 2020). */
export const EDNS_UDP = 1232;
export const MAX_NAME = 255;
export const MAX_LABEL = 63;
