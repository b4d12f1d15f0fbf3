import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  markRpcError,
  UNPROCESSED,
  AsyncQueue,
  Code,
  Metadata,
  RpcError,
  decodeStatusDetails,
  markReceivedCompressed,
  messageCompressionHint,
  type Codec,
  type ErrorDetail,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
  type UnarySettle,
  settleError,
  settleOk,
} from "@petrel/core";
import type { ByteChannel, Dialer } from "./channel.js";
import { ConnectionBase, statusForGoAway, type ConnectionOptions } from "./connection-base.js";
import { parseCancel } from "./cancel-payload.js";
import { compressOverride, pickSendCompression, withoutCompressHeader, type SendCompression } from "./compression.js";
import { ErrorCode, FrameType, MAX_STREAM_ID, frameTypeName } from "./frame-types.js";
import type { GoAway } from "./goaway-payload.js";
import type { Settings } from "./settings-payload.js";
import { parseMetadataBlock } from "./metadata-block.js";
import { StreamBase } from "./native-stream.js";
import { ProtocolError } from "./protocol-error.js";
import { parseTrailers } from "./trailers-payload.js";

/** Events a client connection reports to its pool. @internal */
export interface ClientConnectionListener {
  onReady(conn: ClientConnection): void;
  /** The connection will take no new calls (GOAWAY received, or closed). */
  onDraining(conn: ClientConnection): void;
  onClosed(conn: ClientConnection, error: RpcError, wasOpen: boolean): void;
}

const UNARY = 0;
const STREAMING = 1;

/** One outbound call. @internal */
class ClientStream extends StreamBase {
  kind = UNARY;
  codec!: Codec;
  output!: DescMessage;
  req!: UnaryRequest | StreamRequest;
  header: Metadata | undefined = undefined;
  trailer: Metadata | undefined = undefined;
  response: MessageShape<DescMessage> | undefined = undefined;
  gotResponse = false;
  resolve!: (v: UnaryResponse | StreamResponse) => void;
  reject!: (e: unknown) => void;
  /** A unary call's outcome hook (Transport.unarySettled), or undefined. */
  settle: UnarySettle | undefined = undefined;
  settled = false;
  queue: AsyncQueue<MessageShape<DescMessage>> | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** The request compression (undefined = identity). */
  sendComp: SendCompression | undefined = undefined;
}

type Trailers = ReturnType<typeof parseTrailers>;

/**
 * The client side of one petrel/1 connection: one stream per call, many calls multiplexed.
 * Frames produced while handling a tick are coalesced into one write (see ConnectionBase).
 */
export class ClientConnection extends ConnectionBase<ClientStream> {
  private nextStreamId = 1;
  private open = false;
  private readonly listener: ClientConnectionListener;
  private readonly defaultCodec: string;
  private readonly codecs: (name: string) => Codec | undefined;
  private readonly maxSend: number;

  constructor(
    dial: Dialer,
    readonly address: string,
    options: ConnectionOptions & { defaultCodec: string; codecs: (name: string) => Codec | undefined; maxSendMessageSize: number },
    listener: ClientConnectionListener,
  ) {
    super(options, false);
    this.listener = listener;
    this.defaultCodec = options.defaultCodec;
    this.codecs = options.codecs;
    this.maxSend = options.maxSendMessageSize;
    this.channel = dial(address, this) as ByteChannel;
  }

  private peerSettingsArrived = false;
  private settingsWaiters: Array<{ resolve: () => void; reject: (e: RpcError) => void }> | undefined = undefined;

  /** Whether the channel is connected and the connection takes new calls. */
  get ready(): boolean {
    return this.open && !this.draining && !this.closed;
  }

  /** Calls in progress. */
  get activeStreams(): number {
    return this.streams.size;
  }

  onOpen(): void {
    this.open = true;
    this.writeHello();
    this.flush();
    this.startHousekeeping();
    this.listener.onReady(this);
  }

