import * as http2 from "node:http2";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  AsyncQueue,
  Code,
  Metadata,
  RpcError,
  createDefaultCodecRegistry,
  type Codec,
  type CodecRegistry,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
  markReceivedCompressed,
  messageCompressionHint,
} from "@petrel/core";
import type { ClosableTransport } from "@petrel/protocol-native";
import {
  IDENTITY_ENCODING,
  MessageDeframer,
  codeFromHttpStatus,
  encodeGrpcTimeout,
  frameMessage,
  grpcContentType,
  headersToMetadata,
  metadataToHeaders,
  parseGrpcContentType,
  readGrpcStatus,
  type Compression,
  type CompressionRegistry,
} from "@petrel/protocol-grpc";
import { createDefaultGrpcCompressions } from "./grpc-compression.js";
import { OrderedInflater } from "./grpc-ordered-inflater.js";
import { KeepalivePinger, TOO_MANY_PINGS, keepaliveMs, publishConnectionEvent } from "./grpc-keepalive.js";
import { secureConnectOptions, type GrpcClientTlsOptions } from "./grpc-tls.js";

/**
 * Petrel's per-call compression switch on the client: a request header `x-petrel-compress`
 * (`gzip`, `deflate` or `identity`) overrides the transport's `compression` for that call. It is
 * removed before the request is sent.
 */
const COMPRESS_HEADER = "x-petrel-compress";

/** Options of `createGrpcTransport`. */
export interface GrpcTransportOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS, ALPN h2). */
  baseUrl: string;
  /** TLS settings for an `https://` baseUrl: CAs, a client certificate for mutual TLS, the server name. */
  tls?: GrpcClientTlsOptions;
  /**
   * Ping the server every this many ms (while calls are in flight, or always with
   * `keepalivePermitWithoutCalls`); a ping unanswered within `keepaliveTimeoutMs` destroys the
   * connection, failing its calls with UNAVAILABLE, and the next call reconnects. Doubled when
   * the server answers GOAWAY "too_many_pings" (gRPC A8). Default: off. Servers usually refuse
   * pings more often than every 5 minutes.
   */
  keepaliveTimeMs?: number;
  /** How long (ms) a keepalive ping may go unanswered. Default 20000. */
  keepaliveTimeoutMs?: number;
  /** Send keepalive pings also while no call is in flight. Default false. */
  keepalivePermitWithoutCalls?: boolean;
  /** Largest response message accepted. Default 4 MiB (gRPC's default). */
  maxReceiveMessageSize?: number;
  /** Largest request message sent. Default 2^31-1. */
  maxSendMessageSize?: number;
  /** Codec used when a call names none. Default `proto`. */
  defaultCodec?: string;
  /** Codecs this client can use. Default `proto` and `json`. */
  codecs?: CodecRegistry;
  /**
   * Compression for request messages (`"gzip"`, `"deflate"`); default none (identity). A call can
   * override it with the request header `x-petrel-compress`.
   */
  compression?: string;
  /**
   * Compressions for requests and for decoding responses, advertised in `grpc-accept-encoding`.
   * Default `createDefaultGrpcCompressions()` (deflate, gzip).
   */
  compressions?: CompressionRegistry;
  /**
   * Options for `http2.connect` (settings, etc.). By default `peerMaxConcurrentStreams` is 1
   * until the server's SETTINGS arrive, so a burst of calls on a new connection queues instead of
   * being refused (REFUSED_STREAM) by a server with a low `maxConcurrentStreams`.
   */
  sessionOptions?: http2.ClientSessionOptions;
}

const USER_AGENT = "petrel-node/0.1";
/** Response messages queued for a slow reader before we stop reading (HTTP/2 flow control then pushes back). */
const OUTPUT_HIGH_WATER = 16;

/**
 * A gRPC client over HTTP/2 (h2c): one session per endpoint shared by every call, reconnected on
 * the next call after it is lost. Interchangeable with `createNativeTransport` under `createClient`.
 */
