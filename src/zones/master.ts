// RFC 1035 section 5 master files: $ORIGIN, $TTL, $INCLUDE (relative to the including file), relative and
// absolute names, omitted owner/TTL/class, parentheses across lines, comments, quoted strings with escapes,
// RFC 3597 unknown types. Every error is "file:line: problem".
// The file is read as latin1, so each char of the text is one byte of the file: escapes and non-ASCII bytes
// reach the RDATA exactly as written, whatever the file's encoding.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { nameToWire, parseTime, rdataToWire, typeCode, unescapeBytes } from "./rdata";

export interface ZoneRecord {
  owner: Uint8Array; // lowercased wire name
  type: number;
  ttl: number;
  rdata: Uint8Array;
  /** "file:line", for messages. */
  where: string;
}

export class ZoneFileError extends Error {}

interface Token {
  /** As written, escapes intact: only the field's type knows whether it is a name or a character-string. */
  text: string;
  quoted: boolean;
}

const DELIMITERS = " \t;()\"";

/** Logical records of a file: tokens per record (parentheses joined), with the line each started on. */
function* logicalLines(text: string, file: string): Generator<{ tokens: Token[]; line: number; indented: boolean }> {
  const lines = text.split(/\r?\n/);
  let tokens: Token[] = [];
  let depth = 0;
  let start = 0;
  let indented = false;
  for (let n = 0; n < lines.length; n++) {
    const src = lines[n]!;
    if (depth === 0) {
      start = n + 1;
      indented = /^[ \t]/.test(src);
      tokens = [];
    }
    let i = 0;
    while (i < src.length) {
      const c = src[i]!;
      if (c === " " || c === "\t") {
        i++;
      } else if (c === ";") {
        break;
      } else if (c === "(") {
        depth++;
        i++;
      } else if (c === ")") {
        if (depth === 0) throw new ZoneFileError(`${file}:${n + 1}: ")" without "("`);
        depth--;
        i++;
      } else if (c === '"') {
        const from = ++i;
        while (i < src.length && src[i] !== '"') i += src[i] === "\\" ? 2 : 1;
        if (i >= src.length) throw new ZoneFileError(`${file}:${n + 1}: unterminated quoted string`);
        tokens.push({ text: src.slice(from, i++), quoted: true });
      } else {
        const from = i;
        while (i < src.length && !DELIMITERS.includes(src[i]!)) i += src[i] === "\\" ? 2 : 1;
        tokens.push({ text: src.slice(from, i), quoted: false });
      }
    }
    if (depth === 0 && tokens.length > 0) yield { tokens, line: start, indented };
  }
  if (depth > 0) throw new ZoneFileError(`${file}:${start}: "(" not closed by the end of the file`);
}

export interface State {
  origin: Uint8Array;
  ttl: number | undefined;
  lastTtl: number | undefined;
  owner: Uint8Array | undefined;
  depth: number;
}

const CLASSES = new Set(["IN", "CS", "CH", "HS"]);

/** Parses the master file at `path` for zone `origin` (wire). */
export function parseMasterFile(path: string, origin: Uint8Array, out: ZoneRecord[] = [], st?: State): ZoneRecord[] {
  const state: State = st ?? { origin, ttl: undefined, lastTtl: undefined, owner: undefined, depth: 0 };
  let text: string;
  try {
    text = readFileSync(path).toString("latin1");
  } catch (e) {
    throw new ZoneFileError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseMasterText(text, path, origin, out, state);
}

/** Parses master-file text (each char one byte, as read by parseMasterFile); `path` names it in messages. */
export function parseMasterText(text: string, path: string, origin: Uint8Array, out: ZoneRecord[] = [], st?: State): ZoneRecord[] {
  const state: State = st ?? { origin, ttl: undefined, lastTtl: undefined, owner: undefined, depth: 0 };
  for (const { tokens, line, indented } of logicalLines(text, path)) {
    const where = `${path}:${line}`;
    try {
      parseRecordLine(tokens, indented, state, out, where, path);
    } catch (e) {
      if (e instanceof ZoneFileError) throw e;
      throw new ZoneFileError(`${where}: ${asText((e as Error).message)}`);
    }
  }
  return out;
}

/** A message quoting byte strings from the file, shown as the UTF-8 text they most likely were. */
function asText(message: string): string {
  return Buffer.from(message, "latin1").toString("utf8");
}

function parseRecordLine(tokens: Token[], indented: boolean, state: State, out: ZoneRecord[], where: string, path: string): void {
  const first = tokens[0]!;
  if (!first.quoted && first.text.startsWith("$")) {
    const d = first.text.toUpperCase();
    if (d === "$ORIGIN") {
      if (!tokens[1]) throw new Error("$ORIGIN needs a name");
      state.origin = nameToWire(tokens[1].text, state.origin);
    } else if (d === "$TTL") {
      state.ttl = parseTime(tokens[1]?.text, "$TTL");
    } else if (d === "$INCLUDE") {
      if (!tokens[1]) throw new Error("$INCLUDE needs a file name");
      if (state.depth >= 8) throw new Error("$INCLUDE nested more than 8 deep");
      const file = resolve(dirname(path), Buffer.from(unescapeBytes(tokens[1].text)).toString("utf8"));
      const inner: State = { ...state, origin: tokens[2] ? nameToWire(tokens[2].text, state.origin) : state.origin, depth: state.depth + 1 };
      parseMasterFile(file, inner.origin, out, inner);
      state.lastTtl = inner.lastTtl; // RFC 1035: origin and owner return to the includer's; TTLs carry on
    } else throw new Error(`unknown directive ${first.text}`);
    return;
  }
  let i = 0;
  if (!indented) {
    state.owner = nameToWire(tokens[0]!.text, state.origin);
    i = 1;
  } else if (!state.owner) throw new Error("record without an owner name and no previous owner");
  let ttl: number | undefined;
  // TTL and class come in either order, both optional (RFC 1035 5.1).
  for (let k = 0; k < 2 && i < tokens.length; k++) {
    const t = tokens[i]!.text;
    if (ttl === undefined && /^\d/.test(t)) {
      ttl = parseTime(t, "TTL");
      i++;
    } else if (CLASSES.has(t.toUpperCase()) || /^CLASS\d+$/i.test(t)) {
      if (t.toUpperCase() !== "IN" && t.toUpperCase() !== "CLASS1") throw new Error(`class ${t} is not supported (only IN)`);
      i++;
    }
  }
  const typeTok = tokens[i++];
  if (!typeTok) throw new Error("missing type");
  const type = typeCode(typeTok.text);
  if (type === undefined) throw new Error(`unknown type "${typeTok.text}"`);
  const rest = tokens.slice(i);
  const rdata = rdataToWire(type, rest.map((t) => t.text), rest.map((t) => t.quoted), state.origin);
  if (ttl === undefined) ttl = state.ttl ?? state.lastTtl;
  if (ttl === undefined) {
    if (type !== 6) throw new Error("no TTL: give one on the record or with $TTL");
    ttl = new DataView(rdata.buffer, rdata.byteOffset + rdata.length - 4).getUint32(0); // SOA minimum
  }
  state.lastTtl = ttl;
  out.push({ owner: state.owner!, type, ttl, rdata, where });
}
