/**
 * Tokens: codec and compression names ("proto", "json", "identity"). On the wire they are one or
 * more bytes of visible ASCII other than ',' (the list separator in SETTINGS).
 */
import type { ByteSink } from "./byte-sink.js";
import { ErrorCode } from "./frame-types.js";
import type { PayloadCursor } from "./payload-cursor.js";
import { ProtocolError } from "./protocol-error.js";

/** Whether byte/char code `c` may appear in a token. */
export function isTokenChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== 0x2c;
}

/**
 * Decoded tokens, reused: every request's HEADERS names a codec, and there are only a handful,
 * so returning the same string saves an allocation per stream. Bounded, and filled first come
 * first served, so a peer sending junk names can only make it useless, not big.
 */
const cache: string[] = [];
const CACHE_MAX = 8;

function cachedToken(b: Uint8Array, start: number, n: number): string | undefined {
  for (let k = 0; k < cache.length; k++) {
    const t = cache[k] as string;
    if (t.length !== n) continue;
    let i = 0;
    while (i < n && t.charCodeAt(i) === b[start + i]) i++;
    if (i === n) return t;
  }
  return undefined;
}

/** Reads an `n`-byte token; PROTOCOL_ERROR if empty or holding a byte a token may not. */
export function readToken(cur: PayloadCursor, n: number): string {
  cur.need(n);
  if (n === 0) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: empty name in ${cur.what}`);
  const b = cur.b;
  const start = cur.pos;
  const end = start + n;
  for (let i = start; i < end; i++) {
    if (!isTokenChar(b[i] as number)) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: invalid name character in ${cur.what}`);
  }
  cur.pos = end;
  const hit = cachedToken(b, start, n);
  if (hit !== undefined) return hit;
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i] as number);
  if (cache.length < CACHE_MAX) cache.push(s);
  return s;
}

/** Reads an `n`-byte comma-separated token list; zero bytes is the empty list. */
export function readTokenList(cur: PayloadCursor, n: number): string[] {
  cur.need(n);
  const out: string[] = [];
  if (n === 0) return out;
  const b = cur.b;
  const end = cur.pos + n;
  let start = cur.pos;
  for (let i = start; i <= end; i++) {
    if (i === end || b[i] === 0x2c) {
      cur.pos = start;
      out.push(readToken(cur, i - start));
      start = i + 1;
    }
  }
  cur.pos = end;
  return out;
}

/** Throws a TypeError unless `s` is a valid token (a programming error on the sending side). */
export function checkToken(s: string, what: string): void {
  if (s.length === 0) throw new TypeError(`petrel: empty ${what}`);
  for (let i = 0; i < s.length; i++) {
    if (!isTokenChar(s.charCodeAt(i))) throw new TypeError(`petrel: invalid character in ${what} "${s}"`);
  }
}

/** Appends a token already checked with {@link checkToken} (ASCII, so one byte per char). */
export function writeAscii(sink: ByteSink, s: string): void {
  const n = s.length;
  sink.ensure(n);
  const b = sink.buf;
  const p = sink.pos;
  for (let i = 0; i < n; i++) b[p + i] = s.charCodeAt(i);
  sink.pos = p + n;
}
