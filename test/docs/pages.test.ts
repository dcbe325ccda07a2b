import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), "utf8");

/** The allowed-dependencies block of docs/architecture.md: source -> targets. */
export function allowedEdges(md = read("docs/architecture.md")): Map<string, string[]> {
  const block = /```edges\n([\s\S]*?)\n```/.exec(md);
  if (!block) throw new Error("docs/architecture.md has no ```edges block");
  const edges = new Map<string, string[]>();
  for (const line of block[1]!.split("\n")) {
    const m = /^(\S+) ->(.*)$/.exec(line);
    if (!m) throw new Error(`not an edge line: "${line}"`);
    edges.set(m[1]!, m[2]!.split(",").map((t) => t.trim()).filter(Boolean));
  }
  return edges;
}

/** A folder or a top-level file of src/, or one file of a folder (`pipeline/handler`). */
const exists = (name: string) =>
  name.endsWith(".ts") ? existsSync(join(root, "src", name)) : existsSync(join(root, "src", name)) || existsSync(join(root, "src", `${name}.ts`));

test("docs/architecture.md's dependency list names only folders and files that exist, each source once", () => {
  const edges = allowedEdges();
  expect(edges.size).toBeGreaterThan(10);
  const names = [...edges.keys(), ...[...edges.values()].flat()];
  expect(names.filter((n) => !exists(n))).toEqual([]);
  for (const [source, targets] of edges) expect([source, targets.includes(source)]).toEqual([source, false]);
});

test("docs/operations.md names every metric /metrics exports", () => {
  const render = read("src/metrics/render.ts");
  const exported = [...new Set(render.match(/"bunbound_[a-z_]+"/g)!.map((s) => s.slice(1, -1)))];
  const page = read("docs/operations.md");
  const missing = exported.filter((m) => !page.includes(`\`${m}\``));
  if (missing.length) throw new Error(`docs/operations.md does not describe: ${missing.join(", ")}`);
  expect(exported.length).toBeGreaterThan(40);
});
