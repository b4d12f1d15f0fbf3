/**
 * Incremental petrel/1 frame decoder. Socket chunks go in through {@link FrameReader.push};
 * complete, header-validated frames come out through one handler object. Frames lying inside a
 * chunk are delivered as subarray views (no copy); only frames split across chunks are copied,
 * into a buffer sized from the already-checked header.
 */
import {
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  FRAME_HEADER_SIZE,
  FrameFlag,
  type FrameHandler,
  FrameType,
  MAX_FRAME_TYPE,
  PREFACE_MAGIC,
  PREFACE_SIZE,
  frameTypeName,
} from "./frame-types.js";
import { EMPTY_BYTES } from "./payload-cursor.js";
import { ProtocolError } from "./protocol-error.js";

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Read the peer's 8-byte preface before any frame (default false). */
  expectPreface?: boolean;
  /** Require the first frame to be a non-ACK SETTINGS (default: same as `expectPreface`). */
  requireSettingsFirst?: boolean;
  /** Largest accepted payload (default 65536); also settable later through the property. */
  maxFrameSize?: number;
}

// Reader states; small ints so the hot loop compares registers, not strings. Typed `number`
// so TypeScript does not narrow `this.state` across handler calls that may change it.
const PREFACE: number = 0;
const HEADER: number = 1;
const PAYLOAD: number = 2;
const STOPPED: number = 3;
const FAILED: number = 4;

/**
 * Decodes frames from a byte stream. Errors are thrown from {@link push} as {@link ProtocolError}
 * (never anything else for any input); after one, the reader is dead and every later push throws
 * the same error. An exception thrown by the handler propagates out of push and kills the reader
 * the same way, so the handler may throw a ProtocolError for connection-level violations it finds.
 */
export class FrameReader {
  /**
   * Largest payload accepted; checked on the header, before any payload byte is buffered, so a
   * forged length cannot make the reader allocate. The connection layer raises it when it sends
   * a larger MAX_FRAME_SIZE and lowers it only once the peer has ACKed a smaller one.
   */
  maxFrameSize: number;

  private readonly handler: FrameHandler;
  private state: number;
  private needSettings: boolean;
  /** Bytes of a preface or frame header that straddle chunks. */
  private readonly head = new Uint8Array(FRAME_HEADER_SIZE);
  private headLen = 0;
  // The header of the frame whose payload is being assembled.
  private type = 0;
  private flags = 0;
  private streamId = 0;
  /** Payload of a frame split across chunks; a fresh array per such frame, handed to onFrame. */
  private partial: Uint8Array = EMPTY_BYTES;
  private partialLen = 0;
  private failure: unknown = undefined;
  private pushing = false;

  constructor(handler: FrameHandler, options: FrameReaderOptions = {}) {
    this.handler = handler;
    const expectPreface = options.expectPreface ?? false;
    this.state = expectPreface ? PREFACE : HEADER;
    this.needSettings = options.requireSettingsFirst ?? expectPreface;
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  }

  /** The error that killed the reader, if any. */
  get error(): unknown {
    return this.failure;
  }

  /** Whether the reader still accepts input. */
  get active(): boolean {
    return this.state < STOPPED;
  }

  /**
   * Stops delivering: no further frame is delivered, even from the chunk being processed, and
   * later pushes are ignored. For a connection that is closing; callable from the handler.
   */
  stop(): void {
    if (this.state !== FAILED) this.state = STOPPED;
  }

  /**
   * Feeds bytes. Every complete frame they finish is delivered before this returns. The reader
   * keeps views into `chunk` (as frame payloads), so the caller must not overwrite it afterwards.
   * @throws ProtocolError on malformed input, or whatever the handler threw.
   */
  push(chunk: Uint8Array): void {
    if (this.state >= STOPPED) {
      if (this.state === FAILED) throw this.failure;
      return;
    }
    // Re-entry would interleave two chunks' bytes; the connection layer never needs it.
    if (this.pushing) throw new Error("petrel: FrameReader.push called from its own handler");
    this.pushing = true;
    try {
      this.consume(chunk);
    } catch (e) {
      this.state = FAILED;
      this.failure = e;
      this.partial = EMPTY_BYTES;
      throw e;
    } finally {
      this.pushing = false;
    }
  }

