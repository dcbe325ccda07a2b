import { expect, test } from "bun:test";
import { configSchema } from "../../src/config/schema";

// The configuration reference in the README is what users copy: it must be a valid config (every key known,
// every table where the schema expects it). Its token is a placeholder ("…"), filled in here.
test("the README's configuration reference parses with the schema", async () => {
  const readme = await Bun.file(new URL("../../README.md", import.meta.url)).text();
  const block = readme.split("## Configuration reference")[1]!.split("```toml\n")[1]!.split("\n```")[0]!;
  expect(block).toContain("[clients]");
  const parsed = configSchema.safeParse(Bun.TOML.parse(block.replace('http_token = "…"', 'http_token = "0123456789abcdef0123"')));
  expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  expect(parsed.data!.background_nice).toBe(10);
  expect(parsed.data!.hosts).toEqual(["/etc/hosts"]);
});
