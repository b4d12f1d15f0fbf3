// One inbound gRPC call on node:http2: request frames in, response headers, messages and
// trailers out. createGrpcServer (grpc-server.ts) owns the server and its sessions and hands every
// new stream to handleStream; the request's headers are checked by grpc-request-headers.ts.
import type * as http2 from "node:http2";
import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import {
  admissionOutcome,
  AsyncQueue,
  Code,
  OVERLOAD_MESSAGE,
  type AdmissionController,
  type AdmissionPermit,
  type Metadata,
  RpcError,
  ServerContext,
  toWireError,
  type Codec,
  type HandlerContext,
  type MethodHandler,
  type Router,
  type ServerResponse,
  markReceivedCompressed,
  messageCompressionHint,
} from "@petrel/core";
import { COMPRESS_HEADER } from "@petrel/protocol-native";
import {
  GRPC_FRAME_HEADER_SIZE,
  MessageDeframer,
  headersToMetadata,
  metadataToHeaders,
  writeGrpcStatus,
  type Compression,
  type CompressionRegistry,
} from "@petrel/protocol-grpc";
import { shouldCompress } from "./grpc-compression.js";
import { frame } from "./grpc-frame.js";
import { type InflaterHooks, OrderedInflater } from "./grpc-ordered-inflater.js";
import {
  acceptedCompression,
  checkRequestHeaders,
  parseRequestContentType,
  requestTimeoutMs,
  trailersOnly,
  type RequestContentType,
} from "./grpc-request-headers.js";
import type { GrpcPeerInfo } from "./grpc-tls.js";

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 0x7fff_ffff;
/** Request messages queued for a streaming handler before we stop reading (HTTP/2 flow control then pushes back). */
const INPUT_HIGH_WATER = 16;

/** Settings shared by every call of one server. */
export interface ServerConfig {
  router: Router;
  maxRecv: number;
  maxSend: number;
  compressions: CompressionRegistry;
  responseCompression: (method: DescMethod) => string | undefined;
  /** Response messages smaller than this go uncompressed on a compressing call (unless hinted). */
  compressMinBytes: number;
  onHandlerError: (error: unknown, ctx: HandlerContext) => void;
  /** The handler's view of the caller. */
  peer: (stream: http2.ServerHttp2Stream) => GrpcPeerInfo;
  /** See {@link HeaderCache}. */
  headerCache: HeaderCache | undefined;
  /** Early load shedding, asked before the request is decoded. */
  admission: AdmissionController | undefined;
}

/**
 * The caller's peer info, built once per session: reading the address goes through the session's
 * socket Proxy and builds a string, which cost more per call than the rest of the header checks.
 */
const kPeer = Symbol("petrel.grpcPeer");
type PeerCachingSession = http2.ServerHttp2Session & { [kPeer]?: GrpcPeerInfo };

function sessionPeer(stream: http2.ServerHttp2Stream, config: ServerConfig): GrpcPeerInfo {
  const session = stream.session as PeerCachingSession | undefined;
  if (session === undefined) return config.peer(stream);
  let peer = session[kPeer];
  if (peer === undefined) {
    peer = config.peer(stream);
    session[kPeer] = peer;
  }
  return peer;
}

/** Response headers of a call without response metadata or compression, reused (http2 copies them). */
export interface HeaderCache {
  contentType: string;
  accept: string;
  headers: Record<string, string>;
}

/** Trailers of a call that ended OK without trailer metadata, reused (http2 copies them). */
const OK_TRAILERS: Readonly<Record<string, string>> = { "grpc-status": "0" };

/**
 * Stream listeners shared by every call, finding the call through `stream[kCall]`: per-call
 * closures (and `once` wrappers) were a measurable share of a unary call's CPU.
 */
const kCall = Symbol("petrel.grpcCall");
type CallStream = http2.ServerHttp2Stream & { [kCall]: GrpcServerCall };

function ignoreStreamError(): void {
  // Stream errors end the stream; 'close' (below) cancels the call.
}
function onStreamData(this: CallStream, chunk: Buffer): void {
  this[kCall].onData(chunk);
}
function onStreamEnd(this: CallStream): void {
  this[kCall].onEnd();
}
function onStreamClose(this: CallStream): void {
  this[kCall].onClose();
}
function onWantTrailers(this: CallStream): void {
  this.sendTrailers(this[kCall].trailers);
}

