// Prometheus text exposition format 0.0.4: HELP/TYPE lines, escaped label values, histograms with le buckets.
type Labels = Record<string, string | number>;
/** One unlabelled value, or (labels, value) pairs. */
type Samples = Array<[Labels | undefined, number]> | number;

function esc(v: string | number): string {
  return String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labels(l: Labels | undefined): string {
  if (!l) return "";
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN";
}

export class Exposition {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  private head(name: string, type: string, help: string): void {
    if (this.seen.has(name)) throw new Error(`metric ${name} written twice`);
    this.seen.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
  }

  counter(name: string, help: string, samples: Samples): this {
    return this.simple(name, "counter", help, samples);
  }

  gauge(name: string, help: string, samples: Samples): this {
    return this.simple(name, "gauge", help, samples);
  }

  private simple(name: string, type: string, help: string, samples: Samples): this {
    this.head(name, type, help);
    for (const [l, v] of typeof samples === "number" ? [[undefined, samples] as const] : samples) this.lines.push(`${name}${labels(l)} ${num(v)}`);
    return this;
  }

  /** `counts[i]` is the number of observations in bucket i (not cumulative); the last one is +Inf. */
  histogram(name: string, help: string, bounds: number[], counts: ArrayLike<number>, sum: number, l?: Labels): this {
    this.head(name, "histogram", help);
    let cum = 0;
    bounds.forEach((b, i) => {
      cum += counts[i] ?? 0;
      this.lines.push(`${name}_bucket${labels({ ...l, le: b })} ${cum}`);
    });
    cum += counts[bounds.length] ?? 0;
    this.lines.push(`${name}_bucket${labels({ ...l, le: "+Inf" })} ${cum}`, `${name}_sum${labels(l)} ${num(sum)}`, `${name}_count${labels(l)} ${cum}`);
    return this;
  }

  text(): string {
    return this.lines.join("\n") + "\n";
  }
}
