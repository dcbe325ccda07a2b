import { describe, expect, test } from "bun:test";
import { Validator } from "../../src/validator/validate";
import { loadAnchors } from "../../src/validator/anchors";
import { toWire } from "../../src/wire/name";

describe("the validator's zone keys", () => {
  test("a key lookup that got no answer (a timeout) is not kept: the next question asks again", async () => {
    const anchors = loadAnchors();
    const v = new Validator(() => anchors, () => []);
    const asked: string[] = [];
    const fetch = async (name: Uint8Array, type: number) => {
      asked.push(`${name.length}/${type}`);
      return null;
    };
    const first = await v.keysFor(toWire("example"), fetch);
    expect(first.verdict).toMatchObject({ state: "bogus", ede: 5 });
    await v.keysFor(toWire("example"), fetch);
    expect(asked.length).toBe(2);
    const root = await v.keysFor(new Uint8Array([0]), fetch);
    expect(root.verdict).toMatchObject({ state: "bogus", ede: 5 });
  });

  test("below a negative trust anchor, or with no anchor above: insecure without asking", async () => {
    const anchors = loadAnchors();
    let asked = 0;
    const fetch = async () => (asked++, null);
    const nta = new Validator(() => anchors, () => [toWire("broken.example")]);
    expect((await nta.keysFor(toWire("a.broken.example"), fetch)).verdict.state).toBe("insecure");
    const none = new Validator(() => [{ zone: toWire("corp.example"), ds: [] }], () => []);
    expect((await none.keysFor(toWire("other.example"), fetch)).verdict.state).toBe("insecure");
    expect(asked).toBe(0);
  });
});
