// Whole-message checks for responses we receive from upstreams (the slow path).
import { Flag, HEADER_LEN } from "./constants";
import { lower, skipName } from "./name";

/** True when buf[0..len) is a structurally sound DNS message: every counted record is present and in bounds. */
export function wellFormed(buf: Uint8Array, len: number): boolean {
  if (len < HEADER_LEN) return false;
  const qd = (buf[4]! << 8) | buf[5]!;
  const records = ((buf[6]! << 8) | buf[7]!) + ((buf[8]! << 8) | buf[9]!) + ((buf[10]! << 8) | buf[11]!);
  let off = HEADER_LEN;
  for (let i = 0; i < qd; i++) {
    off = skipName(buf, off, len);
    if (off < 0 || off + 4 > len) return false;
    off += 4;
  }
  for (let i = 0; i < records; i++) {
    off = skipName(buf, off, len);
    if (off < 0 || off + 10 > len) return false;
    off += 10 + ((buf[off + 8]! << 8) | buf[off + 9]!);
    if (off > len) return false;
  }
  return true;
}

/**
 * RFC 5452: a response is ours only if it is a response, carries our ID and exactly our question
 * (name compared case-insensitively, or byte for byte with 0x20 randomisation; type and class exactly).
 * `question` is our qname+type+class bytes.
 */
export function answersQuestion(resp: Uint8Array, len: number, id: number, question: Uint8Array, exactCase = false): boolean {
  if (len < HEADER_LEN + question.length) return false;
  if (((resp[0]! << 8) | resp[1]!) !== id) return false;
  if (!(resp[2]! & (Flag.QR >> 8))) return false;
  if (((resp[4]! << 8) | resp[5]!) !== 1) return false;
  const nameLen = question.length - 4;
  if (exactCase) {
    for (let i = 0; i < nameLen; i++) if (resp[HEADER_LEN + i] !== question[i]) return false;
  } else {
    for (let i = 0; i < nameLen; i++) if (lower(resp[HEADER_LEN + i]!) !== lower(question[i]!)) return false;
  }
  for (let i = nameLen; i < question.length; i++) if (resp[HEADER_LEN + i] !== question[i]) return false;
  return true;
}

export function rcodeOf(resp: Uint8Array): number {
  return resp[3]! & 0xf;
}

export function isTruncated(resp: Uint8Array): boolean {
  return (resp[2]! & (Flag.TC >> 8)) !== 0;
}
