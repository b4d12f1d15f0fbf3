/**
 * Encodes frames back to back into one reused buffer, so a burst of frames (say HEADERS, a
 * MESSAGE and a WINDOW_UPDATE) becomes a single socket write and encoding allocates nothing.
 */
import { ByteSink } from "./byte-sink.js";
import { writeCancelPayload } from "./cancel-payload.js";
import { FRAME_HEADER_SIZE, FrameFlag, FrameType, MAX_WINDOW, PREFACE_MAGIC, PROTOCOL_VERSION } from "./frame-types.js";
import { writeGoAwayPayload } from "./goaway-payload.js";
import { writeRequestHeadersPayload } from "./headers-payload.js";
import { writeMetadataBlock } from "./metadata-block.js";
import { EMPTY_BYTES } from "./payload-cursor.js";
import { type Settings, writeSettingsPayload } from "./settings-payload.js";
import { writeTrailersPayload } from "./trailers-payload.js";

/** Options of a {@link FrameWriter}. */
export interface FrameWriterOptions {
  /** Starting buffer size in bytes (default 16 KiB). It doubles as needed. */
  initialCapacity?: number;
  /**
   * Largest buffer kept after {@link FrameWriter.take} hands a big batch out (default 1 MiB), so
   * one huge message does not pin a huge buffer for the connection's lifetime.
   */
  retainCapacity?: number;
}

/** Batches below this size are copied out on take(); bigger ones hand the buffer over. */
const HANDOFF_MIN = 4096;

const NO_METADATA: ReadonlyArray<string | Uint8Array> = Object.freeze([]);

/**
 * Appends petrel/1 frames to a growable buffer; {@link take} returns everything written since the
 * last take. Arguments that would produce a frame the peer must reject (bad codes, keys, sizes)
 * throw a TypeError/RangeError and leave the batch as it was before the call.
 */
export class FrameWriter {
  private readonly sink: ByteSink;
  private readonly retainCapacity: number;

  constructor(options: FrameWriterOptions = {}) {
    this.sink = new ByteSink(options.initialCapacity ?? 16_384);
    this.retainCapacity = Math.max(options.retainCapacity ?? 1024 * 1024, 64);
  }

  /** Bytes written since the last {@link take}. */
  get size(): number {
    return this.sink.pos;
  }

  /**
   * Returns the bytes written since the last take and starts a new batch. The result is never
   * written to again, so it can go straight to `socket.write`. Small batches are copied out
   * (cheap, and the warm buffer is kept); large ones take the buffer itself, avoiding the copy.
   */
  take(): Uint8Array {
    const sink = this.sink;
    const n = sink.pos;
    if (n === 0) return EMPTY_BYTES;
    const buf = sink.buf;
    sink.pos = 0;
    if (n < HANDOFF_MIN || n < buf.length >>> 1) return buf.slice(0, n);
    sink.buf = new Uint8Array(Math.min(buf.length, this.retainCapacity));
    return buf.subarray(0, n);
  }

  /** Drops everything written since the last take (e.g. the connection died). */
  discard(): void {
    this.sink.pos = 0;
  }

  /** Writes a frame header with a zero length and returns its offset, for {@link end}. */
  private begin(type: number, flags: number, streamId: number): number {
    const sink = this.sink;
    sink.ensure(FRAME_HEADER_SIZE);
    const b = sink.buf;
    const p = sink.pos;
    b[p] = 0;
    b[p + 1] = 0;
    b[p + 2] = 0;
    b[p + 3] = 0;
    b[p + 4] = type;
    b[p + 5] = flags;
    b[p + 6] = streamId >>> 24;
    b[p + 7] = streamId >>> 16;
    b[p + 8] = streamId >>> 8;
    b[p + 9] = streamId;
    sink.pos = p + FRAME_HEADER_SIZE;
    return p;
  }

  /** Patches the payload length of the frame begun at `start`. */
  private end(start: number): void {
    this.sink.patchU32(start, this.sink.pos - start - FRAME_HEADER_SIZE);
  }

  /** The connection preface: "PETREL", `version`, a reserved 0. */
  writePreface(version: number = PROTOCOL_VERSION): void {
    if (!Number.isInteger(version) || version < 0 || version > 0xff) throw new RangeError(`petrel: invalid protocol version ${version}`);
    const sink = this.sink;
    for (let i = 0; i < PREFACE_MAGIC.length; i++) sink.u8(PREFACE_MAGIC[i] as number);
    sink.u8(version);
    sink.u8(0);
  }

  /** SETTINGS with an entry for each field present in `settings`. */
  writeSettings(settings: Partial<Settings>): void {
    const start = this.begin(FrameType.SETTINGS, 0, 0);
    try {
      writeSettingsPayload(this.sink, settings);
    } catch (e) {
      this.sink.pos = start;
      throw e;
    }
    this.end(start);
  }

  /** The empty SETTINGS ACK that acknowledges the peer's SETTINGS. */
  writeSettingsAck(): void {
    this.begin(FrameType.SETTINGS, FrameFlag.ACK, 0);
  }

