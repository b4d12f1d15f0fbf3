/**
 * gRPC Length-Prefixed-Message framing (PROTOCOL-HTTP2.md): every message on a gRPC stream is
 * `u8 compressed flag | u32 big-endian length | bytes`, and DATA frame boundaries bear no relation
 * to message boundaries, so the reader must accept any chunking.
 */
import { Code, RpcError } from "@petrel/core";

/** Size of the Length-Prefixed-Message prefix: one flag byte and a 4-byte big-endian length. */
export const GRPC_FRAME_HEADER_SIZE = 5;

const EMPTY = new Uint8Array(0);

/**
 * Split messages larger than this start with a buffer of this size and grow as bytes arrive,
 * so a peer that declares a large (but allowed) length and then stalls costs memory in
 * proportion to what it sent, not to what it promised.
 */
const INITIAL_SPLIT_CAPACITY = 64 * 1024;

/**
 * Frames one message: returns a new array holding the 5-byte prefix followed by `bytes`.
 * @param compressed sets the Compressed-Flag (default false); the caller compresses `bytes` itself.
 * @param alloc allocates the output (e.g. Node's pooled `Buffer.allocUnsafe`); every byte is written.
 */
export function frameMessage<T extends Uint8Array = Uint8Array>(
  bytes: Uint8Array,
  compressed = false,
  alloc: (size: number) => T = (size) => new Uint8Array(size) as T,
): T {
  const n = bytes.length;
  const out = alloc(GRPC_FRAME_HEADER_SIZE + n);
  out[0] = compressed ? 1 : 0;
  // Shifts instead of a DataView: no extra object per message on the hot path.
  out[1] = (n >>> 24) & 0xff;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = n & 0xff;
  out.set(bytes, GRPC_FRAME_HEADER_SIZE);
  return out;
}

/** Options of a {@link MessageDeframer}. */
export interface MessageDeframerOptions {
  /**
   * Largest message accepted, in bytes (no default: the transport decides; gRPC's usual is
   * 4 MiB). Checked against the declared length before any message byte is buffered.
   */
  maxMessageSize: number;
}

/**
 * Incremental decoder of a stream of Length-Prefixed-Messages.
 *
 * Messages lying inside one pushed chunk are delivered as views into it (no copy); messages split
 * across chunks are copied into a fresh array, so a view handed out is never overwritten by the
 * deframer. Errors are always {@link RpcError}s: RESOURCE_EXHAUSTED for a declared length above
 * `maxMessageSize` (thrown as soon as the prefix is complete), INTERNAL for a flag byte other
 * than 0 or 1 (thrown as soon as that byte arrives) and for truncation at {@link end}. After any
 * throw — including one from `onMessage`, which leaves the rest of its chunk unread — the
 * deframer is dead and every later call throws the same error.
 */
export class MessageDeframer {
  private readonly maxMessageSize: number;
  /** Prefix bytes gathered when a prefix straddles chunks. */
  private readonly head = new Uint8Array(GRPC_FRAME_HEADER_SIZE);
  private headLen = 0;
  /** Declared length and flag of the split message being assembled (`partial !== undefined`). */
  private msgLen = 0;
  private msgCompressed = false;
  private partial: Uint8Array | undefined = undefined;
  private partialLen = 0;
  private failure: unknown = undefined;
  private failed = false;
  private pushing = false;

  constructor(options: MessageDeframerOptions) {
    const max = options.maxMessageSize;
    if (typeof max !== "number" || Number.isNaN(max) || max < 0) {
      throw new RangeError(`grpc: maxMessageSize must be a non-negative number, got ${String(max)}`);
    }
    this.maxMessageSize = max;
  }

  /**
   * Bytes received of the incomplete Length-Prefixed-Message, its prefix included: what the
   * peer has sent since the last complete message. 0 between messages.
   */
  get buffered(): number {
    return this.partial === undefined ? this.headLen : GRPC_FRAME_HEADER_SIZE + this.partialLen;
  }

  /**
   * Feeds bytes, in any chunking. Calls `onMessage` for each message the bytes complete, in
   * order, before returning. The chunk must not be modified while views into it are in use.
   * @throws RpcError on malformed input; whatever `onMessage` threw.
   */
  push(chunk: Uint8Array, onMessage: (bytes: Uint8Array, compressed: boolean) => void): void {
    if (this.failed) throw this.failure;
    // Re-entry would interleave two chunks' bytes; no transport needs it. The outer push goes on.
    if (this.pushing) throw new RpcError(Code.INTERNAL, "grpc: MessageDeframer.push called from its own onMessage");
    this.pushing = true;
    try {
      this.consume(chunk, onMessage);
    } catch (e) {
      this.failed = true;
      this.failure = e;
      this.partial = undefined;
      throw e;
    } finally {
      this.pushing = false;
    }
  }

