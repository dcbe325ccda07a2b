// The HTTP listener (Bun.serve). For now: GET /healthz. Unknown paths and methods get a JSON 4xx reason.
import type { Server } from "bun";
import { isIP } from "node:net";

import type { StoreOp } from "../clients/store-protocol";

export interface HttpDeps {
  /** A client-store request, or null when tracking is off or the store is not up. */
  clients?: (op: StoreOp) => Promise<unknown> | null;
  metrics?: Record<string, () => unknown>;
  health: () => Record<string, unknown>;
  zones?: () => unknown[];
  /** null when no such zone is configured. */
  reloadZone?: (name: string) => Promise<{ ok: true; serial: number; records: number; ms: number } | { ok: false; error: string }> | null;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export async function routeRequest(req: Request, deps: HttpDeps): Promise<Response> {
  const url = new URL(req.url);
  const metric = /^\/api\/metrics\/([a-z]+)$/.exec(url.pathname);
  if (metric && deps.metrics?.[metric[1]!]) {
    if (req.method !== "GET") return json(405, { error: "use GET" });
    return json(200, deps.metrics[metric[1]!]!() ?? { enabled: false });
  }
  if (url.pathname === "/api/clients" || url.pathname.startsWith("/api/clients/")) return clientsRoute(req, url, deps);
  if (url.pathname === "/api/zones") {
    if (req.method !== "GET") return json(405, { error: `method ${req.method} not allowed on /api/zones; use GET` });
    return json(200, { zones: deps.zones?.() ?? [] });
  }
  const reload = /^\/api\/zones\/([^/]+)\/reload$/.exec(url.pathname);
  if (reload) {
    if (req.method !== "POST") return json(405, { error: `use POST to reload a zone` });
    const name = decodeURIComponent(reload[1]!);
    const pending = deps.reloadZone?.(name) ?? null;
    if (!pending) return json(404, { error: `no zone "${name}" is configured` });
    const r = await pending;
    return r.ok ? json(200, { zone: name, ...r }) : json(422, { zone: name, error: r.error });
  }
  if (url.pathname === "/healthz") {
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: `method ${req.method} not allowed on /healthz; use GET` });
    return json(200, deps.health());
  }
  return json(404, { error: `no such endpoint: ${url.pathname}` });
}

export function startHttp(host: string, port: number, deps: HttpDeps): Server<undefined> {
  return Bun.serve({
    hostname: host,
    port,
    idleTimeout: 30,
    fetch: (req) => routeRequest(req, deps),
    error: (err) => json(500, { error: err.message }),
  });
}

const SORTS = ["last_seen", "queries", "first_seen", "ip"];

async function clientsRoute(req: Request, url: URL, deps: HttpDeps): Promise<Response> {
  if (req.method !== "GET") return json(405, { error: "use GET" });
  let op: StoreOp;
  if (url.pathname === "/api/clients") {
    const page = Number(url.searchParams.get("page") ?? "1");
    const limit = Number(url.searchParams.get("limit") ?? "50");
    const sort = url.searchParams.get("sort") ?? "last_seen";
    if (!Number.isInteger(page) || page < 1) return json(400, { error: `page must be a whole number ≥ 1, got "${url.searchParams.get("page")}"` });
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return json(400, { error: `limit must be 1..1000, got "${url.searchParams.get("limit")}"` });
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
