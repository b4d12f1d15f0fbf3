/**
 * UTF-8 helpers for the payload codecs. Decoding is strict: petrel/1 peers encode from JS
 * strings, which always yields valid UTF-8, so invalid bytes mean a broken or hostile peer.
 */
import { ErrorCode } from "./frame-types.js";
import { ProtocolError } from "./protocol-error.js";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Strings this short are built in JS when ASCII; the native decoder's call cost dominates below it. */
const ASCII_FAST_PATH_MAX = 32;

/**
 * Decodes `b[start, end)` as UTF-8. Throws a PROTOCOL_ERROR {@link ProtocolError} naming `what`
 * on invalid UTF-8; a BOM is kept as U+FEFF, not stripped, so the bytes round-trip.
 */
export function decodeUtf8(b: Uint8Array, start: number, end: number, what: string): string {
  if (end - start <= ASCII_FAST_PATH_MAX) {
    let s = "";
    let i = start;
    for (; i < end; i++) {
      const c = b[i] as number;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === end) return s;
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