  /**
   * Signals end of stream.
   * @throws RpcError INTERNAL if a partial prefix or message is buffered.
   */
  end(): void {
    if (this.failed) throw this.failure;
    if (this.headLen > 0) {
      this.fail(new RpcError(Code.INTERNAL, `grpc: truncated message prefix (got ${this.headLen} of ${GRPC_FRAME_HEADER_SIZE} bytes)`));
    }
    if (this.partial !== undefined) {
      this.fail(new RpcError(Code.INTERNAL, `grpc: truncated message (got ${this.partialLen} of ${this.msgLen} bytes)`));
    }
  }

  private fail(err: RpcError): never {
    this.failed = true;
    this.failure = err;
    this.partial = undefined;
    throw err;
  }

  private consume(chunk: Uint8Array, onMessage: (bytes: Uint8Array, compressed: boolean) => void): void {
    const len = chunk.length;
    let off = 0;
    if (this.partial !== undefined) {
      off = this.fillPartial(chunk, onMessage);
      if (this.partial !== undefined) return;
    }
    const head = this.head;
    while (off < len) {
      let flag: number;
      let msgLen: number;
      if (this.headLen === 0 && len - off >= GRPC_FRAME_HEADER_SIZE) {
        flag = chunk[off] as number;
        this.checkFlag(flag);
        msgLen = readU32(chunk, off + 1);
        off += GRPC_FRAME_HEADER_SIZE;
      } else {
        // The prefix straddles chunks: gather it in `head`, checking the flag on arrival so a
        // peer that is not speaking gRPC framing is rejected on its first byte.
        let h = this.headLen;
        if (h === 0) this.checkFlag(chunk[off] as number);
        while (h < GRPC_FRAME_HEADER_SIZE && off < len) head[h++] = chunk[off++] as number;
        this.headLen = h;
        if (h < GRPC_FRAME_HEADER_SIZE) return;
        this.headLen = 0;
        flag = head[0] as number;
        msgLen = readU32(head, 1);
      }
      if (msgLen > this.maxMessageSize) {
        this.fail(new RpcError(Code.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${msgLen} vs. ${this.maxMessageSize})`));
      }
      const compressed = flag === 1;
      if (len - off >= msgLen) {
        const msg = msgLen === 0 ? EMPTY : chunk.subarray(off, off + msgLen);
        off += msgLen;
        onMessage(msg, compressed);
      } else {
        this.msgLen = msgLen;
        this.msgCompressed = compressed;
        const have = len - off;
        const partial = new Uint8Array(Math.min(msgLen, Math.max(have, INITIAL_SPLIT_CAPACITY)));
        partial.set(chunk.subarray(off, len));
        this.partial = partial;
        this.partialLen = have;
        return;
      }
    }
  }

  /** Continues a split message; returns the offset in `chunk` after the bytes used. */
  private fillPartial(chunk: Uint8Array, onMessage: (bytes: Uint8Array, compressed: boolean) => void): number {
    let partial = this.partial as Uint8Array;
    const n = Math.min(this.msgLen - this.partialLen, chunk.length);
    const need = this.partialLen + n;
    if (need > partial.length) {
      // Doubling keeps copies amortised O(total) while memory tracks the bytes actually received.
      const grown = new Uint8Array(Math.min(this.msgLen, Math.max(need, partial.length * 2)));
      grown.set(partial.subarray(0, this.partialLen));
      partial = grown;
      this.partial = grown;
    }
    partial.set(n === chunk.length ? chunk : chunk.subarray(0, n), this.partialLen);
    this.partialLen = need;
    if (need < this.msgLen) return n;
    this.partial = undefined;
    this.partialLen = 0;
    // Every buffer is at most msgLen long and now holds msgLen bytes, so it is exactly the message.
    onMessage(partial, this.msgCompressed);
    return n;
  }

  private checkFlag(flag: number): void {
    if (flag !== 0 && flag !== 1) {
      this.fail(new RpcError(Code.INTERNAL, `grpc: invalid compressed flag ${flag} in message prefix (want 0 or 1)`));
    }
  }
}

function readU32(b: Uint8Array, off: number): number {
  // `>>> 0` keeps lengths of 2^31 and above positive.
  return (((b[off] as number) << 24) | ((b[off + 1] as number) << 16) | ((b[off + 2] as number) << 8) | (b[off + 3] as number)) >>> 0;
}
