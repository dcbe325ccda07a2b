// The HTTP listener (Bun.serve). For now: GET /healthz. Unknown paths and methods get a JSON 4xx reason.
import type { Server } from "bun";

export interface HttpDeps {
  health: () => Record<string, unknown>;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export function routeRequest(req: Request, deps: HttpDeps): Response {
  const url = new URL(req.url);
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
