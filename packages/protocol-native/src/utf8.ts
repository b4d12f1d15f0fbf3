/**
 * UTF-8 helpers for the payload codecs. Decoding is strict: petrel/1 peers encode from JS
 * strings, which always yields valid UTF-8, so invalid bytes mean a broken or hostile peer.
 */
import { ErrorCode } from "./frame-types.js";
import { ProtocolError } from "./protocol-error.js";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** ASCII strings up to this length are interned; the native decoder's call cost dominates below it. */
const INTERN_MAX = 64;
const INTERN_SLOTS = 512;
const internBytes: Array<Uint8Array | undefined> = new Array(INTERN_SLOTS).fill(undefined);
const internStrings: string[] = new Array(INTERN_SLOTS).fill("");

/**
 * Returns the string for the ASCII bytes `b[start, end)` (caller checked they are ASCII), from a
 * small direct-mapped cache. Paths, metadata keys and most metadata values repeat on every call;
 * like HPACK's tables, the cache turns them into one hash and one compare instead of a fresh
 * string per frame.
 */
export function internAscii(b: Uint8Array, start: number, end: number, hash: number): string {
  const slot = hash & (INTERN_SLOTS - 1);
  const n = end - start;
  const cached = internBytes[slot];
  if (cached !== undefined && cached.length === n) {
    let i = 0;
    while (i < n && cached[i] === b[start + i]) i++;
    if (i === n) return internStrings[slot] as string;
  }
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i] as number);
  internBytes[slot] = b.slice(start, end);
  internStrings[slot] = s;
  return s;
}

/**
 * Decodes `b[start, end)` as UTF-8. Throws a PROTOCOL_ERROR {@link ProtocolError} naming `what`
 * on invalid UTF-8; a BOM is kept as U+FEFF, not stripped, so the bytes round-trip.
 */
export function decodeUtf8(b: Uint8Array, start: number, end: number, what: string): string {
  if (end - start <= INTERN_MAX) {
    let h = end - start;
    let i = start;
    for (; i < end; i++) {
      const c = b[i] as number;
      if (c >= 0x80) break;
      h = (Math.imul(h, 31) + c) | 0;
    }
    if (i === end) return internAscii(b, start, end, h ^ (h >>> 9));
  }
  try {
    return decoder.decode(b.subarray(start, end));
  } catch {
    throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: invalid UTF-8 in ${what}`);
  }
}

/** The number of bytes {@link TextEncoder} produces for `s` (lone surrogates count as U+FFFD). */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A surrogate pair: two units, four bytes.
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