/**
 * Serves one HTTP/2 stream as a gRPC call. Returns false, without touching the stream, when the
 * content-type is not gRPC's (`application/grpc[+codec]`), so the server can hand the stream to
 * other HTTP protocols or answer 415.
 */
export function handleStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, config: ServerConfig): boolean {
  const ct = parseRequestContentType(headers["content-type"]);
  if (ct === undefined) return false;
  stream.on("error", ignoreStreamError);
  serveCall(stream, headers, config, ct);
  return true;
}

/** Starts the call of a stream whose headers pass the checks, unless admission sheds it. */
function serveCall(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  config: ServerConfig,
  ct: RequestContentType,
): void {
  const head = checkRequestHeaders(stream, headers, config.router, config.compressions, ct);
  if (head === undefined) return;
  let permit: AdmissionPermit | undefined;
  if (config.admission !== undefined) {
    permit = config.admission.admit();
    if (permit === undefined) {
      trailersOnly(stream, ct.contentType, Code.RESOURCE_EXHAUSTED, OVERLOAD_MESSAGE, {
        "grpc-retry-pushback-ms": String(Math.max(0, Math.round(config.admission.pushbackMs))),
      });
      return;
    }
  }
  let timeoutMs: number | undefined;
  let md: Metadata;
  try {
    timeoutMs = requestTimeoutMs(headers);
    md = headersToMetadata(headers as Record<string, string | string[] | undefined>);
  } catch (e) {
    const err = RpcError.from(e, Code.INTERNAL);
    permit?.release("ignore");
    trailersOnly(stream, ct.contentType, err.code, err.rawMessage);
    return;
  }
  const handler = head.handler;
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const ctx = new ServerContext(handler.service, handler.method, md, deadline, sessionPeer(stream, config));
  const call = new GrpcServerCall(
    stream as CallStream,
    handler,
    head.codec,
    ct.contentType,
    ctx,
    config,
    head.compression,
    headers["grpc-accept-encoding"],
  );
  call.permit = permit;
  call.start(timeoutMs);
}

/**
 * One inbound gRPC call: request frames in, response headers, messages and trailers out. It is
 * also the hooks object of its (lazily created) {@link OrderedInflater}.
 */
class GrpcServerCall implements InflaterHooks {
  /** Created at the first chunk that is not exactly one whole message (see {@link onData}). */
  private deframer: MessageDeframer | undefined = undefined;
  private input: AsyncQueue<MessageShape<DescMessage>> | undefined = undefined;
  private done = false;
  private started = false;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private readonly unary: boolean;
  /** The response compression once chosen (undefined inside: identity); see {@link responseCompression}. */
  private resCompression: { c: Compression | undefined } | undefined = undefined;
  /**
   * Request messages in arrival order, decompressed asynchronously when compressed; created at the
   * first compressed message (until then nothing can be queued, so messages go straight through).
   */
  private inflater: OrderedInflater | undefined = undefined;
  /** What the 'wantTrailers' listener sends. */
  trailers: Record<string, string | string[]> = OK_TRAILERS as Record<string, string>;
  /** The admission permit, released when the stream closes with the call's outcome. */
  permit: AdmissionPermit | undefined = undefined;
  /** The status sent, once sent (undefined: the call was cancelled or its stream lost). */
  private finalCode: number | undefined = undefined;

  constructor(
    private readonly stream: CallStream,
    private readonly handler: MethodHandler,
    private readonly codec: Codec,
    private readonly contentType: string,
    private readonly ctx: ServerContext,
    private readonly config: ServerConfig,
    /** The request's `grpc-encoding` algorithm; undefined for identity. */
    private readonly reqCompression: Compression | undefined,
    /** The client's raw `grpc-accept-encoding`, parsed only when a response may be compressed. */
    private readonly acceptHeader: string | string[] | undefined,
  ) {
    this.unary = handler.method.methodKind === "unary";
  }

