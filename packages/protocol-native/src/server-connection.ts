import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import {
  admissionOutcome,
  AsyncQueue,
  Code,
  OVERLOAD_MESSAGE,
  Metadata,
  RpcError,
  ServerContext,
  encodeStatusDetails,
  markReceivedCompressed,
  messageCompressionHint,
  toWireError,
  type AdmissionController,
  type AdmissionPermit,
  type Codec,
  type HandlerContext,
  type MethodHandler,
  type PeerInfo,
  type Router,
  type ServerResponse,
} from "@petrel/core";
import type { ByteChannel } from "./channel.js";
import { ConnectionBase, type ConnectionOptions } from "./connection-base.js";
import { parseCancel } from "./cancel-payload.js";
import { COMPRESS_HEADER, pickSendCompression, type SendCompression } from "./compression.js";
import { ErrorCode, FrameFlag, FrameType, frameTypeName } from "./frame-types.js";
import type { GoAway } from "./goaway-payload.js";
import { parseRequestHeaders, type RequestHeaders } from "./headers-payload.js";
import { StreamBase } from "./native-stream.js";
import { EMPTY_BYTES } from "./payload-cursor.js";
import { ProtocolError } from "./protocol-error.js";

/** Options of a server-side connection. */
export interface ServerConnectionOptions extends ConnectionOptions {
  router: Router;
  /** Peer address for HandlerContext.peer, e.g. `127.0.0.1:50123`. */
  peerAddress: string;
  /** The full HandlerContext.peer (e.g. with the TLS identity); overrides `peerAddress`. */
  peer?: PeerInfo;
  /** Largest message the server sends. Default 4 MiB (and never more than the peer accepts). */
  maxSendMessageSize?: number;
  /** Sees every error a handler produced (also non-RpcErrors, which the peer sees as INTERNAL). */
  onHandlerError?: (error: unknown, ctx: HandlerContext) => void;
  /** Early load shedding: asked at stream open, before the request is decoded. Default: admit all. */
  admission?: AdmissionController;
  /**
   * Per-method response compression; overrides `compression`, and a handler's response header
   * `x-petrel-compress` overrides both. Return undefined to use `compression`. Used only when the
   * client advertised the algorithm.
   */
  compressResponses?: (method: DescMethod) => string | undefined;
}

/** The deferred HALF_CLOSE of a stream whose input waits behind a decompression. */
const HALF_CLOSE_EVENT = 1;

const UNARY = 0;
const STREAMING = 1;

/** One inbound call. @internal */
class ServerStream extends StreamBase {
  kind = UNARY;
  handler!: MethodHandler;
  codec!: Codec;
  ctx!: ServerContext;
  input: AsyncQueue<MessageShape<DescMessage>> | undefined = undefined;
  started = false;
  headerSent = false;
  permit: AdmissionPermit | undefined = undefined;
  /** Final status code once written (for the admission outcome). */
  finalCode: number | undefined = undefined;
  /** The response compression, once chosen: null for identity. */
  sendComp: SendCompression | null | undefined = undefined;
}

/**
 * The server side of one petrel/1 connection: opens a stream per HEADERS, dispatches it to the
 * router's handler, and writes HEADERS, MESSAGEs and TRAILERS back under flow control.
 * Any protocol violation closes this connection only (GOAWAY with the reason).
 */
export class ServerConnection extends ConnectionBase<ServerStream> {
  private lastStreamId = 0;
  private gracefulClose = false;
  private readonly router: Router;
  private readonly peerInfo: PeerInfo;
  private readonly maxSend: number;
  private readonly onHandlerError: ((error: unknown, ctx: HandlerContext) => void) | undefined;
  private readonly admission: AdmissionController | undefined;
  private readonly closedWaiters: Array<() => void> = [];
  private readonly compressResponses: ((method: DescMethod) => string | undefined) | undefined;

