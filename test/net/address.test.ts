// Address text ⇄ bytes (net/address.ts).
import { expect, test } from "bun:test";
import { ipv6FromBytes, ipv6ToBytes } from "../../src/net/address";

test("IPv6 text form follows RFC 5952", () => {
  const b = (hex: string) => new Uint8Array(hex.match(/../g)!.map((x) => parseInt(x, 16)));
  expect(ipv6FromBytes(b("00000000000000000000000000000001"), 0)).toBe("::1");
  expect(ipv6FromBytes(b("20010db8000000000001000000000001"), 0)).toBe("2001:db8::1:0:0:1");
  expect(ipv6FromBytes(b("fe800000000000000000000000000000"), 0)).toBe("fe80::");
  expect(ipv6FromBytes(b("00000000000000000000ffffc0000201"), 0)).toBe("::ffff:192.0.2.1");
  expect(ipv6FromBytes(b("20010db8000100020003000400050006"), 0)).toBe("2001:db8:1:2:3:4:5:6");
});

test("IPv6 bytes → text → bytes round-trips", () => {
  for (const text of ["::1", "2001:db8::1:0:0:1", "fe80::", "::ffff:192.0.2.1", "2001:db8:1:2:3:4:5:6", "::"]) {
    expect(ipv6FromBytes(new Uint8Array(ipv6ToBytes(text)), 0)).toBe(text);
  }
});