  start(timeoutMs: number | undefined): void {
    const stream = this.stream;
    stream[kCall] = this;
    if (timeoutMs !== undefined) {
      if (timeoutMs <= 0) return this.fail(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded before the call started"));
      // setTimeout turns delays over 2^31-1 ms into 1 ms: a deadline that far out (~24.8 days) is
      // treated as none, as grpc-js does.
      if (timeoutMs <= MAX_TIMER_MS) {
        this.timer = setTimeout(() => this.fail(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")), timeoutMs);
        this.timer.unref?.();
      }
    }
    if (!this.unary) {
      this.input = new AsyncQueue<MessageShape<DescMessage>>(() => this.maybeResume());
      this.started = true;
      this.handler.invoke({ stream: true, method: this.handler.method, ctx: this.ctx, message: this.input }).then(
        (res) => this.pump(res),
        (e) => this.fail(e),
      );
    }
    stream.on("data", onStreamData);
    stream.on("end", onStreamEnd);
    stream.on("close", onStreamClose);
  }

  /** The client reset the stream, or the session died, before we finished. */
  onClose(): void {
    if (!this.done) this.abort(new RpcError(Code.CANCELLED, "call cancelled by the client"));
    if (this.permit !== undefined) {
      this.permit.release(admissionOutcome(this.finalCode));
      this.permit = undefined;
    }
  }

  /** Resumes reading once neither the handler's queue nor the decompression chain is backed up. */
  private maybeResume(): void {
    if (this.done || !this.stream.isPaused()) return;
    if ((this.input?.length ?? 0) < INPUT_HIGH_WATER / 2 && (this.inflater?.inflight ?? 0) < INPUT_HIGH_WATER / 2) this.stream.resume();
  }

  onData(chunk: Buffer): void {
    if (this.done) return;
    try {
      const n = chunk.length;
      if (this.deframer === undefined && n >= GRPC_FRAME_HEADER_SIZE) {
        // Fast path: a chunk holding exactly one whole message (a small unary request usually
        // arrives so) needs no deframer. Anything else (a bad prefix included) goes through one.
        const flag = chunk[0] as number;
        // `>>> 0` keeps lengths of 2^31 and above positive.
        const len =
          (((chunk[1] as number) << 24) | ((chunk[2] as number) << 16) | ((chunk[3] as number) << 8) | (chunk[4] as number)) >>> 0;
        if (flag <= 1 && n === GRPC_FRAME_HEADER_SIZE + len && len <= this.config.maxRecv) {
          // A plain Uint8Array view: cheaper to make than a Buffer subarray.
          return this.onMessage(new Uint8Array(chunk.buffer, chunk.byteOffset + GRPC_FRAME_HEADER_SIZE, len), flag === 1);
        }
      }
      this.deframer ??= new MessageDeframer({ maxMessageSize: this.config.maxRecv });
      this.deframer.push(chunk, (bytes, compressed) => this.onMessage(bytes, compressed));
    } catch (e) {
      this.fail(e);
    }
  }

  private onMessage(bytes: Uint8Array, compressed: boolean): void {
    if (this.done) return;
    if (compressed && this.reqCompression === undefined) {
      throw new RpcError(Code.INTERNAL, "grpc: compressed flag set with identity encoding");
    }
    if (!compressed && this.inflater === undefined) return this.deliver(bytes, false);
    this.inflater ??= new OrderedInflater(this, this.config.maxRecv, INPUT_HIGH_WATER);
    this.inflater.push(bytes, compressed, this.reqCompression);
  }

  /** InflaterHooks: whether the call ended. */
  isDone(): boolean {
    return this.done;
  }

  /** InflaterHooks: too many messages wait for decompression. */
  pause(): void {
    this.stream.pause();
  }

  /** InflaterHooks: one decompression finished. */
  settled(): void {
    this.maybeResume();
  }

  deliver(bytes: Uint8Array, compressed: boolean): void {
    let message: MessageShape<DescMessage>;
    try {
      message = this.codec.decode(this.handler.method.input, bytes);
    } catch (e) {
      throw new RpcError(Code.INTERNAL, `grpc: cannot decode request ${this.handler.method.input.typeName}: ${(e as Error).message}`);
    }
    if (compressed) markReceivedCompressed(message);
    if (this.unary) {
      if (this.started) throw new RpcError(Code.UNIMPLEMENTED, "grpc: more than one request message for a unary call");
      this.started = true;
      this.handler.invoke({ stream: false, method: this.handler.method, ctx: this.ctx, message }).then(
        (res) => this.sendUnary(res),
        (e) => this.fail(e),
      );
      return;
    }
    const input = this.input as AsyncQueue<MessageShape<DescMessage>>;
    input.push(message);
    if (input.length >= INPUT_HIGH_WATER) this.stream.pause();
  }

  onEnd(): void {
    if (this.done) return;
    try {
      this.deframer?.end();
    } catch (e) {
      return this.fail(e);
    }
    const busy = this.inflater?.busy;
    if (busy !== undefined) {
      // End of input only after the messages still being decompressed.
      void busy.then(() => this.finishInput());
      return;
    }
    this.finishInput();
  }

  private finishInput(): void {
    if (this.done) return;
    if (this.unary) {
      if (!this.started) this.fail(new RpcError(Code.UNIMPLEMENTED, "grpc: unary call without a request message"));
    } else this.input?.end();
  }

  /**
   * The compression for this call's responses, chosen once (at the first response message or
   * headers): the handler's `x-petrel-compress` header, else the server options — used only if
   * the client accepts it. Removes `x-petrel-compress` from the response headers.
   */
  private responseCompression(): Compression | undefined {
    if (this.resCompression !== undefined) return this.resCompression.c;
    const h = this.ctx.peekResponseHeader();
    const perCall = h?.getString(COMPRESS_HEADER);
    if (h?.has(COMPRESS_HEADER)) h.delete(COMPRESS_HEADER);
    const name = (perCall ?? this.config.responseCompression(this.handler.method))?.trim().toLowerCase();
    const c = acceptedCompression(name, this.acceptHeader, this.config.compressions);
    this.resCompression = c === undefined ? IDENTITY_CHOICE : { c };
    return c;
  }

  /**
   * Encodes, checks the size limit, compresses (if this call does, and the message's hint or size
   * asks for it) and frames one response; synchronous unless the message is compressed.
   */
  private encode(message: MessageShape<DescMessage>): Uint8Array | Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = this.codec.encode(this.handler.method.output, message);
    } catch (e) {
      throw new RpcError(Code.INTERNAL, `cannot encode response: ${(e as Error).message}`, { cause: e });
    }
    if (bytes.length > this.config.maxSend) {
      throw new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `grpc: response message of ${bytes.length} bytes exceeds the limit of ${this.config.maxSend}`,
      );
    }
    const c = this.responseCompression();
    // The identity path stops at the first test; the hint and threshold only matter on a compressing call.
    if (c === undefined || !shouldCompress(messageCompressionHint(message), bytes.length, this.config.compressMinBytes)) {
      return frame(bytes, false);
    }
    return compressFrame(c, bytes);
  }