  constructor(channel: ByteChannel, options: ServerConnectionOptions) {
    super({ ...options, settings: { codecs: options.router.codecs.names(), ...options.settings } }, true);
    this.channel = channel;
    this.router = options.router;
    this.peerInfo = options.peer ?? { address: options.peerAddress, protocol: "petrel/1" };
    this.maxSend = options.maxSendMessageSize ?? 4 * 1024 * 1024;
    this.onHandlerError = options.onHandlerError;
    this.admission = options.admission;
    this.compressResponses = options.compressResponses;
  }

  /** The channel is connected: say hello. */
  onOpen(): void {
    // The server speaks only after the client's preface (spec §2.1), so a non-petrel client
    // gets no bytes back.
    this.startHousekeeping();
    this.startHandshakeTimer();
  }

  protected override onPrefaceOk(): void {
    this.writeHello();
    this.flush();
  }

  /** Number of calls in progress. */
  get activeStreams(): number {
    return this.streams.size;
  }

  protected onUnsupportedVersion(version: number): void {
    this.closeError = new RpcError(Code.UNAVAILABLE, this.unsupported(version));
    // Our preface names the version we speak; GOAWAY says why we close (spec §2.1).
    this.writePrefaceOnly();
    this.sendGoAwayAndClose(ErrorCode.UNSUPPORTED_VERSION, this.unsupported(version));
  }

  protected lastStreamIdForGoAway(): number {
    return this.lastStreamId;
  }

  /**
   * Graceful shutdown: GOAWAY(NO_ERROR) tells the client which calls will complete; new ones are
   * refused with UNAVAILABLE so the client can go elsewhere; the connection closes once idle.
   */
  shutdown(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    if (!this.gracefulClose) {
      this.gracefulClose = true;
      this.draining = true;
      this.writer.writeGoAway(this.lastStreamId, ErrorCode.NO_ERROR, "server shutting down");
      this.flush();
      if (this.streams.size === 0) this.channel?.end();
    }
    return p;
  }

  protected override onIdle(): void {
    if (this.gracefulClose) {
      this.flush();
      this.channel?.end();
    }
  }

  protected onClosed(): void {
    for (const w of this.closedWaiters.splice(0)) w();
  }

  protected onGoAway(_g: GoAway): void {
    // The client is leaving; its open calls may still finish.
    this.draining = true;
  }

  protected streamForMessage(streamId: number): ServerStream | undefined {
    this.checkOpened(streamId);
    return this.streams.get(streamId);
  }

