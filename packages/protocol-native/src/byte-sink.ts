/**
 * A growable big-endian byte buffer that payload encoders write into. The frame writer owns one
 * and reuses it across batches, so encoding a frame allocates nothing once the buffer is warm.
 */

const encoder = new TextEncoder();

/** Strings up to this many UTF-16 units take the JS loop; longer ones go to the native encoder. */
const ASCII_FAST_PATH_MAX = 64;

/** Appends big-endian integers, bytes and strings to a Uint8Array that doubles when full. */
export class ByteSink {
  /** The backing store; valid bytes are `[0, pos)`. Replaced (not resized) when it grows. */
  buf: Uint8Array;
  /** Write position. */
  pos = 0;

  constructor(initialCapacity = 16_384) {
    this.buf = new Uint8Array(Math.max(64, initialCapacity));
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Appends one byte. */
  u8(v: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }

  /** Appends a big-endian u16. */
  u16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  /** Appends a big-endian u32. */
  u32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** Overwrites a u16 written earlier (length prefixes written before their content). */
  patchU16(at: number, v: number): void {
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v;
  }

  /** Overwrites a u32 written earlier. */
  patchU32(at: number, v: number): void {
    const b = this.buf;
    b[at] = v >>> 24;
    b[at + 1] = v >>> 16;
    b[at + 2] = v >>> 8;
    b[at + 3] = v;
  }

  /** Appends `length` bytes of `src` starting at `offset`. */
  bytes(src: Uint8Array, offset = 0, length = src.length - offset): void {
    if (this.pos + length > this.buf.length) this.grow(length);
    const b = this.buf;
    const p = this.pos;
    // For tiny copies a loop beats creating a subarray view for set().
    if (length <= 16) for (let i = 0; i < length; i++) b[p + i] = src[offset + i] as number;
    else b.set(offset === 0 && length === src.length ? src : src.subarray(offset, offset + length), p);
    this.pos = p + length;
  }

  /**
   * Appends the UTF-8 encoding of `s`, stopping before the first character that would take it
   * past `maxBytes` (so truncation never splits a character). Returns the bytes written.
   * Lone surrogates become U+FFFD, as TextEncoder does.
   */
  utf8(s: string, maxBytes: number): number {
    const n = s.length;
    if (n <= ASCII_FAST_PATH_MAX && n <= maxBytes) {
      if (this.pos + n > this.buf.length) this.grow(n);
      const b = this.buf;
      const p = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p + i] = c;
      }
      if (i === n) {
        this.pos = p + n;
        return n;
      }
      // Non-ASCII: the native encoder below rewrites from the start.
    }
    const room = Math.min(n * 3, maxBytes);
    if (this.pos + room > this.buf.length) this.grow(room);
    const r = encoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + room));
    this.pos += r.written;
    return r.written;
  }
}
