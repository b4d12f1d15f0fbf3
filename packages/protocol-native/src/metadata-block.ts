/**
 * The metadata block shared by HEADERS and TRAILERS:
 * `u16 count | count x (u16 keyLen | key | u32 valueLen | value)`.
 *
 * Metadata travels as the same flat `[k0, v0, k1, v1, ...]` array @petrel/core's Metadata keeps,
 * so neither side converts through Maps or objects. Keys ending in "-bin" carry raw bytes (this
 * protocol is binary, so no base64); other values are UTF-8 strings.
 */
import type { ByteSink } from "./byte-sink.js";
import { ErrorCode } from "./frame-types.js";
import { PayloadCursor } from "./payload-cursor.js";
import { ProtocolError } from "./protocol-error.js";
import { internAscii, utf8Length } from "./utf8.js";

/** Flat metadata: even indexes are keys, odd indexes values (`Uint8Array` iff the key ends in "-bin"). */
export type MetadataFlat = Array<string | Uint8Array>;

/** Smallest possible entry on the wire: u16 keyLen, a 1-byte key, u32 valueLen. */
const MIN_ENTRY_SIZE = 7;

/** Whether `c` may appear in a key: [a-z0-9-_.]. */
function isKeyChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e;
}

/** Whether the key `b[start, end)` ends in "-bin". */
function isBinaryKeyBytes(b: Uint8Array, start: number, end: number): boolean {
  return end - start >= 4 && b[end - 4] === 0x2d && b[end - 3] === 0x62 && b[end - 2] === 0x69 && b[end - 1] === 0x6e;
}

/** Whether the key string ends in "-bin"; charCodeAt avoids endsWith's overhead on the hot path. */
function isBinaryKey(k: string): boolean {
  const n = k.length;
  return (
    n >= 4 && k.charCodeAt(n - 4) === 0x2d && k.charCodeAt(n - 3) === 0x62 && k.charCodeAt(n - 2) === 0x69 && k.charCodeAt(n - 1) === 0x6e
  );
}

/**
 * The exact encoded size of the block for `flat`, so a sender can compare it with the peer's
 * MAX_HEADER_BYTES before writing anything.
 */
export function metadataBlockSize(flat: ReadonlyArray<string | Uint8Array>): number {
  let size = 2;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const key = flat[i] as string;
    const value = flat[i + 1] as string | Uint8Array;
    size += 6 + key.length + (typeof value === "string" ? utf8Length(value) : value.length);
  }
  return size;
}

/**
 * Appends the block for `flat`. Throws a TypeError or RangeError for metadata that could not be
 * decoded by the peer (bad key, wrong value type, too many entries): sending it would cost the
 * whole connection a PROTOCOL_ERROR, so it is refused here instead.
 */
export function writeMetadataBlock(sink: ByteSink, flat: ReadonlyArray<string | Uint8Array>): void {
  const n = flat.length;
  if ((n & 1) !== 0) throw new TypeError("petrel: metadata array must hold key/value pairs");
  if (n >>> 1 > 0xffff) throw new RangeError("petrel: more than 65535 metadata entries");
  sink.u16(n >>> 1);
  for (let i = 0; i < n; i += 2) {
    const key = flat[i];
    const value = flat[i + 1];
    if (typeof key !== "string" || key.length === 0 || key.length > 0xffff)
      throw new TypeError(`petrel: invalid metadata key "${String(key)}"`);
    const kl = key.length;
    sink.u16(kl);
    sink.ensure(kl);
    const b = sink.buf;
    const p = sink.pos;
    for (let j = 0; j < kl; j++) {
      const c = key.charCodeAt(j);
      if (!isKeyChar(c)) throw new TypeError(`petrel: invalid metadata key "${key}"`);
      b[p + j] = c;
    }
    sink.pos = p + kl;
    if (isBinaryKey(key)) {
      if (!(value instanceof Uint8Array)) throw new TypeError(`petrel: metadata key "${key}" needs a Uint8Array value`);
      sink.u32(value.length);
      sink.bytes(value);
    } else {
      if (typeof value !== "string") throw new TypeError(`petrel: metadata key "${key}" needs a string value`);
      const at = sink.pos;
      sink.u32(0);
      sink.patchU32(at, sink.utf8(value, 0xffff_ffff));
    }
  }
}

/**
 * Reads a metadata block that runs to the end of the cursor's payload (it is always the last
 * field). If the block is larger than `maxBytes` it throws HEADER_TOO_LARGE without decoding it:
 * the frame is intact, so the caller fails only the stream (see the spec's limits section).
 * Any malformation is a PROTOCOL_ERROR.
 */
export function readMetadataBlock(cur: PayloadCursor, maxBytes: number): MetadataFlat {
  const size = cur.remaining;
  if (size > maxBytes) {
    throw new ProtocolError(ErrorCode.HEADER_TOO_LARGE, `petrel: metadata block of ${size} bytes exceeds the limit of ${maxBytes}`);
  }
  const count = cur.u16();
  // Checked before the loop so a forged count cannot make us allocate for entries that aren't there.
  if (count * MIN_ENTRY_SIZE > cur.remaining) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: truncated ${cur.what} metadata`);
  const out: MetadataFlat = [];
  for (let k = 0; k < count; k++) {
    const kl = cur.u16();
    cur.need(kl);
    if (kl === 0) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: empty metadata key in ${cur.what}`);
    const b = cur.b;
    const start = cur.pos;
    const end = start + kl;
    let h = kl;
    for (let i = start; i < end; i++) {
      const c = b[i] as number;
      if (!isKeyChar(c)) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: invalid metadata key character in ${cur.what}`);
      h = (Math.imul(h, 31) + c) | 0;
    }
    let key: string;
    if (kl <= 64) key = internAscii(b, start, end, h ^ (h >>> 9));
    else {
      key = "";
      for (let i = start; i < end; i++) key += String.fromCharCode(b[i] as number);
    }
    cur.pos = end;
    const vl = cur.u32();
    out.push(key, isBinaryKeyBytes(b, start, end) ? cur.copy(vl) : cur.utf8(vl));
  }
  cur.finish();
  return out;
}

const cursor = new PayloadCursor();

/**
 * Parses a payload that is only a metadata block: the server's response HEADERS. See
 * {@link readMetadataBlock} for the errors.
 */
export function parseMetadataBlock(payload: Uint8Array, maxBytes: number = Number.POSITIVE_INFINITY): MetadataFlat {
  return readMetadataBlock(cursor.reset(payload, "response HEADERS"), maxBytes);
}
