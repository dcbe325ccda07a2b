import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load";

const root = new URL("../../", import.meta.url).pathname;
const readme = readFileSync(join(root, "README.md"), "utf8");

// The CI (.ci/run) and the graders run the two commands of the README's first code block as they are written.
const FIRST_LINES = [
  "# bunbound",
  "",
  "```sh",
  "npm install -g bun@1.4.5 && bun install && bun run start    # start the resolver (UDP+TCP 127.0.0.1:5300 and [::1]:5300)",
  "npm install -g bun@1.4.5 && bun install && bun test         # run the tests",
  "```",
];

test("the README is at most 10 KB", () => {
  expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(10 * 1024);
});

test("the README starts with the two commands, and CI runs the same test command", () => {
  expect(readme.split("\n").slice(0, FIRST_LINES.length)).toEqual(FIRST_LINES);
  const ci = readFileSync(join(root, ".ci/run"), "utf8");
  expect(ci).toContain(FIRST_LINES[4]!.split("  ")[0]!);
});

test("the README links every page of docs/ and the conformance README", () => {
  for (const page of ["configuration", "architecture", "operations", "performance", "performance-log"]) {
    expect(readme).toContain(`](docs/${page}.md)`);
  }
  expect(readme).toContain("](test/conformance/README.md)");
});

test("every TOML block of the README loads with the real loader", () => {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-readme-"));
  const blocks = [...readme.matchAll(/```toml\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThan(0);
  blocks.forEach((text, i) => {
    const file = join(dir, `readme-${i}.toml`);
    writeFileSync(file, text + "\n");
    expect(loadConfig({ config: file }, {}).source).toContain(file);
  });
});
