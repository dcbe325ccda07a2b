// One exchange with one upstream, over UDP or TCP. Each exchange owns its socket and its timer and frees
// both on every way out: answer, timeout, abort (the client's deadline), or error (seed 000, seed 001).
// It reports how it ended as a value; what that means for the upstream's health is the forwarder's call.
// The encrypted transports (link.ts, dot.ts, doh.ts) share connections but end each exchange the same way.
import { answersQuestion, wellFormed } from "../wire/message";
import type { UpstreamAddress } from "../net/address";
import { systemClock, type Clock } from "../lifecycle/clock";
import { frame, FrameReader } from "../wire/framing";

/** An upstream as configured: where it is, how it is asked (udp, tls, https), what its certificate must name. */
export type Upstream = UpstreamAddress;

/** One question as sent: the message, its ID, and the question bytes (qname+type+class) an answer must echo. */
export interface Ask {
  msg: Uint8Array;
  id: number;
  question: Uint8Array;
  /** Compare the echoed qname byte for byte (0x20 randomisation) instead of case-insensitively. */
  exactCase: boolean;
}

/**
 * Why an exchange ended without an answer:
 * - timeout: the attempt's timer fired first (also when only mismatched answers came in meanwhile);
 * - refused: nothing listens there (ICMP port unreachable on UDP, ECONNREFUSED on TCP);
 * - network: any other socket error (bind, send, reset, unreachable network);
 * - closed: the TCP connection was closed before an answer came;
 * - mismatch: over TCP, the upstream itself answered something that is not an answer to our question;
 * - malformed: over TCP, our answer came but its records do not parse;
 * - cancelled: the caller's signal aborted (the client's deadline, shutdown): says nothing about the upstream;
 * - tls: the TLS handshake failed, most often because the certificate does not verify against the trusted CAs or
 *   does not name the upstream (RFC 8310 strict profile); nothing was sent, nor is it ever sent in cleartext;
 * - http: a DoH upstream answered with a status other than 200 or a content type other than
 *   application/dns-message (RFC 8484 4.2.1): it is reachable but not serving DNS at that URL;
 * - busy: our own bound on queries waiting for that upstream's connections was reached: says nothing about it.
 * Over a shared connection, closed also ends the exchanges in flight when it closes, and mismatch and malformed
 * are about the answer that carried our ID.
 */
export type ExchangeFailure = "timeout" | "refused" | "network" | "closed" | "mismatch" | "malformed" | "cancelled" | "tls" | "http" | "busy";

/** How an exchange ended. `mismatched`: datagrams or frames thrown away before that (RFC 5452). */
export type Exchange = { ok: true; resp: Uint8Array; mismatched: number } | { ok: false; failure: ExchangeFailure; mismatched: number };

/** Open upstream sockets and timers right now: must return to 0 when nothing is in flight. */
export const openExchanges = { udp: 0, tcp: 0 };

/** What a transport reports to its exchange: an answer, a failure, or one more message thrown away. */
export interface Ending {
  answer(resp: Uint8Array): void;
  fail(failure: ExchangeFailure): void;
  mismatch(): void;
}

/** A socket error's kind: a refusal by the peer's host, or anything else. */
export function socketFailure(err: unknown): ExchangeFailure {
  return (err as { code?: string } | null)?.code === "ECONNREFUSED" ? "refused" : "network";
}

/**
 * Runs `start(ending)` until it answers or fails, the timeout fires or the signal aborts; `cleanup` always runs
 * exactly once, with the result, and the first ending wins.
 */
