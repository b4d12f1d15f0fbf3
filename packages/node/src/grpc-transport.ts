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
} from "@petrel/core";
import type { ClosableTransport } from "@petrel/protocol-native";
import {
  MessageDeframer,
  codeFromHttpStatus,
  encodeGrpcTimeout,
  frameMessage,
  grpcContentType,
  headersToMetadata,
  metadataToHeaders,
  parseGrpcContentType,
  readGrpcStatus,
} from "@petrel/protocol-grpc";

/** Options of `createGrpcTransport`. */
export interface GrpcTransportOptions {
  /** `http://host:port` (h2c). */
  baseUrl: string;
  /** Largest response message accepted. Default 4 MiB (gRPC's default). */
  maxReceiveMessageSize?: number;
  /** Largest request message sent. Default 2^31-1. */
  maxSendMessageSize?: number;
  /** Codec used when a call names none. Default `proto`. */
  defaultCodec?: string;
  /** Codecs this client can use. Default `proto` and `json`. */
  codecs?: CodecRegistry;
  /** Options for `http2.connect` (settings, etc.). */
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
  let session: http2.ClientHttp2Session | undefined;
  let closed = false;

  function getSession(): http2.ClientHttp2Session {
    if (closed) throw new RpcError(Code.UNAVAILABLE, "transport is closed");
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const s = http2.connect(options.baseUrl, options.sessionOptions);
    s.on("error", () => {});
    s.on("close", () => {
      if (session === s) session = undefined;
    });
    s.on("goaway", () => {
      // Calls in flight finish on it; new ones open a fresh session.
      if (session === s) session = undefined;
    });
    s.unref();
    session = s;
    return s;
  }

  function open(req: UnaryRequest | StreamRequest): { stream: http2.ClientHttp2Stream; codec: Codec } {
    const codecName = req.codec ?? defaultCodec;
    const codec = codecs.get(codecName);
    if (codec === undefined) throw new RpcError(Code.UNIMPLEMENTED, `unsupported codec "${codecName}"`);
    if (req.signal?.aborted) throw new RpcError(Code.CANCELLED, "call cancelled before it started");
    const headers: Record<string, string | string[]> = {
      ":method": "POST",
      ":path": req.path,
      "content-type": grpcContentType(codec.name),
      te: "trailers",
      "grpc-accept-encoding": "identity",
      "user-agent": USER_AGENT,
    };
    if (req.deadline !== undefined) {
      const left = req.deadline - Date.now();
      if (left <= 0) throw new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded before the call started");
      headers["grpc-timeout"] = encodeGrpcTimeout(left);
    }
    metadataToHeaders(req.header, headers);
    const stream = getSession().request(headers);
    return { stream, codec };
  }

  return {
    unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>> {
      return new Promise<UnaryResponse<O>>((resolve, reject) => {
        let call: GrpcClientCall;
        try {
          const codec = codecs.get(req.codec ?? defaultCodec);
          const bytes = codec?.encode(req.method.input, req.message);
          if (bytes !== undefined && bytes.length > maxSend) {
            throw new RpcError(Code.RESOURCE_EXHAUSTED, `grpc: request message of ${bytes.length} bytes exceeds the limit of ${maxSend}`);
          }
          const { stream, codec: c } = open(req as UnaryRequest);
          call = new GrpcClientCall(stream, c, req as UnaryRequest, maxRecv, false);
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
          stream.end(frameMessage(bytes as Uint8Array));
        } catch (e) {
          reject(RpcError.from(e, Code.INTERNAL));
        }
      });
    },

    stream<I extends DescMessage, O extends DescMessage>(req: StreamRequest<I>): Promise<StreamResponse<O>> {
      return new Promise<StreamResponse<O>>((resolve, reject) => {
        let call: GrpcClientCall;
        try {
          const { stream, codec } = open(req as StreamRequest);
          call = new GrpcClientCall(stream, codec, req as StreamRequest, maxRecv, true);
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
        void call.pumpRequests(req.message as AsyncIterable<MessageShape<DescMessage>>, maxSend);
      });
    },

    async close() {
      closed = true;
      const s = session;
      session = undefined;
      if (s !== undefined && !s.closed) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
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

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly codec: Codec,
    private readonly req: UnaryRequest | StreamRequest,
    maxRecv: number,
    streaming: boolean,
  ) {
    this.deframer = new MessageDeframer({ maxMessageSize: maxRecv });
    if (streaming) {
      this.queue = new AsyncQueue<MessageShape<DescMessage>>(
        () => {
          if (stream.isPaused() && (this.queue?.length ?? 0) < OUTPUT_HIGH_WATER / 2) stream.resume();
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
      this.deframer.push(chunk, (bytes, compressed) => {
        if (compressed) throw new RpcError(Code.INTERNAL, "grpc: compressed response without grpc-encoding");
        let m: MessageShape<DescMessage>;
        try {
          m = this.codec.decode(this.req.method.output, bytes);
        } catch (e) {
          throw new RpcError(Code.INTERNAL, `grpc: cannot decode response ${this.req.method.output.typeName}: ${(e as Error).message}`);
        }
        if (this.queue !== undefined) {
          this.queue.push(m);
          if (this.queue.length >= OUTPUT_HIGH_WATER) this.stream.pause();
        } else this.messages.push(m);
      });
    } catch (e) {
      this.cancel(RpcError.from(e, Code.INTERNAL));
    }
  }

  /** Sends the request stream with backpressure; half-closes at its end. */
  async pumpRequests(input: AsyncIterable<MessageShape<DescMessage>>, maxSend: number): Promise<void> {
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
        const bytes = this.codec.encode(this.req.method.input, r.value);
        if (bytes.length > maxSend)
          throw new RpcError(Code.RESOURCE_EXHAUSTED, `grpc: request message of ${bytes.length} bytes exceeds the limit of ${maxSend}`);
        if (!this.stream.write(frameMessage(bytes))) {
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
    let err: RpcError | undefined;
    const status = this.trailersOnly ?? this.trailers;
    if (this.httpStatus === undefined) {
      err =
        this.localError ??
        (this.stream.rstCode !== undefined && this.stream.rstCode !== 0
          ? new RpcError(codeFromRst(this.stream.rstCode), `grpc: stream reset by the server (code ${this.stream.rstCode})`)
          : new RpcError(Code.UNAVAILABLE, "grpc: connection closed before a response"));
    } else if (this.httpStatus !== 200) {
      err = new RpcError(codeFromHttpStatus(this.httpStatus), `grpc: unexpected HTTP status ${this.httpStatus} from the server`);
    } else if (!this.grpcResponse) {
      err = new RpcError(Code.UNKNOWN, "grpc: the server's response is not gRPC (content-type)");
    } else if (status === undefined || status["grpc-status"] === undefined) {
      err =
        this.stream.rstCode !== undefined && this.stream.rstCode !== 0
          ? new RpcError(codeFromRst(this.stream.rstCode), `grpc: stream reset by the server (code ${this.stream.rstCode})`)
          : new RpcError(Code.INTERNAL, "grpc: response ended without grpc-status");
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
