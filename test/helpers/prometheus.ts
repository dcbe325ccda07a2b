// A strict reader of the Prometheus text format, for tests.
/** A strict reader of the text format: returns samples, and throws on anything malformed. */
export function parsePrometheus(text: string) {
  const types = new Map<string, string>();
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(m[3]!)) throw new Error(`bad type: ${line}`);
        if (types.has(m[2]!)) throw new Error(`TYPE twice for ${m[2]}`);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/.exec(line);
    if (!m) throw new Error(`malformed sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g;
      let consumed = 0;
      for (let l = re.exec(m[3]); l; l = re.exec(m[3])) {
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        consumed += l[0].length;
      }
      if (consumed !== m[3].length) throw new Error(`malformed labels: ${line}`);
    }
    const base = m[1]!.replace(/_(bucket|sum|count)$/, "");
    if (!types.has(m[1]!) && !(types.get(base) === "histogram")) throw new Error(`sample before its TYPE: ${line}`);
    samples.push({ name: m[1]!, labels, value: Number(m[4]!.replace("+Inf", "Infinity")) });
  }
  return { types, samples };
}


/** The value of the sample `name` whose labels include `labels`, or null when there is none. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  const s = parsePrometheus(text).samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : null;
}