  /**
   * The client's HEADERS that opens `streamId`. HAS_TIMEOUT is set iff `timeoutMs` is defined
   * (relative ms; rounded up, clamped to u32, 0 = already expired); `endStream` says the client
   * sends no messages.
   */
  writeRequestHeaders(
    streamId: number,
    codec: string,
    path: string,
    timeoutMs: number | undefined,
    metadata: ReadonlyArray<string | Uint8Array> = NO_METADATA,
    endStream = false,
  ): void {
    const flags = (timeoutMs === undefined ? 0 : FrameFlag.HAS_TIMEOUT) | (endStream ? FrameFlag.END_STREAM : 0);
    const start = this.begin(FrameType.HEADERS, flags, streamId);
    try {
      writeRequestHeadersPayload(this.sink, codec, path, timeoutMs, metadata);
    } catch (e) {
      this.sink.pos = start;
      throw e;
    }
    this.end(start);
  }

  /** The server's response HEADERS: a metadata block only. */
  writeResponseHeaders(streamId: number, metadata: ReadonlyArray<string | Uint8Array> = NO_METADATA): void {
    const start = this.begin(FrameType.HEADERS, 0, streamId);
    try {
      writeMetadataBlock(this.sink, metadata);
    } catch (e) {
      this.sink.pos = start;
      throw e;
    }
    this.end(start);
  }

  /**
   * One MESSAGE frame carrying `bytes[offset, offset + length)`. The offset/length pair lets the
   * flow-control code cut a message into credit-sized chunks without making subarray views.
   * The caller keeps the payload within the peer's MAX_FRAME_SIZE.
   */
  writeMessage(streamId: number, flags: number, bytes: Uint8Array, offset = 0, length: number = bytes.length - offset): void {
    const start = this.begin(FrameType.MESSAGE, flags, streamId);
    this.sink.bytes(bytes, offset, length);
    this.end(start);
  }

  /**
   * Writes a whole message as MESSAGE frames of at most `maxFrameSize` payload bytes: CONTINUED
   * on every frame but the last, END_STREAM (if in `flags`) only on the last, COMPRESSED (if in
   * `flags`) on all. An empty message is one empty frame. Returns the number of frames written.
   */
  writeMessageChunked(streamId: number, bytes: Uint8Array, maxFrameSize: number, flags = 0): number {
    if (!(maxFrameSize >= 1)) throw new RangeError(`petrel: invalid maxFrameSize ${maxFrameSize}`);
    const total = bytes.length;
    const middle = (flags & ~FrameFlag.END_STREAM) | FrameFlag.CONTINUED;
    const last = flags & ~FrameFlag.CONTINUED;
    let off = 0;
    let frames = 0;
    while (total - off > maxFrameSize) {
      this.writeMessage(streamId, middle, bytes, off, maxFrameSize);
      off += maxFrameSize;
      frames++;
    }
    this.writeMessage(streamId, last, bytes, off, total - off);
    return frames + 1;
  }

  /** The server's TRAILERS, ending the stream. A message over 65535 bytes is truncated. */
  writeTrailers(
    streamId: number,
    code: number,
    message = "",
    details: Uint8Array = EMPTY_BYTES,
    metadata: ReadonlyArray<string | Uint8Array> = NO_METADATA,
  ): void {
    const start = this.begin(FrameType.TRAILERS, 0, streamId);
    try {
      writeTrailersPayload(this.sink, code, message, details, metadata);
    } catch (e) {
      this.sink.pos = start;
      throw e;
    }
    this.end(start);
  }

  /** HALF_CLOSE: the client sends no more messages on `streamId`. */
  writeHalfClose(streamId: number): void {
    this.begin(FrameType.HALF_CLOSE, 0, streamId);
  }

  /** CANCEL, ending `streamId` with status `code` (usually CANCELLED or DEADLINE_EXCEEDED). */
  writeCancel(streamId: number, code: number, reason = ""): void {
    const start = this.begin(FrameType.CANCEL, 0, streamId);
    try {
      writeCancelPayload(this.sink, code, reason);
    } catch (e) {
      this.sink.pos = start;
      throw e;
    }
    this.end(start);
  }

  /** WINDOW_UPDATE granting `increment` (1..2^31-1) bytes; stream 0 is the connection window. */
  writeWindowUpdate(streamId: number, increment: number): void {
    if (!Number.isInteger(increment) || increment < 1 || increment > MAX_WINDOW) {
      throw new RangeError(`petrel: WINDOW_UPDATE increment ${increment} outside 1..2^31-1`);
    }
    const start = this.begin(FrameType.WINDOW_UPDATE, 0, streamId);
    this.sink.u32(increment);
    this.end(start);
  }

  /** PING with an 8-byte opaque payload; `ack` for the reply, which echoes the payload. */
  writePing(data: Uint8Array, ack = false): void {
    if (data.length !== 8) throw new RangeError("petrel: PING payload must be 8 bytes");
    const start = this.begin(FrameType.PING, ack ? FrameFlag.ACK : 0, 0);
    this.sink.bytes(data);
    this.end(start);
  }

  /** GOAWAY: streams above `lastStreamId` were not processed; debug text is truncated at 65535 bytes. */
  writeGoAway(lastStreamId: number, errorCode: number, debug = ""): void {
    const start = this.begin(FrameType.GOAWAY, 0, 0);
    try {
      writeGoAwayPayload(this.sink, lastStreamId, errorCode, debug);
    } catch (e) {
      this.sink.pos = start;
      throw e;
    }
    this.end(start);
  }
}