  protected onUnsupportedVersion(version: number): void {
    // A server only answers with another version together with GOAWAY UNSUPPORTED_VERSION.
    this.closeError = new RpcError(Code.UNAVAILABLE, `server speaks petrel/${version}, this client petrel/1`);
  }

  protected lastStreamIdForGoAway(): number {
    return 0;
  }

  protected onClosed(error: RpcError): void {
    const waiters = this.settingsWaiters;
    this.settingsWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w.reject(error);
    this.listener.onClosed(this, error, this.open);
  }

  protected override onSettings(s: Settings): void {
    super.onSettings(s);
    if (this.peerSettingsArrived) return;
    this.peerSettingsArrived = true;
    const waiters = this.settingsWaiters;
    this.settingsWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w.resolve();
  }

  /**
   * Resolves once the server's SETTINGS arrived, so its limits (message size, streams) apply to
   * the next call; rejects if the connection closes first. Calls need not wait for it (spec §5.1:
   * until then both sides use the defaults), but `connect()` does.
   */
  whenSettled(): Promise<void> {
    if (this.peerSettingsArrived) return Promise.resolve();
    if (this.closed) return Promise.reject(this.closeError ?? new RpcError(Code.UNAVAILABLE, "connection closed before SETTINGS"));
    return new Promise((resolve, reject) => {
      if (this.settingsWaiters === undefined) this.settingsWaiters = [];
      this.settingsWaiters.push({ resolve, reject });
    });
  }

  /** Closes once the calls in progress end. */
  closeWhenIdle(): void {
    if (!this.draining && this.open && !this.closed) {
      this.writer.writeGoAway(0, ErrorCode.NO_ERROR, "client closing");
      this.scheduleFlush();
    }
    this.draining = true;
    if (this.streams.size === 0) {
      this.flush();
      this.channel?.end();
    }
  }

  protected override onIdle(): void {
    if (this.draining) {
      this.flush();
      this.channel?.end();
    }
  }

  protected onGoAway(g: GoAway): void {
    this.draining = true;
    if (g.errorCode !== ErrorCode.NO_ERROR) {
      this.closeError = new RpcError(statusForGoAway(g.errorCode), `server closed the connection: ${g.debug || `GOAWAY ${g.errorCode}`}`);
    }
    const refused = markRpcError(
      new RpcError(Code.UNAVAILABLE, "server is going away; call was not processed (safe to retry)"),
      UNPROCESSED,
    );
    this.streams.forEach((s) => {
      if (s.id > g.lastStreamId) this.failStream(s, refused, false);
    });
    this.listener.onDraining(this);
    if (this.streams.size === 0) this.channel?.end();
  }

  private newStream(req: UnaryRequest | StreamRequest, kind: number): ClientStream {
    if (!this.ready) throw this.closeError ?? new RpcError(Code.UNAVAILABLE, "connection is not ready");
    const codecName = req.codec ?? this.defaultCodec;
    const codec = this.codecs(codecName);
    if (codec === undefined) throw new RpcError(Code.UNIMPLEMENTED, `unsupported codec "${codecName}"`);
    // The request compression: the call's x-petrel-compress header (never sent), else the
    // transport's; identity unless the server advertised it.
    let flat = req.header.flat;
    let compression = this.sendCompressionName;
    if (flat.length > 0) {
      const override = compressOverride(flat);
      if (override !== undefined) {
        compression = override;
        flat = withoutCompressHeader(flat);
      }
    }
    const sendComp = compression === undefined ? undefined : pickSendCompression(compression, this.compressions, this.peer.compressions);
    const id = this.nextStreamId;
    this.nextStreamId += 1;
    if (this.nextStreamId >= MAX_STREAM_ID) {
      this.draining = true;
      this.listener.onDraining(this);
    }
    const s = new ClientStream(id, this.peer.initialStreamWindow, this.initialRecvWindow());
    s.kind = kind;
    s.codec = codec;
    s.output = req.method.output;
    s.req = req;
    s.sendComp = sendComp;
    let timeoutMs: number | undefined;
    if (req.deadline !== undefined) {
      timeoutMs = req.deadline - this.clock.now();
      if (timeoutMs <= 0) throw new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded before the call started");
    }
    if (req.signal !== undefined) {
      if (req.signal.aborted) throw new RpcError(Code.CANCELLED, "call cancelled before it started");
      s.onAbort = () => this.cancel(s, new RpcError(Code.CANCELLED, "call cancelled"));
      req.signal.addEventListener("abort", s.onAbort);
    }
    this.writer.writeRequestHeaders(id, codec.name, req.path, timeoutMs, flat, false);
    this.streams.add(s);
    if (req.deadline !== undefined) {
      s.deadline = req.deadline;
      this.trackDeadline(s);
    }
    this.scheduleFlush();
    return s;
  }

