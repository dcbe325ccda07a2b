// The layering of src/, checked against the allowed edges written in docs/architecture.md (the fenced `edges`
// block): every import between folders (and the top-level files) must be an edge listed there. A failure
// names the edge and the files that make it.
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const SRC = join(ROOT, "src");

/** "server" for src/server/udp.ts, "app" for src/app.ts; with `deep`, "pipeline/handler" for src/pipeline/handler.ts. */
function unitOf(path: string, deep = false): string {
  const r = relative(SRC, path).replace(/\.ts$/, "");
  const parts = r.split("/");
  return parts.length === 1 ? parts[0]! : deep ? `${parts[0]}/${parts.slice(1).join("/")}` : parts[0]!;
}

/** The allowed edges: `from -> to, to/file, …` lines of docs/architecture.md's ```edges block; `*` is anything. */
function allowedEdges(): Map<string, string[]> {
  const doc = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
  const block = /```edges\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error("docs/architecture.md has no ```edges block");
  const edges = new Map<string, string[]>();
  for (const line of block[1]!.split("\n")) {
    const m = /^\s*([\w./-]+)\s*->\s*(.*?)\s*(#.*)?$/.exec(line);
    if (!m) continue;
    const targets = m[2]!.split(",").map((t) => t.trim()).filter((t) => t && t !== "(nothing)" && t !== "nothing");
    edges.set(m[1]!, targets);
  }
  return edges;
}

/** Every import between units in src/: "from -> to" with the files that make it. */
function actualEdges(): Map<string, { to: string; deep: string; files: string[] }[]> {
  const out = new Map<string, { to: string; deep: string; files: string[] }[]>();
  for (const f of new Glob("**/*.ts").scanSync(SRC)) {
    const file = join(SRC, f);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = resolve(dirname(file), m[1]!);
      if (!target.startsWith(SRC + "/")) continue; // package.json (version.ts)
      const from = unitOf(file);
      const to = unitOf(target);
      if (from === to) continue;
      const list = out.get(from) ?? [];
      const deep = unitOf(target, true);
      const e = list.find((x) => x.deep === deep);
      if (e) e.files.push(f);
      else list.push({ to, deep, files: [f] });
      out.set(from, list);
    }
  }
  return out;
}

describe("layering", () => {
  const allowed = allowedEdges();
  const actual = actualEdges();

  test("every import between folders is an edge docs/architecture.md allows", () => {
    const bad: string[] = [];
    for (const [from, list] of actual) {
      const ok = allowed.get(from);
      for (const e of list) {
        if (ok?.includes("*") || ok?.includes(e.to) || ok?.includes(e.deep)) continue;
        bad.push(`${from} -> ${e.deep} (${e.files.join(", ")})`);
      }
    }
    expect(bad).toEqual([]);
  });

  test("nothing imports app.ts, status.ts, http/ or server/ but app.ts and cli.ts", () => {
    const bad: string[] = [];
    for (const [from, list] of actual) {
      if (from === "app" || from === "cli") continue;
      for (const e of list) if (["app", "status", "http", "server"].includes(e.to) && !(from === "app")) bad.push(`${from} -> ${e.deep} (${e.files.join(", ")})`);
    }
    expect(bad).toEqual([]);
  });

  test("server/ reaches the pipeline only through its handler contract", () => {
    const viaPipeline = (actual.get("server") ?? []).filter((e) => e.to === "pipeline").map((e) => e.deep);
    expect([...new Set(viaPipeline)]).toEqual(["pipeline/handler"]);
  });

  test("every unit of src/ has its edges written down", () => {
    const units = new Set([...new Glob("**/*.ts").scanSync(SRC)].map((f) => unitOf(join(SRC, f))));
    expect([...units].filter((u) => !allowed.has(u)).sort()).toEqual([]);
  });
});