  /** A frame on a stream the client never opened is a connection error (spec §7.1). */
  protected checkOpened(streamId: number): void {
    if (streamId > this.lastStreamId)
      throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `frame on stream ${streamId}, which was never opened`);
  }

  protected onStreamFrame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.HEADERS:
        return this.onHeaders(flags, streamId, payload);
      case FrameType.HALF_CLOSE: {
        this.checkOpened(streamId);
        const s = this.streams.get(streamId);
        if (s !== undefined) this.onHalfClose(s);
        return;
      }
      case FrameType.CANCEL: {
        this.checkOpened(streamId);
        // Rapid reset: opening and cancelling streams costs the client nothing and the server a
        // handler invocation each; counted over a window, not per stream, to keep this cheap.
        if (this.resetFlood?.hit(this.clock.now()) === true) {
          throw new ProtocolError(
            ErrorCode.ENHANCE_YOUR_CALM,
            `too many CANCELs (over ${this.resetFlood.limit} within ${this.resetFlood.windowMs} ms)`,
          );
        }
        const c = parseCancel(payload);
        const s = this.streams.get(streamId);
        if (s === undefined) return;
        // §7.4: the handler's signal fires with the status the client gave (CANCELLED, DEADLINE_EXCEEDED,
        // RESOURCE_EXHAUSTED when a response broke its limit, …).
        const err = new RpcError(c.code === Code.OK ? Code.CANCELLED : (c.code as Code), c.reason || "cancelled by client");
        s.ctx.abort(err);
        s.input?.fail(err, true);
        this.releaseStream(s);
        return;
      }
      default:
        throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `a client may not send ${frameTypeName(type)}`);
    }
  }

  private onHeaders(flags: number, id: number, payload: Uint8Array): void {
    if (id <= this.lastStreamId) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `stream id ${id} is not above ${this.lastStreamId}`);
    if (this.draining) {
      // Not processed: safe for the client to retry elsewhere.
      this.writer.writeCancel(id, Code.UNAVAILABLE, "server is shutting down; call not processed");
      this.scheduleFlush();
      return;
    }
    this.lastStreamId = id;
    let h: RequestHeaders;
    try {
      h = parseRequestHeaders(payload, flags, this.local.maxHeaderBytes);
    } catch (e) {
      if (e instanceof ProtocolError && e.code === ErrorCode.HEADER_TOO_LARGE) {
        return this.refuse(id, Code.RESOURCE_EXHAUSTED, `request metadata exceeds ${this.local.maxHeaderBytes} bytes`);
      }
      throw e;
    }
    if (this.streams.size >= this.local.maxConcurrentStreams) {
      return this.refuse(id, Code.RESOURCE_EXHAUSTED, `too many concurrent streams (limit ${this.local.maxConcurrentStreams})`);
    }
    const handler = this.router.lookup(h.path);
    if (handler === undefined) {
      const service = h.path.split("/")[1] ?? "";
      const what = this.router.hasService(service) ? `unknown method ${h.path}` : `unknown service ${service}`;
      return this.refuse(id, Code.UNIMPLEMENTED, what);
    }
    const codec = this.router.codecs.get(h.codec);
    if (codec === undefined) {
      const accepted = this.router.codecs.names().join(", ");
      return this.refuse(id, Code.UNIMPLEMENTED, `unsupported codec "${h.codec}"; this server accepts: ${accepted}`);
    }
    if (h.timeoutMs === 0) return this.refuse(id, Code.DEADLINE_EXCEEDED, "deadline exceeded before the call started");
    let permit: AdmissionPermit | undefined;
    if (this.admission !== undefined) {
      permit = this.admission.admit();
      if (permit === undefined) {
        this.writer.writeTrailers(id, Code.RESOURCE_EXHAUSTED, OVERLOAD_MESSAGE, EMPTY_BYTES, [
          "grpc-retry-pushback-ms",
          String(Math.max(0, Math.round(this.admission.pushbackMs))),
        ]);
        this.scheduleFlush();
        return;
      }
    }

    const s = new ServerStream(id, this.peer.initialStreamWindow, this.initialRecvWindow());
    s.permit = permit;
    const deadline = h.timeoutMs === undefined ? undefined : this.clock.now() + h.timeoutMs;
    s.handler = handler;
    s.codec = codec;
    s.ctx = new ServerContext(handler.service, handler.method, Metadata.fromFlat(h.metadata), deadline, this.peerInfo);
    if ((flags & FrameFlag.END_STREAM) !== 0) s.remoteOpen = false;
    this.streams.add(s);
    if (deadline !== undefined) {
      s.deadline = deadline;
      this.trackDeadline(s);
    }
    if (handler.method.methodKind !== "unary") {
      s.kind = STREAMING;
      s.input = new AsyncQueue<MessageShape<DescMessage>>(() => this.nextConsumed(s));
      if (!s.remoteOpen) s.input.end();
      s.started = true;
      handler.invoke({ stream: true, method: handler.method, ctx: s.ctx, message: s.input }).then(
        (res) => this.pump(s, res),
        (e) => this.finishWithError(s, e),
      );
    } else if (!s.remoteOpen) {
      this.finishWithError(s, new RpcError(Code.INVALID_ARGUMENT, "unary call without a request message"));
    }
  }

  /** Ends a stream before it started. */
  private refuse(id: number, code: Code, message: string): void {
    this.writer.writeTrailers(id, code, message);
    this.scheduleFlush();
  }

  protected onStreamMessage(s: ServerStream, bytes: Uint8Array, credit: number, endStream: boolean, compressed: boolean): void {
    let message: MessageShape<DescMessage>;
    try {
      message = s.codec.decode(s.handler.method.input, bytes);
    } catch (e) {
      this.returnCredit(s, credit);
      this.finishWithError(
        s,
        new RpcError(Code.INVALID_ARGUMENT, `cannot decode request ${s.handler.method.input.typeName}: ${(e as Error).message}`),
      );
      return;
    }
    if (compressed) markReceivedCompressed(message);
    if (s.kind === UNARY) {
      this.returnCredit(s, credit);
      if (s.started) return;
      s.started = true;
      s.remoteOpen = false;
      s.handler.invoke({ stream: false, method: s.handler.method, ctx: s.ctx, message }).then(
        (res) => this.sendUnary(s, res),
        (e) => this.finishWithError(s, e),
      );
      return;
    }
    this.messageQueued(s, credit);
    const input = s.input as AsyncQueue<MessageShape<DescMessage>>;
    input.push(message);
    if (endStream) input.end();
  }

  private onHalfClose(s: ServerStream): void {
    s.remoteOpen = false;
    // Messages still being decompressed come first.
    if (this.deferEvent(s, HALF_CLOSE_EVENT)) return;
    this.inputEnded(s);
  }

  protected override onDeferredEvent(s: ServerStream, _event: unknown): void {
    this.inputEnded(s);
  }

  protected failInbound(s: ServerStream, error: RpcError): void {
    this.finishWithError(s, error);
  }

  private inputEnded(s: ServerStream): void {
    if (s.kind === STREAMING) s.input?.end();
    else if (!s.started) this.finishWithError(s, new RpcError(Code.INVALID_ARGUMENT, "unary call without a request message"));
  }

  protected onMessageTooLarge(s: ServerStream, size: number): void {
    this.finishWithError(
      s,
      new RpcError(Code.RESOURCE_EXHAUSTED, `request message of ${size} bytes exceeds the limit of ${this.local.maxMessageSize}`),
    );
  }

  protected onDeadline(s: ServerStream): void {
    this.finishWithError(s, new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
  }

  protected failStream(s: ServerStream, error: RpcError, notifyPeer: boolean): void {
    if (s.done) return;
    s.ctx.abort(error);
    s.input?.fail(error, true);
    if (notifyPeer) this.writeError(s, error);
    this.releaseStream(s);
  }

  private encode(s: ServerStream, message: MessageShape<DescMessage>): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = s.codec.encode(s.handler.method.output, message);
    } catch (e) {
      throw new RpcError(Code.INTERNAL, `cannot encode response: ${(e as Error).message}`, { cause: e });
    }
    const limit = Math.min(this.maxSend, this.peer.maxMessageSize);
    if (bytes.length > limit) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `response message of ${bytes.length} bytes exceeds the limit of ${limit}`);
    }
    return bytes;
  }

  /**
   * The response compression of a call, chosen once: the handler's `x-petrel-compress` response
   * header, else `compressResponses`, else `compression` — if the client advertised it (else
   * identity; a name this server does not know is identity too). Strips the header.
   */
  private responseCompression(s: ServerStream): SendCompression | undefined {
    const chosen = s.sendComp;
    if (chosen !== undefined) return chosen ?? undefined;
    const h = s.ctx.peekResponseHeader();
    let name: string | undefined;
    if (h !== undefined && h.size > 0 && h.has(COMPRESS_HEADER)) {
      name = h.getString(COMPRESS_HEADER);
      h.delete(COMPRESS_HEADER);
    }
    name ??= this.compressResponses?.(s.handler.method) ?? this.sendCompressionName;
    let sc: SendCompression | undefined;
    try {
      sc = pickSendCompression(name, this.compressions, this.peer.compressions);
    } catch {
      sc = undefined;
    }
    s.sendComp = sc ?? null;
    return sc;
  }

  private sendHeaderOnce(s: ServerStream): void {
    if (s.headerSent) return;
    s.headerSent = true;
    const h = s.ctx.peekResponseHeader();
    // The compression switch is never sent; choosing the compression removes it.
    if (h !== undefined && h.size > 0 && s.sendComp === undefined) this.responseCompression(s);
    if (h !== undefined && h.size > 0) this.writer.writeResponseHeaders(s.id, h.flat);
    else if (s.kind === STREAMING) this.writer.writeResponseHeaders(s.id);
  }

  private sendUnary(s: ServerStream, res: ServerResponse): void {
    if (s.done) return;
    let bytes: Uint8Array;
    try {
      if (res.stream) throw new RpcError(Code.INTERNAL, "handler returned a stream for a unary method");
      bytes = this.encode(s, res.message);
    } catch (e) {
      this.finishWithError(s, e);
      return;
    }
    const sc = this.responseCompression(s);
    this.sendHeaderOnce(s);
    if (this.shouldCompress(sc, bytes, res.message)) {
      this.sendCompressed(s, sc, bytes, false, messageCompressionHint(res.message) === true).then(
        (sent) => (sent ? this.finishOk(s) : (s.whenWritable() ?? Promise.resolve()).then(() => this.finishOk(s))),
        (e) => this.finishWithError(s, e),
      );
      return;
    }
    if (this.sendMessage(s, bytes, false)) this.finishOk(s);
    else (s.whenWritable() as Promise<void>).then(() => this.finishOk(s));
  }

  private async pump(s: ServerStream, res: ServerResponse): Promise<void> {
    if (!res.stream) {
      this.finishWithError(s, new RpcError(Code.INTERNAL, "handler returned one message for a streaming method"));
      return;
    }
    const it = res.message[Symbol.asyncIterator]();
    let completed = false;
    try {
      for (;;) {
        if (s.done) break;
        const r = await it.next();
        if (r.done) {
          completed = true;
          break;
        }
        if (s.done) break;
        const bytes = this.encode(s, r.value);
        const sc = this.responseCompression(s);
        this.sendHeaderOnce(s);
        const sent = this.shouldCompress(sc, bytes, r.value)
          ? await this.sendCompressed(s, sc, bytes, false, messageCompressionHint(r.value) === true)
          : this.sendMessage(s, bytes, false);
        if (!sent) await s.whenWritable();
      }
      if (completed && !s.done) {
        await s.whenWritable();
        this.finishOk(s);
      }
    } catch (e) {
      completed = true;
      this.finishWithError(s, e);
    } finally {
      // Cancelled, expired or the connection died: let the handler's finally blocks run.
      if (!completed) it.return?.()?.catch(() => {});
    }
  }

  private finishOk(s: ServerStream): void {
    if (s.done) return;
    this.sendHeaderOnce(s);
    const t = s.ctx.peekResponseTrailer();
    this.writer.writeTrailers(s.id, Code.OK, "", EMPTY_BYTES, t === undefined ? undefined : t.flat);
    s.finalCode = Code.OK;
    this.scheduleFlush();
    this.releaseStream(s);
  }

  protected override releaseStream(s: ServerStream): void {
    super.releaseStream(s);
    if (s.permit !== undefined) {
      s.permit.release(admissionOutcome(s.finalCode));
      s.permit = undefined;
    }
  }

  private finishWithError(s: ServerStream, e: unknown): void {
    if (s.done) return;
    if (!(e instanceof RpcError) || e.code === Code.INTERNAL || e.code === Code.UNKNOWN) this.onHandlerError?.(e, s.ctx);
    const err = s.ctx.aborted && !(e instanceof RpcError) ? (s.ctx.reason as RpcError) : toWireError(e);
    s.ctx.abort(err);
    s.input?.fail(err, true);
    this.writeError(s, err);
    s.finalCode = err.code;
    this.releaseStream(s);
  }

  private writeError(s: ServerStream, err: RpcError): void {
    if (this.closed) return;
    const trailer = new Metadata(err.metadata);
    const t = s.ctx.peekResponseTrailer();
    if (t !== undefined) trailer.merge(t);
    const details = err.details.length > 0 ? encodeStatusDetails(err.code, err.rawMessage, err.details) : EMPTY_BYTES;
    try {
      this.sendHeaderOnce(s);
      this.writer.writeTrailers(s.id, err.code, err.rawMessage, details, trailer.flat);
    } catch {
      // Metadata the wire cannot carry (validated earlier, so unlikely): still end the stream.
      this.writer.writeTrailers(s.id, err.code, err.rawMessage);
    }
    this.scheduleFlush();
  }
}
