import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const pages = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lowercased, punctuation but `-` and `_` dropped, spaces as `-`. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(md: string): Set<string> {
  const out = new Set<string>();
  let inCode = false;
  for (const line of md.split("\n")) {
    if (line.startsWith("```")) inCode = !inCode;
    const m = !inCode && /^#{1,6} (.*)$/.exec(line);
    if (m) out.add(slug(m[1]!));
  }
  return out;
}

/** The markdown links of a page outside code blocks and code spans: [text](target). */
function links(md: string): string[] {
  const prose = md.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

test("every relative link in README.md and docs/*.md points at a file that exists, and at a heading it has", () => {
  const broken: string[] = [];
  for (const page of pages) {
    const md = readFileSync(join(root, page), "utf8");
    for (const link of links(md)) {
      if (/^[a-z]+:/.test(link)) continue; // https:, mailto:
      const [path, fragment] = link.split("#") as [string, string | undefined];
      const target = path === "" ? join(root, page) : join(root, dirname(page), path);
      if (!target.startsWith(root) || !existsSync(target)) {
        broken.push(`${page}: ${link} (no ${relative(root, target)})`);
        continue;
      }
      if (fragment && statSync(target).isFile() && target.endsWith(".md") && !anchors(readFileSync(target, "utf8")).has(fragment)) {
        broken.push(`${page}: ${link} (no heading #${fragment})`);
      }
    }
  }
  expect(broken).toEqual([]);
});

test("the link check sees the links", () => {
  const md = readFileSync(join(root, "README.md"), "utf8");
  expect(links(md).length).toBeGreaterThanOrEqual(6);
  expect(slug("`[[zone]]`")).toBe("zone");
  expect(slug("Side by side with Unbound (2026-12-01, background_nice)")).toBe("side-by-side-with-unbound-2026-12-01-background_nice");
});