export function exchange(timeoutMs: number, signal: AbortSignal, clock: Clock, start: (ending: Ending) => void, cleanup: (result: Exchange) => void): Promise<Exchange> {
  return new Promise((resolve) => {
    let done = false;
    let mismatched = 0;
    const end = (result: Exchange) => {
      if (done) return;
      done = true;
      clock.cancel(timer);
      signal.removeEventListener("abort", onAbort);
      try {
        cleanup(result);
      } finally {
        resolve(result);
      }
    };
    const ending: Ending = {
      answer: (resp) => end({ ok: true, resp, mismatched }),
      fail: (failure) => end({ ok: false, failure, mismatched }),
      mismatch: () => {
        mismatched++;
      },
    };
    const onAbort = () => ending.fail("cancelled");
    const timer = clock.after(Math.max(1, timeoutMs), () => ending.fail("timeout"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      start(ending);
    } catch (err) {
      ending.fail(socketFailure(err));
    }
  });
}

/** Sends the question over UDP from a fresh socket on a kernel-chosen ephemeral port (RFC 5452 source-port randomness). */
export function udpExchange(up: Upstream, ask: Ask, timeoutMs: number, signal: AbortSignal, clock: Clock = systemClock): Promise<Exchange> {
  let sock: { close(): void; send(d: Uint8Array): boolean } | null = null;
  let closed = false;
  openExchanges.udp++;
  return exchange(
    timeoutMs,
    signal,
    clock,
    (ending) => {
      Bun.udpSocket({
        hostname: up.family === 6 ? "::" : "0.0.0.0",
        port: 0,
        connect: { hostname: up.host, port: up.port },
        socket: {
          data(_s, data, port, address) {
            // The socket is connected, so the kernel already filters by peer; check again, cheaply, anyway.
            // A datagram with our ID and question that does not parse may be a forgery too: also thrown away.
            if (port !== up.port || address !== up.host || !answersQuestion(data, data.length, ask.id, ask.question, ask.exactCase) || !wellFormed(data, data.length)) {
              return ending.mismatch();
            }
            ending.answer(data.slice()); // Bun reuses its receive buffer after this callback: copy
          },
          error(err) {
            ending.fail(socketFailure(err));
          },
        },
      }).then(
        (s) => {
          if (closed) return s.close();
          sock = s;
          if (!s.send(ask.msg)) ending.fail("network");
        },
        (err) => ending.fail(socketFailure(err)),
      );
    },
    () => {
      closed = true;
      sock?.close();
      sock = null;
      openExchanges.udp--;
    },
  );
}

/** The same question over TCP (RFC 7766), after a truncated UDP answer. */
export function tcpExchange(up: Upstream, ask: Ask, timeoutMs: number, signal: AbortSignal, clock: Clock = systemClock): Promise<Exchange> {
  let sock: { terminate(): void } | null = null;
  let closed = false;
  openExchanges.tcp++;
  let unsent = frame(ask.msg);
  const frames = new FrameReader(1024);
  return exchange(
    timeoutMs,
    signal,
    clock,
    (ending) => {
      const flush = (s: { write(d: Uint8Array): number }) => {
        const n = s.write(unsent);
        if (n > 0) unsent = unsent.subarray(n);
      };
      Bun.connect({
        hostname: up.host,
        port: up.port,
        socket: {
          open(s) {
            flush(s);
          },
          drain(s) {
            if (unsent.length) flush(s);
          },
          data(_s, chunk) {
            if (!frames.push(chunk)) return ending.fail("malformed"); // more than one whole message's worth
            const m = frames.next();
            if (!m) return;
            // One question per connection: whatever else comes back on it is the upstream's own mistake.
            if (!answersQuestion(m, m.length, ask.id, ask.question, ask.exactCase)) return ending.fail("mismatch");
            if (!wellFormed(m, m.length)) return ending.fail("malformed");
            ending.answer(m.slice());
          },
          close() {
            ending.fail("closed");
          },
          error(_s, err) {
            ending.fail(socketFailure(err));
          },
          connectError(_s, err) {
            ending.fail(socketFailure(err));
          },
        },
      }).then(
        (s) => {
          if (closed) return s.terminate();
          sock = s;
        },
        (err) => ending.fail(socketFailure(err)),
      );
    },
    () => {
      closed = true;
      sock?.terminate();
      sock = null;
      openExchanges.tcp--;
    },
  );
}
