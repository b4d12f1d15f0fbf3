/**
 * A bounds-checked big-endian reader over one frame payload. Every read checks the remaining
 * length first, so a malformed payload becomes a PROTOCOL_ERROR and never an out-of-range read,
 * a RangeError or a huge allocation.
 */
import { ErrorCode } from "./frame-types.js";
import { ProtocolError } from "./protocol-error.js";
import { decodeUtf8 } from "./utf8.js";

/** A shared zero-length array, so empty fields allocate nothing. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * Reads fields from `b[pos, end)`. Parsers keep one module-level cursor and `reset` it per call:
 * parsing is synchronous and never re-enters, and it saves an object per frame.
 */
export class PayloadCursor {
  /** The payload being read. */
  b: Uint8Array = EMPTY_BYTES;
  /** Next byte to read. */
  pos = 0;
  /** One past the last byte. */
  end = 0;
  /** What is being parsed, for error messages (a constant string, so no allocation). */
  what = "";

  /** Points the cursor at a whole payload. */
  reset(b: Uint8Array, what: string): this {
    this.b = b;
    this.pos = 0;
    this.end = b.length;
    this.what = what;
    return this;
  }

  /** Bytes left. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number): void {
    if (this.end - this.pos < n) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: truncated ${this.what}`);
  }

  /** Throws if bytes are left over: petrel/1 payloads have no room for unknown trailing data. */
  finish(): void {
    if (this.pos !== this.end) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: trailing bytes in ${this.what}`);
  }

  /** Reads a u8. */
  u8(): number {
    this.need(1);
    return this.b[this.pos++] as number;
  }

  /** Reads a big-endian u16. */
  u16(): number {
    this.need(2);
    const b = this.b;
    const p = this.pos;
    this.pos = p + 2;
    return ((b[p] as number) << 8) | (b[p + 1] as number);
  }

  /** Reads a big-endian u32 (as a non-negative number). */
  u32(): number {
    this.need(4);
    const b = this.b;
    const p = this.pos;
    this.pos = p + 4;
    return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
  }

  /** Reads `n` bytes as a fresh copy, so the result does not pin the socket chunk it came from. */
  copy(n: number): Uint8Array {
    if (n === 0) return EMPTY_BYTES;
    this.need(n);
    const out = new Uint8Array(n);
    const b = this.b;
    const p = this.pos;
    if (n <= 16) for (let i = 0; i < n; i++) out[i] = b[p + i] as number;
    else out.set(b.subarray(p, p + n));
    this.pos = p + n;
    return out;
  }

  /** Reads `n` bytes of UTF-8. */
  utf8(n: number): string {
    if (n === 0) return "";
    this.need(n);
    const p = this.pos;
    const s = decodeUtf8(this.b, p, p + n, this.what);
    this.pos = p + n;
    return s;
  }
}