export function createGrpcTransport(options: GrpcTransportOptions): ClosableTransport {
  const codecs = options.codecs ?? createDefaultCodecRegistry();
  const maxRecv = options.maxReceiveMessageSize ?? 4 * 1024 * 1024;
  const maxSend = options.maxSendMessageSize ?? 0x7fff_ffff;
  const defaultCodec = options.defaultCodec ?? "proto";
  const compressions = options.compressions ?? createDefaultGrpcCompressions();
  if (options.compression !== undefined && !compressions.supports(options.compression)) {
    throw new TypeError(`grpc: unknown compression "${options.compression}"`);
  }
  const acceptEncoding = compressions.acceptEncoding();
  const connectOptions: http2.ClientSessionOptions | http2.SecureClientSessionOptions = {
    // Calls beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS queue inside nghttp2; before its
    // SETTINGS arrive, nghttp2 would assume 100 and the server would refuse the excess.
    peerMaxConcurrentStreams: 1,
    ...secureConnectOptions(options.baseUrl, options.tls),
    ...options.sessionOptions,
  };
  let keepaliveTime = keepaliveMs("keepaliveTimeMs", options.keepaliveTimeMs, 0);
  const keepaliveTimeout = keepaliveMs("keepaliveTimeoutMs", options.keepaliveTimeoutMs, 20_000);
  const keepaliveIdle = options.keepalivePermitWithoutCalls === true;

  /** The request compression of a call: its `x-petrel-compress` header, else the transport's. */
  function requestCompression(req: UnaryRequest | StreamRequest): Compression | undefined {
    const name = (req.header.getString(COMPRESS_HEADER) ?? options.compression ?? IDENTITY_ENCODING).trim().toLowerCase();
    if (!compressions.supports(name))
      throw new RpcError(Code.INVALID_ARGUMENT, `grpc: unknown compression "${name}" in ${COMPRESS_HEADER}`);
    return compressions.get(name);
  }
  let session: http2.ClientHttp2Session | undefined;
  let closed = false;
  /** Calls in flight per session (a session replaced after GOAWAY may still finish calls). */
  const activeCalls = new WeakMap<http2.ClientHttp2Session, number>();

  function getSession(): http2.ClientHttp2Session {
    if (closed) throw new RpcError(Code.UNAVAILABLE, "transport is closed");
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const s = http2.connect(options.baseUrl, connectOptions);
    s.on("error", () => {});
    s.on("close", () => {
      if (session === s) session = undefined;
    });
    s.on("goaway", (code: number, _last: number, data?: Buffer) => {
      // Calls in flight finish on it; new ones open a fresh session.
      if (session === s) session = undefined;
      if (code === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM && data !== undefined && TOO_MANY_PINGS.equals(data) && keepaliveTime > 0) {
        // gRPC A8: the server wants fewer pings; back off for the sessions to come.
        keepaliveTime = Math.min(keepaliveTime * 2, 0x7fff_ffff);
      }
    });
    if (keepaliveTime > 0) startKeepalive(s);
    // An idle session must not keep the process alive; calls in flight must (see `open`).
    s.unref();
    session = s;
    return s;
  }

  function startKeepalive(s: http2.ClientHttp2Session): void {
    const pinger = new KeepalivePinger(s, {
      timeMs: keepaliveTime,
      timeoutMs: keepaliveTimeout,
      shouldPing: () => keepaliveIdle || (activeCalls.get(s) ?? 0) > 0,
      onTimeout: () => {
        publishConnectionEvent({ t: "keepalive_timeout", side: "client", peer: options.baseUrl, timeoutMs: keepaliveTimeout });
        // Destroying the session fails its calls with UNAVAILABLE; the next call reconnects.
        s.destroy(new Error(`keepalive ping to ${options.baseUrl} not acknowledged within ${keepaliveTimeout} ms`));
      },
    });
    s.once("connect", () => pinger.start());
    s.once("close", () => pinger.stop());
  }

  function open(
    req: UnaryRequest | StreamRequest,
    compression: Compression | undefined,
  ): { stream: http2.ClientHttp2Stream; codec: Codec } {
    const codecName = req.codec ?? defaultCodec;
    const codec = codecs.get(codecName);
    if (codec === undefined) throw new RpcError(Code.UNIMPLEMENTED, `unsupported codec "${codecName}"`);
    if (req.signal?.aborted) throw new RpcError(Code.CANCELLED, "call cancelled before it started");
    const headers: Record<string, string | string[]> = {
      ":method": "POST",
      ":path": req.path,
      "content-type": grpcContentType(codec.name),
      te: "trailers",
      "grpc-accept-encoding": acceptEncoding,
      "user-agent": USER_AGENT,
    };
    if (compression !== undefined) headers["grpc-encoding"] = compression.name;
    if (req.deadline !== undefined) {
      const left = req.deadline - Date.now();
      if (left <= 0) throw new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded before the call started");
      headers["grpc-timeout"] = encodeGrpcTimeout(left);
    }
    metadataToHeaders(req.header, headers);
    delete headers[COMPRESS_HEADER];
    const session = getSession();
    const stream = session.request(headers);
    // Keep the process alive while calls are in flight; let it exit once the session is idle.
    const n = activeCalls.get(session) ?? 0;
    activeCalls.set(session, n + 1);
    if (n === 0) session.ref();
    stream.once("close", () => {
      const left = (activeCalls.get(session) ?? 1) - 1;
      activeCalls.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
    });
    return { stream, codec };
  }

  return {
    unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>> {
      return new Promise<UnaryResponse<O>>((resolve, reject) => {
        void (async () => {
          let call: GrpcClientCall;
          try {
            const compression = requestCompression(req as UnaryRequest);
            const codec = codecs.get(req.codec ?? defaultCodec);
            let bytes = codec?.encode(req.method.input, req.message);
            if (bytes !== undefined && bytes.length > maxSend) {
              throw new RpcError(Code.RESOURCE_EXHAUSTED, `grpc: request message of ${bytes.length} bytes exceeds the limit of ${maxSend}`);
            }
            // A message marked setMessageCompression(msg, false) goes out uncompressed on a compressing call.
            const compress = compression !== undefined && messageCompressionHint(req.message) !== false;
            if (bytes !== undefined && compress) bytes = await compressRequest(compression, bytes);
            const { stream, codec: c } = open(req as UnaryRequest, compression);
            call = new GrpcClientCall(stream, c, req as UnaryRequest, maxRecv, false, compressions);
            call.onSettled = (err) => {
              if (err !== undefined) return reject(err);
              if (call.messages.length !== 1) {
                return reject(
                  new RpcError(Code.UNIMPLEMENTED, `grpc: unary call got ${call.messages.length} response messages, want 1`, {
                    metadata: call.trailer,
                  }),
                );
              }
              resolve({
                stream: false,
                service: req.service,
                method: req.method,
                header: call.header,
                trailer: call.trailer,
                message: call.messages[0] as MessageShape<O>,
              });
            };
            stream.end(frameMessage(bytes as Uint8Array, compress));
          } catch (e) {
            reject(RpcError.from(e, Code.INTERNAL));
          }
        })();
      });
    },

    stream<I extends DescMessage, O extends DescMessage>(req: StreamRequest<I>): Promise<StreamResponse<O>> {
      return new Promise<StreamResponse<O>>((resolve, reject) => {
        let call: GrpcClientCall;
        let compression: Compression | undefined;
        try {
          compression = requestCompression(req as StreamRequest);
          const { stream, codec } = open(req as StreamRequest, compression);
          call = new GrpcClientCall(stream, codec, req as StreamRequest, maxRecv, true, compressions);
        } catch (e) {
          reject(RpcError.from(e, Code.INTERNAL));
          return;
        }
        call.onHeaders = () =>
          resolve({
            stream: true,
            service: req.service,
            method: req.method,
            header: call.header,
            trailer: call.trailer,
            message: call.queue as unknown as AsyncQueue<MessageShape<O>>,
          });
        call.onSettled = (err) => {
          if (err !== undefined) reject(err);
        };
        void call.pumpRequests(req.message as AsyncIterable<MessageShape<DescMessage>>, maxSend, compression);
      });
    },

    async close() {
      closed = true;
      const s = session;
      session = undefined;
      // A destroyed session never calls close()'s callback.
      if (s !== undefined && !s.closed && !s.destroyed) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

async function compressRequest(c: Compression, bytes: Uint8Array): Promise<Uint8Array> {
  try {
    return await c.compress(bytes);
  } catch (e) {
    throw new RpcError(Code.INTERNAL, `grpc: cannot compress request: ${(e as Error).message}`, { cause: e });
  }
}

/** Maps an RST_STREAM code the peer sent to a call status (gRPC's PROTOCOL-HTTP2 table). */
function codeFromRst(rst: number): Code {
  switch (rst) {
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return Code.UNAVAILABLE;
    case http2.constants.NGHTTP2_CANCEL:
      return Code.CANCELLED;
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return Code.RESOURCE_EXHAUSTED;
    case http2.constants.NGHTTP2_INADEQUATE_SECURITY:
      return Code.PERMISSION_DENIED;
    default:
      return Code.INTERNAL;
  }
}

/** One outbound gRPC call. */
class GrpcClientCall {
  header = new Metadata();
  trailer = new Metadata();
  readonly messages: MessageShape<DescMessage>[] = [];
  queue: AsyncQueue<MessageShape<DescMessage>> | undefined;
  onHeaders: (() => void) | undefined;
  onSettled: ((err: RpcError | undefined) => void) | undefined;
  private settled = false;
  private headersDelivered = false;
  private httpStatus: number | undefined;
  private grpcResponse = false;
  private trailersOnly: Record<string, string | string[] | undefined> | undefined;
  private trailers: Record<string, string | string[] | undefined> | undefined;
  private localError: RpcError | undefined;
  private readonly deframer: MessageDeframer;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.cancel(new RpcError(Code.CANCELLED, "call cancelled"));
  /** The response's `grpc-encoding` algorithm; undefined for identity. */
  private resCompression: Compression | undefined;

  /** Response messages in arrival order, decompressed asynchronously when compressed. */
  private readonly inflater: OrderedInflater;
  /** The call's session (`stream.session` is gone once the stream closes). */
  private readonly session: http2.Http2Session | undefined;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly codec: Codec,
    private readonly req: UnaryRequest | StreamRequest,
    maxRecv: number,
    streaming: boolean,
    private readonly compressions: CompressionRegistry,
  ) {
    this.session = stream.session;
    this.deframer = new MessageDeframer({ maxMessageSize: maxRecv });
    this.inflater = new OrderedInflater(
      {
        isDone: () => this.settled,
        deliver: (bytes, compressed) => this.deliver(bytes, compressed),
        fail: (e) => this.cancel(e),
        pause: () => this.stream.pause(),
        settled: () => this.maybeResume(),
      },
      maxRecv,
      OUTPUT_HIGH_WATER,
    );
    if (streaming) {
      this.queue = new AsyncQueue<MessageShape<DescMessage>>(
        () => {
          this.maybeResume();
        },
        () => this.cancel(new RpcError(Code.CANCELLED, "client stopped reading the response stream")),
      );
    }
    // setTimeout turns delays over 2^31-1 ms into 1 ms: a deadline that far out counts as none.
    if (req.deadline !== undefined && req.deadline - Date.now() <= 0x7fff_ffff) {
      this.timer = setTimeout(
        () => this.cancel(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")),
        Math.max(0, req.deadline - Date.now()),
      );
      this.timer.unref?.();
    }
    req.signal?.addEventListener("abort", this.onAbort);
    stream.on("response", (h) => this.onResponse(h));
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("trailers", (t) => {
      this.trailers = t as Record<string, string | string[] | undefined>;
    });
    stream.on("error", (e) => {
      this.localError ??= new RpcError(Code.UNAVAILABLE, `grpc: ${e.message}`);
    });
    stream.on("close", () => this.onClose());
  }

  private onResponse(h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
    this.httpStatus = h[":status"];
    this.grpcResponse = parseGrpcContentType(h["content-type"]) !== undefined;
    if (this.httpStatus === 200 && this.grpcResponse && h["grpc-status"] !== undefined) {
      // Trailers-Only: the status came in the headers, nothing follows.
      this.trailersOnly = h as Record<string, string | string[] | undefined>;
      return;
    }
    if (this.httpStatus !== 200 || !this.grpcResponse) return;
    const encoding = String(h["grpc-encoding"] ?? IDENTITY_ENCODING).toLowerCase();
    if (encoding !== IDENTITY_ENCODING) {
      this.resCompression = this.compressions.get(encoding);
      if (this.resCompression === undefined) {
        this.cancel(new RpcError(Code.INTERNAL, `grpc: the server used grpc-encoding "${encoding}", which this client does not support`));
        return;
      }
    }
    try {
      this.header = headersToMetadata(h as Record<string, string | string[] | undefined>);
    } catch (e) {
      this.cancel(RpcError.from(e, Code.INTERNAL));
      return;
    }
    this.deliverHeaders();
  }

  private deliverHeaders(): void {
    if (this.headersDelivered) return;
    this.headersDelivered = true;
    this.onHeaders?.();
  }

  private onData(chunk: Buffer): void {
    if (this.settled || !this.grpcResponse || this.httpStatus !== 200) return;
    try {
      this.deframer.push(chunk, (bytes, compressed) => this.onMessage(bytes, compressed));
    } catch (e) {
      this.cancel(RpcError.from(e, Code.INTERNAL));
    }
  }

  private onMessage(bytes: Uint8Array, compressed: boolean): void {
    if (this.settled) return;
    const comp = this.resCompression;
    if (compressed && comp === undefined) throw new RpcError(Code.INTERNAL, "grpc: compressed response without grpc-encoding");
    this.inflater.push(bytes, compressed, comp);
  }

  private deliver(bytes: Uint8Array, compressed: boolean): void {
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
    } else this.messages.push(m);
  }

  /** Resumes reading once neither the reader's queue nor the decompression chain is backed up. */
  private maybeResume(): void {
    if (this.settled || !this.stream.isPaused()) return;
    if ((this.queue?.length ?? 0) < OUTPUT_HIGH_WATER / 2 && this.inflater.inflight < OUTPUT_HIGH_WATER / 2) this.stream.resume();
  }

  /** Sends the request stream with backpressure; half-closes at its end. */
  async pumpRequests(input: AsyncIterable<MessageShape<DescMessage>>, maxSend: number, compression?: Compression): Promise<void> {
    const it = input[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const r = await it.next();
        if (this.settled || this.stream.destroyed) return;
        if (r.done) {
          finished = true;
          break;
        }
        let bytes = this.codec.encode(this.req.method.input, r.value);
        if (bytes.length > maxSend)
          throw new RpcError(Code.RESOURCE_EXHAUSTED, `grpc: request message of ${bytes.length} bytes exceeds the limit of ${maxSend}`);
        const compress = compression !== undefined && messageCompressionHint(r.value) !== false;
        if (compress) {
          bytes = await compressRequest(compression, bytes);
          if (this.settled || this.stream.destroyed) return;
        }
        if (!this.stream.write(frameMessage(bytes, compress))) {
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
      finished = true;
      this.cancel(RpcError.from(e, Code.CANCELLED));
    } finally {
      if (!finished) it.return?.()?.catch(() => {});
    }
  }

  /** Ends the call locally with `err` and resets the stream. */
  cancel(err: RpcError): void {
    if (this.settled) return;
    this.settle(err);
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private onClose(): void {
    if (this.settled) return;
    if (this.inflater.busy !== undefined) {
      // Settle only after the messages still being decompressed are delivered.
      void this.inflater.busy.then(() => this.onClose());
      return;
    }
    let err: RpcError | undefined;
    const status = this.trailersOnly ?? this.trailers;
    if (this.httpStatus === undefined) {
      err = this.localError ?? this.resetError() ?? new RpcError(Code.UNAVAILABLE, "grpc: connection closed before a response");
    } else if (this.httpStatus !== 200) {
      err = new RpcError(codeFromHttpStatus(this.httpStatus), `grpc: unexpected HTTP status ${this.httpStatus} from the server`);
    } else if (!this.grpcResponse) {
      err = new RpcError(Code.UNKNOWN, "grpc: the server's response is not gRPC (content-type)");
    } else if (status === undefined || status["grpc-status"] === undefined) {
      err = this.localError ?? this.resetError() ?? new RpcError(Code.INTERNAL, "grpc: response ended without grpc-status");
    } else {
      try {
        this.deframer.end();
        const s = readGrpcStatus(status);
        if (s !== undefined) {
          this.trailer.merge(s.metadata);
          if (s.code !== Code.OK) err = new RpcError(s.code, s.message, { details: s.details, metadata: this.trailer });
        }
      } catch (e) {
        err = RpcError.from(e, Code.INTERNAL);
      }
    }
    this.settle(err);
  }

  /**
   * The error for a stream that ended in RST_STREAM. node:http2 also marks streams it closes
   * because the connection died (TLS alert, keepalive timeout, socket loss) with CANCEL: that is
   * UNAVAILABLE, not a cancellation by the server.
   */
  private resetError(): RpcError | undefined {
    const rst = this.stream.rstCode;
    if (rst === undefined || rst === 0) return undefined;
    if (rst === http2.constants.NGHTTP2_CANCEL && this.session?.destroyed !== false) {
      return new RpcError(Code.UNAVAILABLE, "grpc: connection lost before the call finished");
    }
    if (rst === http2.constants.NGHTTP2_REFUSED_STREAM) {
      return new RpcError(Code.UNAVAILABLE, "grpc: the server refused the stream (REFUSED_STREAM); the call was not processed");
    }
    return new RpcError(codeFromRst(rst), `grpc: stream reset by the server (code ${rst})`);
  }

  private settle(err: RpcError | undefined): void {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.req.signal?.removeEventListener("abort", this.onAbort);
    if (this.queue !== undefined) {
      if (err === undefined) {
        this.deliverHeaders();
        this.queue.end();
      } else if (this.headersDelivered) this.queue.fail(err);
    }
    this.onSettled?.(err);
  }
}
