/** Why a JSON value stream could not be split. */
export class JsonSplitError extends Error {
  /**
   * @param values values completed in the same chunk before the failure; a server should
   * still answer them before it reports the error and closes.
   */
  constructor(
    message: string,
    readonly values: Uint8Array[] = [],
  ) {
    super(message);
    this.name = "JsonSplitError";
  }
}

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Splits a byte stream of JSON objects/arrays written back to back — what Go's
 * `json.Encoder` writes and `json.Decoder` reads on a `net/rpc/jsonrpc` connection — into one
 * byte range per value. It only tracks nesting depth, strings and escapes (every structural byte
 * is ASCII, so UTF-8 needs no decoding here); `JSON.parse` validates each value afterwards.
 * Whitespace between values is skipped; anything else at top level (a scalar, garbage) or a value
 * over `maxBytes` throws JsonSplitError, after which the stream is out of sync and must be closed.
 */
export class JsonValueSplitter {
  /** Bytes of the current value seen in earlier chunks. */
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private depth = 0;
  private inString = false;
  private afterBackslash = false;
  private failed = false;

  constructor(private readonly maxBytes: number) {}

  /** Whether a value is partly read. */
  get midValue(): boolean {
    return this.depth > 0;
  }

  /** Feeds a chunk; returns the values completed by it, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw new JsonSplitError("stream already failed");
    const out: Uint8Array[] = [];
    let start = this.depth > 0 ? 0 : -1;
    const n = chunk.length;
    // Indexed loop over bytes with state in locals: this runs once per received byte.
    let depth = this.depth;
    let inString = this.inString;
    let afterBackslash = this.afterBackslash;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (depth === 0) {
        if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
        if (b !== LBRACE && b !== LBRACKET) {
          this.failed = true;
          throw new JsonSplitError(`unexpected byte 0x${b.toString(16).padStart(2, "0")} between JSON values`, out);
        }
        depth = 1;
        start = i;
        continue;
      }
      if (inString) {
        if (afterBackslash) afterBackslash = false;
        else if (b === BACKSLASH) afterBackslash = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === LBRACE || b === LBRACKET) depth++;
      else if (b === RBRACE || b === RBRACKET) {
        depth--;
        if (depth === 0) {
          const tail = chunk.subarray(start, i + 1);
          const size = this.partsLen + tail.length;
          if (size > this.maxBytes) break;
          out.push(this.partsLen === 0 ? tail : concat(this.parts, tail, size));
          this.parts = [];
          this.partsLen = 0;
          start = -1;
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.afterBackslash = afterBackslash;
    if (depth > 0) {
      // A finished value over the limit broke the loop with depth 0, so depth > 0 here means the
      // current value continues into the next chunk.
      this.parts.push(chunk.subarray(start));
      this.partsLen += n - start;
    }
    if (this.partsLen > this.maxBytes || (depth === 0 && start !== -1)) {
      this.failed = true;
      throw new JsonSplitError(`JSON value larger than ${this.maxBytes} bytes`, out);
    }
    return out;
  }
}

function concat(parts: Uint8Array[], tail: Uint8Array, size: number): Uint8Array {
  const buf = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    buf.set(p, off);
    off += p.length;
  }
  buf.set(tail, off);
  return buf;
}
