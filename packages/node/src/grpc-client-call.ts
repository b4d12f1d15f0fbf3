// One outbound gRPC call on node:http2: request headers and frames out, response headers,
// messages and trailers in, settled exactly once. createGrpcTransport (grpc-transport.ts) owns
// the sessions, keepalive, TLS and request headers, and opens one GrpcClientCall per call; what
// the response's headers say is read by grpc-response-headers.ts.
import * as http2 from "node:http2";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  COMMITTED,
  markRpcError,
  AsyncQueue,
  Code,
  Metadata,
  RpcError,
  type Codec,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
  markReceivedCompressed,
  messageCompressionHint,
  settleError,
  settleOk,
  type UnarySettle,
} from "@petrel/core";
import {
  MessageDeframer,
  GRPC_FRAME_HEADER_SIZE,
  headersToMetadata,
  readGrpcStatus,
  type Compression,
  type CompressionRegistry,
} from "@petrel/protocol-grpc";
import { shouldCompress } from "./grpc-compression.js";
import { frame } from "./grpc-frame.js";
import { type InflaterHooks, OrderedInflater } from "./grpc-ordered-inflater.js";
import { isGrpcContentType, notGrpcResponseError, responseCompression, streamResetError } from "./grpc-response-headers.js";

/** Response messages queued for a slow reader before we stop reading (HTTP/2 flow control then pushes back). */
export const OUTPUT_HIGH_WATER = 16;

/** Compresses one request message; a failing compressor is INTERNAL. */
export async function compressRequest(c: Compression, bytes: Uint8Array): Promise<Uint8Array> {
  try {
    return await c.compress(bytes);
  } catch (e) {
    throw new RpcError(Code.INTERNAL, `grpc: cannot compress request: ${(e as Error).message}`, { cause: e });
  }
}

/** Calls in flight on one session. */
export interface CallCount {
  n: number;
}

/** The call an http2 stream belongs to (a property on the stream, so listeners need no closure). */
const kCall = Symbol("petrel.grpcClientCall");
type CallStream = http2.ClientHttp2Stream & { [kCall]: GrpcClientCall };