  private encode(s: ClientStream, message: MessageShape<DescMessage>): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = s.codec.encode(s.req.method.input, message);
    } catch (e) {
      throw new RpcError(Code.INTERNAL, `cannot encode request: ${(e as Error).message}`, { cause: e });
    }
    const limit = Math.min(this.maxSend, this.peer.maxMessageSize);
    if (bytes.length > limit)
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `request message of ${bytes.length} bytes exceeds the limit of ${limit}`);
    return bytes;
  }

  /**
   * Starts a unary call. Rejects only with RpcError. With `settle`, the outcome goes through it
   * first (Transport.unarySettled): `settle.ok(res)` / `settle.fail(err)` give the result.
   */
  unary(req: UnaryRequest, settle?: UnarySettle): Promise<UnaryResponse> {
    return new Promise<UnaryResponse>((resolve, reject) => {
      let s: ClientStream | undefined;
      try {
        // Encode before opening the stream, so an unencodable request opens nothing.
        const codec = this.codecs(req.codec ?? this.defaultCodec);
        const bytes = codec === undefined ? undefined : codec.encode(req.method.input, req.message);
        s = this.newStream(req, UNARY);
        s.resolve = resolve as (v: UnaryResponse | StreamResponse) => void;
        s.reject = reject;
        s.settle = settle;
        const limit = Math.min(this.maxSend, this.peer.maxMessageSize);
        if ((bytes as Uint8Array).length > limit) {
          throw new RpcError(
            Code.RESOURCE_EXHAUSTED,
            `request message of ${(bytes as Uint8Array).length} bytes exceeds the limit of ${limit}`,
          );
        }
        const sc = s.sendComp;
        if (this.shouldCompress(sc, bytes as Uint8Array, req.message)) {
          const st = s;
          this.sendCompressed(s, sc, bytes as Uint8Array, true, messageCompressionHint(req.message) === true).catch((e) =>
            this.cancel(st, RpcError.from(e, Code.INTERNAL)),
          );
        } else this.sendMessage(s, bytes as Uint8Array, true);
      } catch (e) {
        const err = RpcError.from(e, Code.INTERNAL);
        if (s !== undefined) this.cancel(s, err);
        else if (settle !== undefined) settleError(settle, err, resolve, reject);
        else reject(err);
      }
    });
  }

  /** Starts a streaming call; resolves when the response headers (or the end) arrive. */
  stream(req: StreamRequest): Promise<StreamResponse> {
    return new Promise<StreamResponse>((resolve, reject) => {
      let s: ClientStream;
      try {
        s = this.newStream(req, STREAMING);
      } catch (e) {
        reject(RpcError.from(e, Code.INTERNAL));
        return;
      }
      s.resolve = resolve as (v: UnaryResponse | StreamResponse) => void;
      s.reject = reject;
      s.trailer = new Metadata();
      s.queue = new AsyncQueue<MessageShape<DescMessage>>(
        () => this.nextConsumed(s),
        () => this.cancel(s, new RpcError(Code.CANCELLED, "client stopped reading the response stream")),
      );
      void this.pumpRequests(s, req.message);
    });
  }

  private async pumpRequests(s: ClientStream, input: AsyncIterable<MessageShape<DescMessage>>): Promise<void> {
    const it = input[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const r = await it.next();
        if (s.done) return;
        if (r.done) {
          finished = true;
          break;
        }
        const bytes = this.encode(s, r.value);
        const sc = s.sendComp;
        const sent = this.shouldCompress(sc, bytes, r.value)
          ? await this.sendCompressed(s, sc, bytes, false, messageCompressionHint(r.value) === true)
          : this.sendMessage(s, bytes, false);
        if (!sent) await s.whenWritable();
        if (s.done) return;
      }
      await s.whenWritable();
      if (!s.done) {
        this.writer.writeHalfClose(s.id);
        this.scheduleFlush();
      }
    } catch (e) {
      finished = true;
      this.cancel(s, RpcError.from(e, Code.CANCELLED));
    } finally {
      if (!finished) it.return?.()?.catch(() => {});
    }
  }

  /** Cancels a call: CANCEL to the server, the error to the caller. */
  cancel(s: ClientStream, err: RpcError): void {
    if (s.done) return;
    if (!this.closed) {
      // §4.6: the status says why (CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED for a limit,
      // INTERNAL/UNIMPLEMENTED for a response message that cannot be decompressed, §4.3.1).
      this.writer.writeCancel(s.id, err.code === Code.OK ? Code.CANCELLED : err.code, err.rawMessage);
      this.scheduleFlush();
    }
    this.failStream(s, err, false);
  }

  protected streamForMessage(streamId: number): ClientStream | undefined {
    this.checkOpened(streamId);
    return this.streams.get(streamId);
  }

  /** A server frame on a stream this client never opened is a connection error (spec §7.1). */
  protected checkOpened(streamId: number): void {
    if (streamId >= this.nextStreamId)
      throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `frame on stream ${streamId}, which was never opened`);
  }

  protected onStreamFrame(type: number, _flags: number, streamId: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.HEADERS: {
        this.checkOpened(streamId);
        const s = this.streams.get(streamId);
        if (s === undefined) return;
        let flat: Array<string | Uint8Array>;
        try {
          flat = parseMetadataBlock(payload, this.local.maxHeaderBytes);
        } catch (e) {
          if (!(e instanceof ProtocolError && e.code === ErrorCode.HEADER_TOO_LARGE)) throw e;
          this.cancel(s, new RpcError(Code.RESOURCE_EXHAUSTED, `response metadata exceeds ${this.local.maxHeaderBytes} bytes`));
          return;
        }
        s.header = Metadata.fromFlat(flat);
        if (s.kind === STREAMING) this.settleStream(s);
        return;
      }
      case FrameType.TRAILERS: {
        this.checkOpened(streamId);
        const s = this.streams.get(streamId);
        let t: Trailers;
        try {
          t = parseTrailers(payload, this.local.maxHeaderBytes);
        } catch (e) {
          if (!(e instanceof ProtocolError && e.code === ErrorCode.HEADER_TOO_LARGE)) throw e;
          if (s !== undefined)
            this.cancel(s, new RpcError(Code.RESOURCE_EXHAUSTED, `response trailers exceed ${this.local.maxHeaderBytes} bytes`));
          return;
        }
        if (s === undefined) return;
        // Response messages still being decompressed come first.
        if (!this.deferEvent(s, t)) this.onTrailers(s, t);
        return;
      }
      case FrameType.CANCEL: {
        this.checkOpened(streamId);
        const c = parseCancel(payload);
        const s = this.streams.get(streamId);
        if (s !== undefined) this.failStream(s, new RpcError(c.code as Code, c.reason), false);
        return;
      }
      default:
        throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `a server may not send ${frameTypeName(type)}`);
    }
  }

  protected override onDeferredEvent(s: ClientStream, event: unknown): void {
    this.onTrailers(s, event as Trailers);
  }

  protected failInbound(s: ClientStream, error: RpcError): void {
    this.cancel(s, error);
  }

  private onTrailers(s: ClientStream, t: Trailers): void {
    const trailer = Metadata.fromFlat(t.metadata);
    if (t.code === Code.OK) this.finishOk(s, trailer);
    else {
      let details: ErrorDetail[] = [];
      if (t.details.length > 0) {
        try {
          details = decodeStatusDetails(t.details).details;
        } catch {
          // Undecodable details are dropped; the status itself still stands.
        }
      }
      // Never marked COMMITTED: a petrel/1 server writes a unary answer (headers, message,
      // trailers) in one flush, so a unary error is like gRPC's Trailers-Only; streaming
      // calls commit at their first message, which retry policies see themselves.
      this.failStream(s, new RpcError(t.code as Code, t.message, { details, metadata: trailer }), false);
    }
  }

  protected onStreamMessage(s: ClientStream, bytes: Uint8Array, credit: number, _endStream: boolean, compressed: boolean): void {
    let message: MessageShape<DescMessage>;
    try {
      message = s.codec.decode(s.output, bytes);
    } catch (e) {
      this.returnCredit(s, credit);
      this.cancel(s, new RpcError(Code.INTERNAL, `cannot decode response ${s.output.typeName}: ${(e as Error).message}`));
      return;
    }
    if (compressed) markReceivedCompressed(message);
    if (s.kind === UNARY) {
      this.returnCredit(s, credit);
      if (s.gotResponse) {
        this.cancel(s, new RpcError(Code.INTERNAL, "protocol error: more than one response message for a unary call"));
        return;
      }
      s.gotResponse = true;
      s.response = message;
      return;
    }
    this.messageQueued(s, credit);
    this.settleStream(s);
    (s.queue as AsyncQueue<MessageShape<DescMessage>>).push(message);
  }

  /** Resolves the `stream()` promise once: on headers, the first message, or an OK end. */
  private settleStream(s: ClientStream): void {
    if (s.settled) return;
    s.settled = true;
    const req = s.req;
    s.resolve({
      stream: true,
      service: req.service,
      method: req.method,
      header: s.header ?? new Metadata(),
      trailer: s.trailer as Metadata,
      message: s.queue as AsyncQueue<MessageShape<DescMessage>>,
    });
  }

  private finishOk(s: ClientStream, trailer: Metadata): void {
    if (s.kind === UNARY) {
      if (!s.gotResponse) {
        this.failStream(
          s,
          new RpcError(Code.INTERNAL, "protocol error: unary call ended without a response message", { metadata: trailer }),
          false,
        );
        return;
      }
      this.cleanup(s);
      s.settled = true;
      const req = s.req;
      const res: UnaryResponse = {
        stream: false,
        service: req.service,
        method: req.method,
        header: s.header ?? new Metadata(),
        trailer,
        message: s.response as MessageShape<DescMessage>,
      };
      if (s.settle === undefined) s.resolve(res);
      else settleOk(s.settle, res, s.resolve, s.reject);
      return;
    }
    (s.trailer as Metadata).merge(trailer);
    this.cleanup(s);
    this.settleStream(s);
    (s.queue as AsyncQueue<MessageShape<DescMessage>>).end();
  }

  protected failStream(s: ClientStream, error: RpcError, _notifyPeer: boolean): void {
    if (s.done) return;
    this.cleanup(s);
    if (!s.settled) {
      s.settled = true;
      if (s.settle === undefined) s.reject(error);
      else settleError(s.settle, error, s.resolve, s.reject);
    } else s.queue?.fail(error);
  }

  private cleanup(s: ClientStream): void {
    if (s.onAbort !== undefined) s.req.signal?.removeEventListener("abort", s.onAbort);
    this.releaseStream(s);
  }

  protected onMessageTooLarge(s: ClientStream, size: number): void {
    this.cancel(
      s,
      new RpcError(Code.RESOURCE_EXHAUSTED, `response message of ${size} bytes exceeds the limit of ${this.local.maxMessageSize}`),
    );
  }

  protected onDeadline(s: ClientStream): void {
    this.cancel(s, new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
  }
}
