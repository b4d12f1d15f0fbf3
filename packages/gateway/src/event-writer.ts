// Writes the records of a streaming REST response (NDJSON lines, SSE events), either as is or
// through a streaming gzip/deflate/br compressor that is flushed after every record.
import type { Writable } from "node:stream";
import * as zlib from "node:zlib";
import { type HttpContentEncoding, type HttpResponse, createHttpContentEncoding, responseCoding } from "@petrel/node";
import { createCompressionRegistry, type Compression } from "@petrel/protocol-grpc";

/**
 * Brotli quality for streams, as for messages in @petrel/node: zlib's default (11) is tuned for
 * static assets and costs tens of milliseconds per flush on large records; 5 is about gzip's speed.
 */
const BROTLI_QUALITY = 5;

type Compressor = zlib.Gzip | zlib.Deflate | zlib.BrotliCompress;

/** The HTTP codings that have a streaming compressor here, with the flush that ends a record. */
const STREAMING: ReadonlyMap<string, { create(): Compressor; flush: number }> = new Map([
  ["gzip", { create: () => zlib.createGzip(), flush: zlib.constants.Z_SYNC_FLUSH }],
  // HTTP's "deflate" is the zlib format (RFC 9110 §8.4.1.2), which createDeflate writes.
  ["deflate", { create: () => zlib.createDeflate(), flush: zlib.constants.Z_SYNC_FLUSH }],
  [
    "br",
    {
      create: () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } }),
      flush: zlib.constants.BROTLI_OPERATION_FLUSH,
    },
  ],
]);

/**
 * The negotiation for streams: the server's codings restricted to those with a streaming
 * compressor, in the server's preference order, and no size threshold (a stream's size is not
 * known when its headers go out). Empty, so never compressing, when the server turned codings off.
 * @internal
 */
export function createStreamEncoding(enc: HttpContentEncoding): HttpContentEncoding {
  const streamable = enc.order.filter((c) => STREAMING.has(c.name));
  return createHttpContentEncoding({
    compressions: createCompressionRegistry(...streamable),
    preferredEncodings: streamable.map((c) => c.name),
    compressMinBytes: 0,
  });
}

/**
 * The coding for a streaming response under `accept` (the request's `Accept-Encoding`), or
 * undefined for identity: same q-value rules as unary responses. @internal
 */
export function streamCoding(streamEnc: HttpContentEncoding, accept: string | string[] | undefined): Compression | undefined {
  return responseCoding(streamEnc, accept, 0);
}

/** Where a streaming response's records go. @internal */
export interface EventWriter {
  /**
   * Writes one record, which reaches the socket as a whole (compressed: flushed). Resolves when
   * the next may be written: the response is below its high-water mark again, or closed.
   */
  write(record: string): Promise<void>;
  /** Writes the last record, if any, and ends the response. */
  end(record?: string): void;
  /** Bytes held in memory for this response and not yet handed to the socket. */
  readonly buffered: number;
  /** True once nothing more can be written: ended, or the client is gone (the compressor, if any, is then freed). */
  readonly destroyed: boolean;
}

/**
 * Creates the writer of a streaming response whose headers (with `Content-Encoding: coding`
 * when there is one) have been written. @internal
 */
export function createEventWriter(res: HttpResponse, coding: string | undefined): EventWriter {
  const streaming = coding === undefined ? undefined : STREAMING.get(coding);
  if (streaming === undefined) {
    return {
      write(record) {
        return (res as Writable).write(record) ? Promise.resolve() : drained(res);
      },
      end(record) {
        if (res.destroyed) return;
        if (record === undefined) res.end();
        else res.end(record);
      },
      get buffered() {
        return res.writableLength;
      },
      get destroyed() {
        return res.destroyed;
      },
    };
  }
  const z = streaming.create();
  const flushKind = streaming.flush;
  let waiting: (() => void) | undefined;
  const release = (): void => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  // pipe() stops reading the compressor while the socket is full; the compressor then holds the
  // callbacks of our writes (its readable side is above its high-water mark), so awaiting each
  // flush's callback keeps a slow reader from making us buffer more than a record plus the
  // streams' high-water marks.
  z.pipe(res as Writable);
  // A compressor failure cannot be reported once the status line is out: drop the connection,
  // which cancels the call like a client disconnect.
  z.on("error", () => res.destroy());
  res.once("close", () => {
    // Frees zlib's native state now instead of at garbage collection; a no-op once ended. A flush
    // whose callback the compressor was holding for a full socket is never called back after
    // destroy(), so its writer is released here.
    z.destroy();
    release();
  });
  return {
    write(record) {
      if (z.destroyed || res.destroyed) return Promise.resolve();
      z.write(record);
      // Z_SYNC_FLUSH (gzip, deflate) and BROTLI_OPERATION_FLUSH end the compressed block at a
      // byte boundary and emit everything written so far, so the client can decode the record at
      // once (an SSE client would otherwise wait for zlib's 16 KiB output buffer to fill). Unlike
      // Z_FULL_FLUSH they keep the history window, so later records still compress against
      // earlier ones; the cost is a few bytes of block framing per record.
      return new Promise<void>((resolve) => {
        waiting = resolve;
        z.flush(flushKind, release);
      });
    },
    end(record) {
      if (z.destroyed || res.destroyed) return;
      // Z_FINISH / BROTLI_OPERATION_FINISH; pipe() ends the response after the last bytes.
      if (record === undefined) z.end();
      else z.end(record);
    },
    get buffered() {
      return z.writableLength + z.readableLength + res.writableLength;
    },
    get destroyed() {
      return z.destroyed || res.destroyed;
    },
  };
}

/** Resolves once `res` drains or closes. */
function drained(res: HttpResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