// Stream listeners shared by every call: `this` is the stream. A closure per call and event would
// cost an allocation (and tsx's __name wrapper) on every call.
function onStreamResponse(this: CallStream, h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
  this[kCall].onResponse(h);
}
function onStreamData(this: CallStream, chunk: Buffer): void {
  this[kCall].onData(chunk);
}
function onStreamTrailers(this: CallStream, t: http2.IncomingHttpHeaders): void {
  this[kCall].trailers = t as Record<string, string | string[] | undefined>;
}
function onStreamError(this: CallStream, e: Error): void {
  this[kCall].onError(e);
}
function onStreamEnd(this: CallStream): void {
  this[kCall].onEnd();
}
function onStreamClose(this: CallStream): void {
  this[kCall].onClose();
}
function onCallDeadline(call: GrpcClientCall): void {
  call.cancel(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
}

/**
 * One outbound gRPC call. It settles once the response has ended (status in trailers or a
 * Trailers-Only response) — not on the stream's "close", which waits for the request side to end
 * too — or when the stream closes early (reset, connection lost).
 */
export class GrpcClientCall implements InflaterHooks {
  /** Response headers (undefined until a non-Trailers-Only response arrives). */
  header: Metadata | undefined = undefined;
  /** Streaming calls: the response's trailer, filled in when the call ends. */
  readonly trailer: Metadata | undefined;
  /** Unary calls: the one response message and how many arrived. */
  private message: MessageShape<DescMessage> | undefined = undefined;
  private messageCount = 0;
  readonly queue: AsyncQueue<MessageShape<DescMessage>> | undefined;
  resolve: ((r: UnaryResponse | StreamResponse) => void) | undefined = undefined;
  reject: ((e: RpcError) => void) | undefined = undefined;
  /** A unary call's outcome hook (Transport.unarySettled), or undefined. */
  unarySettle: UnarySettle | undefined = undefined;
  trailers: Record<string, string | string[] | undefined> | undefined = undefined;
  private done = false;
  private ended = false;
  private headersDelivered = false;
  private httpStatus: number | undefined = undefined;
  private grpcResponse = false;
  private trailersOnly: Record<string, string | string[] | undefined> | undefined = undefined;
  private localError: RpcError | undefined = undefined;
  /** Created only when the response does not arrive as one message per DATA chunk. */
  private deframer: MessageDeframer | undefined = undefined;
  private onDeframed: ((bytes: Uint8Array, compressed: boolean) => void) | undefined = undefined;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private onAbort: (() => void) | undefined = undefined;
  /** The response's `grpc-encoding` algorithm; undefined for identity. */
  private resCompression: Compression | undefined = undefined;
  /** Response messages in arrival order; created when the first compressed message arrives. */
  private inflater: OrderedInflater | undefined = undefined;
  /** The request iterator being pumped (streaming calls), returned when the call ends first. */
  private requests: AsyncIterator<MessageShape<DescMessage>> | undefined = undefined;
  private requestsDone = false;

  constructor(
    readonly stream: http2.ClientHttp2Stream,
    /** The call's session (`stream.session` is gone once the stream closes). */
    private readonly session: http2.ClientHttp2Session,
    private readonly calls: CallCount,
    private readonly codec: Codec,
    private readonly req: UnaryRequest | StreamRequest,
    private readonly maxRecv: number,
    streaming: boolean,
    private readonly compressions: CompressionRegistry,
  ) {
    if (streaming) {
      this.trailer = new Metadata();
      this.queue = new AsyncQueue<MessageShape<DescMessage>>(
        () => {
          this.maybeResume();
        },
        () => this.cancel(new RpcError(Code.CANCELLED, "client stopped reading the response stream")),
      );
    }
    // setTimeout turns delays over 2^31-1 ms into 1 ms: a deadline that far out counts as none.
    const deadline = req.deadline;
    if (deadline !== undefined && deadline - Date.now() <= 0x7fff_ffff) {
      // Not unref'd: a call in flight keeps the process alive anyway (its session is ref'd).
      this.timer = setTimeout(onCallDeadline, Math.max(0, deadline - Date.now()), this);
    }
    if (req.signal !== undefined) {
      this.onAbort = () => this.cancel(new RpcError(Code.CANCELLED, "call cancelled"));
      req.signal.addEventListener("abort", this.onAbort);
    }
    (stream as CallStream)[kCall] = this;
    stream.on("response", onStreamResponse);
    stream.on("data", onStreamData);
    stream.on("trailers", onStreamTrailers);
    stream.on("error", onStreamError);
    stream.on("end", onStreamEnd);
    stream.on("close", onStreamClose);
  }

  onResponse(h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
    this.httpStatus = h[":status"];
    this.grpcResponse = isGrpcContentType(h["content-type"]);
    if (this.httpStatus === 200 && this.grpcResponse && h["grpc-status"] !== undefined) {
      // Trailers-Only: the status came in the headers, nothing follows.
      this.trailersOnly = h as Record<string, string | string[] | undefined>;
      return;
    }
    if (this.httpStatus !== 200 || !this.grpcResponse) return;
    try {
      this.resCompression = responseCompression(h, this.compressions);
      this.header = headersToMetadata(h as Record<string, string | string[] | undefined>);
    } catch (e) {
      this.cancel(RpcError.from(e, Code.INTERNAL));
      return;
    }
    if (this.queue !== undefined) this.deliverHeaders();
  }

  /** Streaming calls: resolves the call with its response once headers (or the end) arrived. */
  private deliverHeaders(): void {
    if (this.headersDelivered) return;
    this.headersDelivered = true;
    const req = this.req;
    this.resolve?.({
      stream: true,
      service: req.service,
      method: req.method,
      header: this.header ?? new Metadata(),
      trailer: this.trailer as Metadata,
      message: this.queue as AsyncQueue<MessageShape<DescMessage>>,
    });
  }

  onData(chunk: Buffer): void {
    if (this.done || !this.grpcResponse || this.httpStatus !== 200) return;
    try {
      if (this.deframer === undefined) {
        // Fast path: a chunk holding exactly one whole message (the usual unary response) needs
        // no deframer. Anything else goes through one from here on.
        const flag = chunk[0];
        if (chunk.length >= GRPC_FRAME_HEADER_SIZE && (flag === 0 || flag === 1)) {
          const len =
            (((chunk[1] as number) << 24) | ((chunk[2] as number) << 16) | ((chunk[3] as number) << 8) | (chunk[4] as number)) >>> 0;
          if (len + GRPC_FRAME_HEADER_SIZE === chunk.length && len <= this.maxRecv) {
            this.onMessage(chunk.subarray(GRPC_FRAME_HEADER_SIZE), flag === 1);
            return;
          }
        }
        this.deframer = new MessageDeframer({ maxMessageSize: this.maxRecv });
        this.onDeframed = (bytes, compressed) => this.onMessage(bytes, compressed);
      }
      this.deframer.push(chunk, this.onDeframed as (bytes: Uint8Array, compressed: boolean) => void);
    } catch (e) {
      this.cancel(RpcError.from(e, Code.INTERNAL));
    }
  }

  private onMessage(bytes: Uint8Array, compressed: boolean): void {
    if (this.done) return;
    const comp = this.resCompression;
    if (compressed && comp === undefined) throw new RpcError(Code.INTERNAL, "grpc: compressed response without grpc-encoding");
    if (!compressed && this.inflater === undefined) return this.deliver(bytes, false);
    this.inflater ??= new OrderedInflater(this, this.maxRecv, OUTPUT_HIGH_WATER);
    this.inflater.push(bytes, compressed, comp);
  }

  /** InflaterHooks: whether the call ended. */
  isDone(): boolean {
    return this.done;
  }

  /** InflaterHooks: one message, decompressed, in arrival order. */
  deliver(bytes: Uint8Array, compressed: boolean): void {
    let m: MessageShape<DescMessage>;
    try {
      m = this.codec.decode(this.req.method.output, bytes);
    } catch (e) {
      throw new RpcError(Code.INTERNAL, `grpc: cannot decode response ${this.req.method.output.typeName}: ${(e as Error).message}`);
    }
    if (compressed) markReceivedCompressed(m);
    if (this.queue !== undefined) {
      this.queue.push(m);
      if (this.queue.length >= OUTPUT_HIGH_WATER) this.stream.pause();
    } else {
      this.messageCount++;
      this.message = m;
    }
  }

  /** InflaterHooks: decompression or delivery failed. */
  fail(e: RpcError): void {
    this.cancel(e);
  }

  /** InflaterHooks: too many messages wait for decompression. */
  pause(): void {
    this.stream.pause();
  }

  /** InflaterHooks: one decompression finished. */
  settled(): void {
    this.maybeResume();
  }

  /** Resumes reading once neither the reader's queue nor the decompression chain is backed up. */
  private maybeResume(): void {
    if (this.done || !this.stream.isPaused()) return;
    if ((this.queue?.length ?? 0) < OUTPUT_HIGH_WATER / 2 && (this.inflater?.inflight ?? 0) < OUTPUT_HIGH_WATER / 2) this.stream.resume();
  }

  /**
   * Sends the request stream with backpressure; half-closes at its end. With `compression`, each
   * message is compressed as its hint or, without one, its size against `compressMinBytes` says.
   */
  async pumpRequests(
    input: AsyncIterable<MessageShape<DescMessage>>,
    maxSend: number,
    compression?: Compression,
    compressMinBytes = 0,
  ): Promise<void> {
    let it: AsyncIterator<MessageShape<DescMessage>>;
    try {
      it = input[Symbol.asyncIterator]();
    } catch (e) {
      this.cancel(RpcError.from(e, Code.CANCELLED));
      return;
    }
    this.requests = it;
    try {
      for (;;) {
        const r = await it.next();
        if (this.done || this.stream.destroyed) return;
        if (r.done) {
          this.requestsDone = true;
          break;
        }
        let bytes = this.codec.encode(this.req.method.input, r.value);
        if (bytes.length > maxSend)
          throw new RpcError(Code.RESOURCE_EXHAUSTED, `grpc: request message of ${bytes.length} bytes exceeds the limit of ${maxSend}`);
        const compress = compression !== undefined && shouldCompress(messageCompressionHint(r.value), bytes.length, compressMinBytes);
        if (compress) {
          bytes = await compressRequest(compression, bytes);
          if (this.done || this.stream.destroyed) return;
        }
        if (!this.stream.write(frame(bytes, compress))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              this.stream.off("drain", done);
              this.stream.off("close", done);
              resolve();
            };
            this.stream.on("drain", done);
            this.stream.on("close", done);
          });
        }
      }
      if (!this.stream.destroyed) this.stream.end();
    } catch (e) {
      this.requestsDone = true;
      this.cancel(RpcError.from(e, Code.CANCELLED));
    } finally {
      this.stopRequests();
    }
  }

  /** Cancels the request iterator (once) unless it finished: its `finally` blocks run. */
  private stopRequests(): void {
    const it = this.requests;
    if (it === undefined || this.requestsDone) return;
    this.requestsDone = true;
    try {
      it.return?.()?.catch(() => {});
    } catch {
      // A throwing return() must not break the call's settlement.
    }
  }

  /** Ends the call locally with `err` and resets the stream. */
  cancel(err: RpcError): void {
    if (this.done) return;
    this.settle(err);
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  onError(e: Error): void {
    // A refused stream also errors; resetError() names it (and marks it unprocessed).
    if (this.stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return;
    this.localError ??= new RpcError(Code.UNAVAILABLE, `grpc: ${e.message}`);
  }

  /** The response ended (END_STREAM): the status is final even if the request side is still open. */
  onEnd(): void {
    this.ended = true;
    this.finish();
  }

  onClose(): void {
    // Every stream closes exactly once: the session may idle once no call is left.
    if (--this.calls.n === 0 && !this.session.destroyed) this.session.unref();
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    const busy = this.inflater?.busy;
    if (busy !== undefined) {
      // Settle only after the messages still being decompressed are delivered.
      void busy.then(() => this.finish());
      return;
    }
    let err: RpcError | undefined;
    let trailer: Metadata | undefined;
    const status = this.trailersOnly ?? this.trailers;
    if (this.httpStatus === undefined) {
      err = this.localError ?? this.resetError() ?? new RpcError(Code.UNAVAILABLE, "grpc: connection closed before a response");
    } else if (this.httpStatus !== 200 || !this.grpcResponse) {
      err = notGrpcResponseError(this.httpStatus);
    } else if (status === undefined || status["grpc-status"] === undefined) {
      err = this.localError ?? this.resetError() ?? new RpcError(Code.INTERNAL, "grpc: response ended without grpc-status");
    } else {
      try {
        this.deframer?.end();
        const s = readGrpcStatus(status);
        if (s !== undefined) {
          trailer = this.trailer === undefined ? s.metadata : this.trailer.merge(s.metadata);
          if (s.code !== Code.OK) err = new RpcError(s.code, s.message, { details: s.details, metadata: trailer });
        }
      } catch (e) {
        err = RpcError.from(e, Code.INTERNAL);
      }
    }
    this.settle(err, trailer);
    // The response is complete while the request side may still be open (the server answered
    // early): reset the stream, as the spec allows, so it does not wait for our END_STREAM.
    // Only while our side is unfinished: node:http2 may report the end of the response before it
    // processes the stream's close, and a reset then would hit a stream nghttp2 already closed.
    if (this.ended && !this.stream.writableFinished && !this.stream.closed && !this.stream.destroyed) {
      this.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    }
  }

  /** The error for a stream that ended in RST_STREAM, if it did. */
  private resetError(): RpcError | undefined {
    return streamResetError(this.stream.rstCode, this.session.destroyed);
  }

  private settle(err: RpcError | undefined, trailer?: Metadata): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.req.signal?.removeEventListener("abort", this.onAbort);
    this.stopRequests();
    const queue = this.queue;
    if (queue !== undefined) {
      if (err === undefined) {
        this.deliverHeaders();
        queue.end();
      } else if (this.headersDelivered) queue.fail(err);
      else this.reject?.(err);
      return;
    }
    if (err !== undefined) {
      // Response headers came before the failure (not Trailers-Only): the call is committed and
      // must not be retried (gRFC A6).
      if (this.header !== undefined) markRpcError(err, COMMITTED);
      return this.failUnary(err);
    }
    const t = trailer ?? new Metadata();
    if (this.messageCount !== 1) {
      return this.failUnary(
        new RpcError(Code.UNIMPLEMENTED, `grpc: unary call got ${this.messageCount} response messages, want 1`, { metadata: t }),
      );
    }
    const req = this.req;
    const res: UnaryResponse = {
      stream: false,
      service: req.service,
      method: req.method,
      header: this.header ?? new Metadata(),
      trailer: t,
      message: this.message as MessageShape<DescMessage>,
    };
    if (this.unarySettle === undefined) this.resolve?.(res);
    else settleOk(this.unarySettle, res, this.resolve as (r: UnaryResponse) => void, this.reject as (e: unknown) => void);
  }

  /** Fails a unary call, through its settle hook when it has one. */
  private failUnary(err: RpcError): void {
    if (this.unarySettle === undefined) this.reject?.(err);
    else settleError(this.unarySettle, err, this.resolve as (r: UnaryResponse) => void, this.reject as (e: unknown) => void);
  }
}
