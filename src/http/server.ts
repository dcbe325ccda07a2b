// The HTTP listener (Bun.serve). For now: GET /healthz. Unknown paths and methods get a JSON 4xx reason.
import type { Server } from "bun";

export interface HttpDeps {
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