  private consume(chunk: Uint8Array): void {
    const len = chunk.length;
    let off = 0;
    if (this.state === PREFACE) {
      off = this.readPreface(chunk);
      if (this.state !== HEADER) return;
    } else if (this.state === PAYLOAD) {
      off = this.fillPartial(chunk);
      if (this.state !== HEADER) return;
    }
    const head = this.head;
    while (off < len && this.state === HEADER) {
      let plen: number;
      let type: number;
      let flags: number;
      let streamId: number;
      if (this.headLen === 0 && len - off >= FRAME_HEADER_SIZE) {
        plen = readU32(chunk, off);
        type = chunk[off + 4] as number;
        flags = chunk[off + 5] as number;
        streamId = readU32(chunk, off + 6);
        off += FRAME_HEADER_SIZE;
      } else {
        // The header straddles chunks: gather it in `head` first.
        let h = this.headLen;
        while (h < FRAME_HEADER_SIZE && off < len) head[h++] = chunk[off++] as number;
        this.headLen = h;
        if (h < FRAME_HEADER_SIZE) return;
        this.headLen = 0;
        plen = readU32(head, 0);
        type = head[4] as number;
        flags = head[5] as number;
        streamId = readU32(head, 6);
      }
      this.check(type, flags, streamId, plen);
      if (len - off >= plen) {
        const payload = plen === 0 ? EMPTY_BYTES : chunk.subarray(off, off + plen);
        off += plen;
        this.handler.onFrame(type, flags, streamId, payload);
      } else {
        // Split payload: its size was checked against maxFrameSize above, so this is bounded.
        const partial = new Uint8Array(plen);
        partial.set(chunk.subarray(off, len));
        this.partial = partial;
        this.partialLen = len - off;
        this.type = type;
        this.flags = flags;
        this.streamId = streamId;
        this.state = PAYLOAD;
        return;
      }
    }
  }

  /** Continues a split payload; returns the offset after the bytes used. */
  private fillPartial(chunk: Uint8Array): number {
    const partial = this.partial;
    const want = partial.length - this.partialLen;
    const n = Math.min(want, chunk.length);
    partial.set(n === chunk.length ? chunk : chunk.subarray(0, n), this.partialLen);
    this.partialLen += n;
    if (this.partialLen < partial.length) return n;
    this.partial = EMPTY_BYTES;
    this.state = HEADER;
    this.handler.onFrame(this.type, this.flags, this.streamId, partial);
    return n;
  }

  /** Consumes preface bytes, failing on the first byte that breaks the magic. */
  private readPreface(chunk: Uint8Array): number {
    const head = this.head;
    let h = this.headLen;
    let off = 0;
    while (h < PREFACE_SIZE && off < chunk.length) {
      const c = chunk[off++] as number;
      // Checked per byte so a stray HTTP/1 or TLS client is rejected on its first byte.
      if (h < PREFACE_MAGIC.length && c !== PREFACE_MAGIC[h]) {
        throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, "petrel: bad connection preface (peer does not speak petrel)");
      }
      head[h++] = c;
    }
    this.headLen = h;
    if (h < PREFACE_SIZE) return off;
    this.headLen = 0;
    this.state = HEADER;
    // head[7] is reserved: sent as 0 and ignored, so a later version may give it a meaning.
    this.handler.onPreface?.(head[6] as number);
    return off;
  }

  /** Frame-local rules: everything checkable from the header alone. */
  private check(type: number, flags: number, streamId: number, plen: number): void {
    if (type > MAX_FRAME_TYPE) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: unknown frame type ${type}`);
    if (plen > this.maxFrameSize) {
      throw new ProtocolError(
        ErrorCode.FRAME_SIZE_ERROR,
        `petrel: ${frameTypeName(type)} payload of ${plen} bytes exceeds MAX_FRAME_SIZE ${this.maxFrameSize}`,
      );
    }
    if (this.needSettings) {
      if (type !== FrameType.SETTINGS || (flags & FrameFlag.ACK) !== 0) {
        const got = type === FrameType.SETTINGS ? "a SETTINGS ACK" : frameTypeName(type);
        throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: first frame must be SETTINGS, got ${got}`);
      }
      this.needSettings = false;
    }
    switch (type) {
      case FrameType.SETTINGS:
        if (streamId !== 0) throw onStream(type);
        if ((flags & FrameFlag.ACK) !== 0 && plen !== 0) throw badSize(type, plen);
        return;
      case FrameType.PING:
        if (streamId !== 0) throw onStream(type);
        if (plen !== 8) throw badSize(type, plen);
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw onStream(type);
        return;
      case FrameType.WINDOW_UPDATE:
        if (plen !== 4) throw badSize(type, plen);
        return;
      case FrameType.HALF_CLOSE:
        if (streamId === 0) throw onConnection(type);
        if (plen !== 0) throw badSize(type, plen);
        return;
      case FrameType.MESSAGE:
        if (streamId === 0) throw onConnection(type);
        if ((flags & (FrameFlag.END_STREAM | FrameFlag.CONTINUED)) === (FrameFlag.END_STREAM | FrameFlag.CONTINUED)) {
          throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, "petrel: MESSAGE with both END_STREAM and CONTINUED");
        }
        return;
      default:
        // HEADERS, TRAILERS, CANCEL.
        if (streamId === 0) throw onConnection(type);
    }
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

function onStream(type: number): ProtocolError {
  return new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: ${frameTypeName(type)} on a stream (it belongs to stream 0)`);
}

function onConnection(type: number): ProtocolError {
  return new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: ${frameTypeName(type)} on stream 0 (it needs a stream)`);
}

function badSize(type: number, plen: number): ProtocolError {
  return new ProtocolError(ErrorCode.FRAME_SIZE_ERROR, `petrel: ${frameTypeName(type)} payload of ${plen} bytes has the wrong size`);
}
