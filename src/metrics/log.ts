// Structured logs: one JSON object per line on stderr (time, level, msg, then fields). The level can be
// changed at run time (config reload) and the sink swapped (tests capture lines).
export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

type Sink = (line: string) => void;
let threshold = RANK.info;
let sink: Sink = (line) => process.stderr.write(line + "\n");

export function setLogLevel(level: Level): void {
  threshold = RANK[level];
}

/** Fields put on every line after msg (a serving process of `processes = N` tags its lines with its number). */
let base: Record<string, unknown> | null = null;
export function setLogBase(fields: Record<string, unknown> | null): void {
  base = fields;
}

export function setLogSink(next: Sink): Sink {
  const prev = sink;
  sink = next;
  return prev;
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack?.split("\n").slice(0, 6).join("\n") };
  return value;
}

function emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (RANK[level] < threshold) return;
  const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
  if (base) for (const k in base) rec[k] = base[k];
  if (fields) for (const k in fields) rec[k] = errorFields(fields[k]);
  let line: string;
  try {
    line = JSON.stringify(rec);
  } catch {
    line = JSON.stringify({ time: rec.time, level, msg, note: "fields not serialisable" });
  }
  sink(line);
}

export const log = {
  debug: (msg: string, fields?: Record<string, unknown>) => emit("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => emit("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => emit("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => emit("error", msg, fields),
  enabled: (level: Level) => RANK[level] >= threshold,
};
