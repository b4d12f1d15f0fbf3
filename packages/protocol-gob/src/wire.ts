// Gob's primitive encodings (encoding/gob doc.go, "Encoding Details"): unsigned integers (one
// byte below 128, else a negated byte count and big-endian bytes), signed integers (complement
// bit in bit 0), floats (float64 bits byte-reversed, sent as an unsigned), counted bytes.
import { GobError } from "./gob-error.js";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A gob integer: a number when it is a safe integer, a bigint otherwise. */
export type GobInt = number | bigint;

/** Reads gob primitives from a byte range; every overrun is a GobError. @internal */
export class GobReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new GobError("unexpected end of message");
    return this.buf[this.pos++] as number;
  }

  /** The byte count of a multi-byte unsigned, or 0 for a one-byte value (left in `small`). */
  private uintHead(): number {
    const b = this.byte();
    if (b < 0x80) {
      this.small = b;
      return 0;
    }
    const n = 256 - b;
    if (n > 8) throw new GobError(`invalid unsigned integer byte count ${n}`);
    if (this.remaining < n) throw new GobError("unexpected end of message");
    return n;
  }
  private small = 0;

  /** An unsigned integer as number (safe) or bigint. */
  uint(): GobInt {
    const n = this.uintHead();
    if (n === 0) return this.small;
    const buf = this.buf;
    if (n <= 6) {
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 256 + (buf[this.pos++] as number);
      return v;
    }
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(buf[this.pos++] as number);
    return v <= MAX_SAFE ? Number(v) : v;
  }

  /** An unsigned integer that must fit a safe number (counts, lengths, ids, deltas). */
  count(what: string): number {
    const v = this.uint();
    if (typeof v !== "number") throw new GobError(`${what} too large`);
    return v;
  }

  /** A signed integer. */
  int(): GobInt {
    const u = this.uint();
    if (typeof u === "number") return u % 2 === 1 ? -(u - 1) / 2 - 1 : u / 2;
    const v = (u & 1n) === 1n ? ~(u >> 1n) : u >> 1n;
    return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
  }

  /** A signed integer that must fit a safe number (type ids). */
  smallInt(what: string): number {
    const v = this.int();
    if (typeof v !== "number") throw new GobError(`${what} out of range`);
    return v;
  }

  float(): number {
    const n = this.uintHead();
    f64Bytes.fill(0);
    // The uint's big-endian bytes are the float64's little-endian bytes, high zeros dropped.
    if (n === 0) setLe(7, this.small);
    else for (let i = 8 - n; i < 8; i++) setLe(i, this.buf[this.pos++] as number);
    return f64[0] as number;
  }

  bool(): boolean {
    const v = this.uint();
    if (v === 0) return false;
    if (v === 1) return true;
    throw new GobError(`invalid boolean ${v}`);
  }

  bytes(): Uint8Array {
    const n = this.count("byte count");
    if (n > this.remaining) throw new GobError(`byte count ${n} exceeds the message`);
    // A copy in a plain Uint8Array (Buffer#slice would be a view of the input).
    const out = new Uint8Array(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  string(): string {
    const n = this.count("string length");
    if (n > this.remaining) throw new GobError(`string length ${n} exceeds the message`);
    // Go strings may hold any bytes; invalid UTF-8 becomes U+FFFD as in Go's JSON.
    const s = utf8.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

function setLe(i: number, b: number): void {
  f64Bytes[LITTLE_ENDIAN ? i : 7 - i] = b;
}

const utf8 = new TextDecoder();
const utf8e = new TextEncoder();

/** Appends gob primitives to a growable buffer. @internal */
export class GobWriter {
  buf = new Uint8Array(256);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  uint(v: GobInt): void {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v) || v < 0) throw new GobError(`not an unsigned integer: ${v}`);
      if (v < 0x80) {
        this.ensure(1);
        this.buf[this.len++] = v;
        return;
      }
      if (v > 0xffff_ffff) return this.uint(BigInt(v));
      const n = v > 0xffffff ? 4 : v > 0xffff ? 3 : v > 0xff ? 2 : 1;
      this.ensure(n + 1);
      this.buf[this.len++] = 256 - n;
      for (let i = n - 1; i >= 0; i--) this.buf[this.len++] = Math.floor(v / 2 ** (8 * i)) & 0xff;
      return;
    }
    if (v < 0n || v >= 1n << 64n) throw new GobError(`unsigned integer out of range: ${v}`);
    if (v < 0x80n) return this.uint(Number(v));
    let n = 0;
    for (let t = v; t > 0n; t >>= 8n) n++;
    this.ensure(n + 1);
    this.buf[this.len++] = 256 - n;
    for (let i = n - 1; i >= 0; i--) this.buf[this.len++] = Number((v >> BigInt(8 * i)) & 0xffn);
  }

  int(v: GobInt): void {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new GobError(`not an integer: ${v}`);
      // Safe: |v| < 2^53 so 2|v|+1 may exceed 2^53; use bigint beyond 2^52.
      if (Math.abs(v) < 2 ** 52) return this.uint(v < 0 ? -2 * v - 1 : 2 * v);
      return this.int(BigInt(v));
    }
    if (v < -(1n << 63n) || v >= 1n << 63n) throw new GobError(`signed integer out of range: ${v}`);
    this.uint(v < 0n ? (~v << 1n) | 1n : v << 1n);
  }

  float(v: number): void {
    if (typeof v !== "number") throw new GobError(`not a number: ${String(v)}`);
    f64[0] = v;
    let first = 0;
    while (first < 8 && getLe(first) === 0) first++;
    if (first === 8) return this.uint(0);
    if (first === 7 && getLe(7) < 0x80) return this.uint(getLe(7));
    const n = 8 - first;
    this.ensure(n + 1);
    this.buf[this.len++] = 256 - n;
    for (let i = first; i < 8; i++) this.buf[this.len++] = getLe(i);
  }

  bool(v: boolean): void {
    this.uint(v ? 1 : 0);
  }

  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.raw(b);
  }

  string(s: string): void {
    this.bytes(utf8e.encode(s));
  }
}

function getLe(i: number): number {
  return f64Bytes[LITTLE_ENDIAN ? i : 7 - i] as number;
}
