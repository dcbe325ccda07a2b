import { describe, expect, test } from "bun:test";
import { Exposition } from "../../src/metrics/prometheus";
import { parsePrometheus } from "../helpers/prometheus";

describe("Prometheus exposition", () => {
  test("counters, gauges and histograms come out in the text format and parse back", () => {
    const text = new Exposition()
      .counter("x_total", "A counter.", [[{ a: 'quote " and \\ and\nnewline' }, 3]])
      .gauge("y", "A gauge.", 1.5)
      .histogram("z_seconds", "A histogram.", [0.1, 1], [2, 3, 1], 4.2)
      .text();
    const { types, samples } = parsePrometheus(text);
    expect(types.get("z_seconds")).toBe("histogram");
    expect(samples.find((s) => s.name === "x_total")!.labels.a).toBe('quote " and \\ and\nnewline');
    const buckets = samples.filter((s) => s.name === "z_seconds_bucket").map((s) => s.value);
    expect(buckets).toEqual([2, 5, 6]); // cumulative, +Inf last
    expect(samples.find((s) => s.name === "z_seconds_count")!.value).toBe(6);
  });
  test("writing a metric twice is a bug caught at once", () => {
    expect(() => new Exposition().gauge("a", "x", 1).gauge("a", "x", 2)).toThrow("twice");
  });
});
