// HostsWatch: the hosts files' mtimes are checked by a task of its own; a change calls back once.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostsWatch } from "../../src/zones/hosts";
import { TaskManager } from "../../src/lifecycle/tasks";

function files() {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-hosts-"));
  const a = join(dir, "hosts");
  writeFileSync(a, "10.0.0.1 a.lan\n");
  return { dir, a };
}

describe("HostsWatch", () => {
  test("an unchanged file is no change; a new mtime calls back once", () => {
    const { a } = files();
    let changes = 0;
    const w = new HostsWatch(() => [a], () => changes++);
    w.check();
    expect(changes).toBe(0);
    utimesSync(a, new Date(), new Date(Date.now() + 5000));
    w.check();
    w.check();
    expect(changes).toBe(1);
  });
  test("a file that disappears, and one added to the list, are changes", () => {
    const { dir, a } = files();
    let list = [a];
    let changes = 0;
    const w = new HostsWatch(() => list, () => changes++);
    const b = join(dir, "more");
    writeFileSync(b, "10.0.0.2 b.lan\n");
    list = [a, b];
    w.check();
    expect(changes).toBe(1);
    list = [a, join(dir, "gone")];
    w.check();
    expect(changes).toBe(2);
  });
  test("start registers the check as a task that stops with the manager", async () => {
    const { a } = files();
    let changes = 0;
    const w = new HostsWatch(() => [a], () => changes++);
    const tasks = new TaskManager();
    w.start(tasks, 20);
    expect(tasks.list().map((t) => t.name)).toContain("hosts-file-watch");
    utimesSync(a, new Date(), new Date(Date.now() + 5000));
    await Bun.sleep(80);
    expect(changes).toBe(1);
    await tasks.stopAll(500);
    expect(tasks.byCategory()).toEqual({});
  });
  test("an interval of 0 registers nothing", () => {
    const tasks = new TaskManager();
    new HostsWatch(() => [], () => {}).start(tasks, 0);
    expect(tasks.list()).toEqual([]);
  });
});
