// The HTTP listener (Bun.serve): /metrics, /healthz, /readyz, the JSON API, live updates (SSE) and the
// dashboard, whose files are embedded in the binary. Bad requests get a 4xx with a JSON reason; mutating
// endpoints need the bearer token when one is configured.
import type { Server } from "bun";
import { isIP } from "node:net";
import { timingSafeEqual } from "node:crypto";
import type { StoreOp } from "../clients/store-protocol";
import type { LiveFeed } from "./live";
import html from "./dashboard/index.html" with { type: "text" };
import script from "./dashboard/dashboard.client.js" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };

type ReloadResult = { ok: true; serial: number; records: number; ms: number } | { ok: false; error: string };

export interface HttpDeps {
  health: () => Record<string, unknown>;
  /** Ready to serve: listeners up and at least one upstream or zone usable. */
  ready?: () => { ready: boolean; reasons: string[] };
  metricsText?: () => string;
  zones?: () => unknown[];
  /** null when no such zone is configured. */
  reloadZone?: (name: string) => Promise<ReloadResult> | null;
  /** A client-store request, or null when tracking is off or the store is not up. */
  clients?: (op: StoreOp) => Promise<unknown> | null;
  metrics?: Record<string, () => unknown>;
  querylog?: (limit: number) => unknown[];
  /** Flushes the cache (one name, or all); returns the entries removed. */
  flushCache?: (name: string | null) => number;
  live?: LiveFeed;
  /** A traced resolution (recursive mode): the result, a reason the question is bad, or null when not recursive. */
  resolve?: (name: string, type: string) => Promise<unknown> | null;
  /** Required as "Authorization: Bearer …" on mutating requests when set. */
  token?: string;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

const page = html as unknown as string; // bun-types calls .html imports bundles; `type: "text"` makes a string
const ASSETS: Record<string, [string, string]> = {
  "/": [page, "text/html; charset=utf-8"],
  "/assets/app.js": [script, "text/javascript; charset=utf-8"],
  "/assets/uplot.js": [uplotJs, "text/javascript; charset=utf-8"],
  "/assets/uplot.css": [uplotCss, "text/css; charset=utf-8"],
};

function authorized(req: Request, token: string | undefined): boolean {
  if (!token) return true;
  const got = Buffer.from(req.headers.get("authorization") ?? "");
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

function intParam(url: URL, name: string, def: number, min: number, max: number): number | string {
  const raw = url.searchParams.get(name);
  if (raw === null) return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) return `${name} must be a whole number ${min}..${max}, got "${raw}"`;
  return n;
}

export async function routeRequest(req: Request, deps: HttpDeps): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  const asset = ASSETS[path];
  if (asset) {
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "use GET" });
    return new Response(asset[0], { headers: { "content-type": asset[1], "cache-control": "no-cache" } });
  }
  if (req.method === "POST" && !authorized(req, deps.token)) return json(401, { error: "a valid bearer token is required (Authorization: Bearer <http_token>)" });
  const isGet = req.method === "GET" || req.method === "HEAD";
  const getOnly = () => json(405, { error: `method ${req.method} not allowed on ${path}; use GET` });

  switch (path) {
    case "/healthz":
      return isGet ? json(200, deps.health()) : getOnly();
    case "/readyz": {
      if (!isGet) return getOnly();
      const r = deps.ready?.() ?? { ready: true, reasons: [] };
      return json(r.ready ? 200 : 503, r);
    }
    case "/metrics":
      if (!isGet) return getOnly();
      return new Response(deps.metricsText?.() ?? "", { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
    case "/api/events": {
      if (!isGet) return getOnly();
      return deps.live?.subscribe() ?? json(503, { error: "too many live subscribers" });
    }
    case "/api/querylog": {
      if (!isGet) return getOnly();
      const limit = intParam(url, "limit", 100, 1, 10_000);
      if (typeof limit === "string") return json(400, { error: limit });
      return json(200, { queries: deps.querylog?.(limit) ?? [] });
    }
    case "/api/cache/flush": {
      if (req.method !== "POST") return json(405, { error: "use POST to flush the cache" });
      const name = url.searchParams.get("name");
      if (name !== null && !/^[A-Za-z0-9_.*-]+\.?$/.test(name)) return json(400, { error: `"${name}" is not a domain name` });
      return json(200, { flushed: deps.flushCache?.(name) ?? 0, name });
    }
    case "/api/zones":
      return isGet ? json(200, { zones: deps.zones?.() ?? [] }) : getOnly();
    case "/api/resolve": {
      if (!isGet) return getOnly();
      const name = url.searchParams.get("name");
      if (!name) return json(400, { error: "name is required, e.g. /api/resolve?name=example.com&type=A" });
      const pending = deps.resolve?.(name, url.searchParams.get("type") ?? "A") ?? null;
      if (!pending) return json(409, { error: 'resolving from the root needs mode = "recursive"' });
      const r = await pending;
      return typeof r === "string" ? json(400, { error: r }) : json(200, r);
    }
  }
  const metric = /^\/api\/metrics\/([a-z]+)$/.exec(path);
  if (metric) {
    const fn = deps.metrics?.[metric[1]!];
    if (!fn) return json(404, { error: `no metrics group "${metric[1]}" (have: ${Object.keys(deps.metrics ?? {}).join(", ")})` });
    return isGet ? json(200, fn() ?? { enabled: false }) : getOnly();
  }
  if (path === "/api/clients" || path.startsWith("/api/clients/")) return isGet ? clientsRoute(url, deps) : getOnly();
  const reload = /^\/api\/zones\/([^/]+)\/reload$/.exec(path);
  if (reload) {
    if (req.method !== "POST") return json(405, { error: "use POST to reload a zone" });
    const name = decodeURIComponent(reload[1]!);
    const pending = deps.reloadZone?.(name) ?? null;
    if (!pending) return json(404, { error: `no zone "${name}" is configured` });
    const r = await pending;
    return r.ok ? json(200, { zone: name, ...r }) : json(422, { zone: name, error: r.error });
  }
  return json(404, { error: `no such endpoint: ${path}` });
}

const SORTS = ["last_seen", "queries", "first_seen", "ip"];

async function clientsRoute(url: URL, deps: HttpDeps): Promise<Response> {
  let op: StoreOp;
  if (url.pathname === "/api/clients") {
    const page = intParam(url, "page", 1, 1, 1_000_000);
    const limit = intParam(url, "limit", 50, 1, 1000);
    const sort = url.searchParams.get("sort") ?? "last_seen";
    if (typeof page === "string") return json(400, { error: page });
    if (typeof limit === "string") return json(400, { error: limit });
    if (!SORTS.includes(sort)) return json(400, { error: `sort must be one of ${SORTS.join(", ")}, got "${sort}"` });
    op = { op: "list", offset: (page - 1) * limit, limit, sort };
  } else {
    const ip = decodeURIComponent(url.pathname.slice("/api/clients/".length));
    if (isIP(ip) === 0) return json(400, { error: `"${ip}" is not an IP address` });
    op = { op: "get", ip };
  }
  const pending = deps.clients?.(op) ?? null;
  if (!pending) return json(503, { error: "client tracking is off or the client store is not ready" });
  try {
    const result = await pending;
    if (op.op === "get" && result === null) return json(404, { error: `no client ${op.ip}` });
    return json(200, op.op === "list" ? { page: op.offset / op.limit + 1, limit: op.limit, sort: op.sort, ...(result as object) } : result);
  } catch (err) {
    return json(503, { error: `client store: ${(err as Error).message}` });
  }
}

export function startHttp(host: string, port: number, deps: HttpDeps): Server<undefined> {
  return Bun.serve({
    hostname: host,
    port,
    idleTimeout: 60, // SSE streams get a message every second
    fetch: (req) => routeRequest(req, deps),
    error: (err) => json(500, { error: err.message }),
  });
}