  private sendHeaders(): void {
    if (this.stream.headersSent) return;
    const c = this.responseCompression();
    const h = this.ctx.peekResponseHeader();
    const accept = this.config.compressions.acceptEncoding();
    if (c === undefined && (h === undefined || h.size === 0)) {
      // Nothing call-specific: one headers object per content-type (and accept list), reused.
      let cache = this.config.headerCache;
      if (cache === undefined || cache.contentType !== this.contentType || cache.accept !== accept) {
        cache = {
          contentType: this.contentType,
          accept,
          headers: { ":status": "200", "content-type": this.contentType, "grpc-accept-encoding": accept },
        };
        this.config.headerCache = cache;
      }
      this.stream.respond(cache.headers, RESPOND_WAIT_FOR_TRAILERS);
      return;
    }
    const headers: Record<string, string | string[]> = {
      ":status": "200",
      "content-type": this.contentType,
      "grpc-accept-encoding": accept,
    };
    if (c !== undefined) headers["grpc-encoding"] = c.name;
    if (h !== undefined) metadataToHeaders(h, headers);
    this.stream.respond(headers, RESPOND_WAIT_FOR_TRAILERS);
  }

  private sendUnary(res: ServerResponse): void {
    if (this.done) return;
    let out: Uint8Array | Promise<Uint8Array>;
    try {
      if (res.stream) throw new RpcError(Code.INTERNAL, "handler returned a stream for a unary method");
      out = this.encode(res.message);
    } catch (e) {
      return this.fail(e);
    }
    if (out instanceof Uint8Array) return this.endUnary(out);
    out.then(
      (f) => this.endUnary(f),
      (e) => this.fail(e),
    );
  }

