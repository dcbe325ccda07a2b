// One exchange with one upstream, over UDP or TCP. Each exchange owns its socket and its timer and frees
// both on every way out: answer, timeout, abort (the client's deadline), or error (seed 000, seed 001).
import { answersQuestion, wellFormed } from "../wire/message";
import type { UpstreamCounters } from "../metrics/counters";

export interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
  label: string;
}

/** Open upstream sockets and timers right now: must return to 0 when nothing is in flight. */
export const openExchanges = { udp: 0, tcp: 0 };

type Finish = (value: Uint8Array | null) => void;

/**
 * Runs `start(finish)` until finish() is called, the timeout fires or the signal aborts; `cleanup` always
 * runs exactly once. Resolves to the accepted response or null.
 */
function exchange(
  timeoutMs: number,
  signal: AbortSignal,
  counters: UpstreamCounters,
  start: (finish: Finish, fail: () => void) => void,
  cleanup: () => void,
): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish: Finish = (value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      try {
        cleanup();
      } finally {
        resolve(value);
      }
    };
    const onAbort = () => {
      counters.cancelled++;
      finish(null);
    };
    const timer = setTimeout(() => {
      counters.timeouts++;
      finish(null);
    }, Math.max(1, timeoutMs));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    const fail = () => {
      counters.failures++;
      finish(null);
    };
    try {
      start(finish, fail);
    } catch {
      fail();
    }
  });
}

/** Sends `msg` over UDP from a fresh socket on a kernel-chosen ephemeral port (RFC 5452 source-port randomness). */
export function udpExchange(
  up: Upstream,
  msg: Uint8Array,
  id: number,
  question: Uint8Array,
  timeoutMs: number,
  signal: AbortSignal,
  counters: UpstreamCounters,
  exactCase = false,
): Promise<Uint8Array | null> {
  let sock: { close(): void; send(d: Uint8Array): boolean } | null = null;
  let closed = false;
  openExchanges.udp++;
  return exchange(
    timeoutMs,
    signal,
    counters,
    (finish, fail) => {
      Bun.udpSocket({
        hostname: up.family === 6 ? "::" : "0.0.0.0",
        port: 0,
        connect: { hostname: up.host, port: up.port },
        socket: {
          data(_s, data, port, address) {
            // The socket is connected, so the kernel already filters by peer; check again, cheaply, anyway.
            if (port !== up.port || address !== up.host || !answersQuestion(data, data.length, id, question, exactCase) || !wellFormed(data, data.length)) {
              counters.mismatched++;
              return;
            }
            finish(data.slice()); // Bun reuses its receive buffer after this callback: copy
          },
          error() {
            fail();
          },
        },
      }).then(
        (s) => {
          if (closed) return s.close();
          sock = s;
          if (!s.send(msg)) {
            fail();
          }
        },
        () => {
          fail();
        },
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
export function tcpExchange(
  up: Upstream,
  msg: Uint8Array,
  id: number,
  question: Uint8Array,
  timeoutMs: number,
  signal: AbortSignal,
  counters: UpstreamCounters,
  exactCase = false,
): Promise<Uint8Array | null> {
  let sock: { terminate(): void; end(): void } | null = null;
  let closed = false;
  openExchanges.tcp++;
  const framed = new Uint8Array(msg.length + 2);
  framed[0] = msg.length >> 8;
  framed[1] = msg.length & 0xff;
  framed.set(msg, 2);
  let inbuf = new Uint8Array(1024);
  let inlen = 0;
  let unsent = framed;
  return exchange(
    timeoutMs,
    signal,
    counters,
    (finish, fail) => {
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
            if (inlen + chunk.length > inbuf.length) {
              if (inlen + chunk.length > 65537) {
                return fail();
              }
              const grown = new Uint8Array(Math.min(65537, Math.max(inbuf.length * 2, inlen + chunk.length)));
              grown.set(inbuf.subarray(0, inlen));
              inbuf = grown;
            }
            inbuf.set(chunk, inlen);
            inlen += chunk.length;
            while (inlen >= 2) {
              const len = (inbuf[0]! << 8) | inbuf[1]!;
              if (inlen < len + 2) return;
              const m = inbuf.subarray(2, 2 + len);
              if (answersQuestion(m, len, id, question, exactCase) && wellFormed(m, len)) return finish(m.slice());
              counters.mismatched++;
              inbuf.copyWithin(0, 2 + len, inlen);
              inlen -= 2 + len;
            }
          },
          close() {
            finish(null);
          },
          error() {
            fail();
          },
          connectError() {
            fail();
          },
        },
      }).then(
        (s) => {
          if (closed) return s.terminate();
          sock = s;
        },
        () => {
          fail();
        },
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