  /** Sends the one response message of a unary call and ends it OK. */
  private endUnary(frame: Uint8Array): void {
    if (this.done || this.stream.destroyed) return;
    this.sendHeaders();
    this.finishOk(frame);
  }

  private async pump(res: ServerResponse): Promise<void> {
    if (!res.stream) return this.fail(new RpcError(Code.INTERNAL, "handler returned one message for a streaming method"));
    const it = res.message[Symbol.asyncIterator]();
    let completed = false;
    try {
      for (;;) {
        if (this.done) break;
        const r = await it.next();
        if (r.done) {
          completed = true;
          break;
        }
        if (this.done) break;
        const frame = await this.encode(r.value);
        if (this.done || this.stream.destroyed) break;
        this.sendHeaders();
        if (!this.stream.write(frame)) await this.drained();
      }
      if (completed) this.finishOk(undefined);
    } catch (e) {
      completed = true;
      this.fail(e);
    } finally {
      if (!completed) it.return?.()?.catch(() => {});
    }
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("close", done);
    });
  }

  private cleanup(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Ends the call OK, after `last` (a framed message) if given. */
  private finishOk(last: Uint8Array | undefined): void {
    if (this.done) return;
    this.cleanup();
    const stream = this.stream;
    if (stream.destroyed) return;
    this.finalCode = Code.OK;
    this.sendHeaders();
    const t = this.ctx.peekResponseTrailer();
    if (t !== undefined && t.size > 0) {
      const trailers: Record<string, string | string[]> = {};
      metadataToHeaders(t, trailers);
      writeGrpcStatus(Code.OK, "", [], trailers);
      this.trailers = trailers;
    }
    stream.on("wantTrailers", onWantTrailers);
    if (last === undefined) stream.end();
    else stream.end(last);
  }

  /** Aborts the handler without answering (the stream is gone). */
  private abort(err: RpcError): void {
    this.cleanup();
    this.ctx.abort(err);
    this.input?.fail(err, true);
  }

  fail(e: unknown): void {
    if (this.done) return;
    if (!(e instanceof RpcError) || e.code === Code.INTERNAL || e.code === Code.UNKNOWN) this.config.onHandlerError(e, this.ctx);
    const err = this.ctx.aborted && !(e instanceof RpcError) ? (this.ctx.reason as RpcError) : toWireError(e);
    this.abort(err);
    const stream = this.stream;
    if (stream.destroyed) return;
    this.finalCode = err.code;
    const trailers: Record<string, string | string[]> = {};
    metadataToHeaders(err.metadata, trailers);
    const t = this.ctx.peekResponseTrailer();
    if (t !== undefined) metadataToHeaders(t, trailers);
    writeGrpcStatus(err.code, err.rawMessage, err.details, trailers);
    if (!stream.headersSent) {
      // Trailers-Only: status in the one HEADERS frame (no messages, so no grpc-encoding).
      const h = this.ctx.peekResponseHeader();
      const headers: Record<string, string | string[]> = { ":status": "200", "content-type": this.contentType };
      if (h !== undefined) {
        h.delete(COMPRESS_HEADER);
        metadataToHeaders(h, headers);
      }
      stream.respond({ ...headers, ...trailers }, { endStream: true });
    } else {
      this.trailers = trailers;
      stream.on("wantTrailers", onWantTrailers);
      stream.end();
    }
    // Stop reading whatever the client still sends.
    if (!stream.readableEnded) stream.resume();
  }
}

const RESPOND_WAIT_FOR_TRAILERS: http2.ServerStreamResponseOptions = { waitForTrailers: true };
/** The response compression choice "identity", shared. */
const IDENTITY_CHOICE: { c: Compression | undefined } = { c: undefined };

async function compressFrame(c: Compression, bytes: Uint8Array): Promise<Uint8Array> {
  let out: Uint8Array;
  try {
    out = await c.compress(bytes);
  } catch (e) {
    throw new RpcError(Code.INTERNAL, `grpc: cannot compress response: ${(e as Error).message}`, { cause: e });
  }
  return frame(out, true);
}
