import * as http2 from "node:http2";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  RpcError,
  createDefaultCodecRegistry,
  type Codec,
  type CodecRegistry,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
  messageCompressionHint,
  settleFailure,
  type UnarySettle,
} from "@petrel/core";
import { COMPRESS_HEADER, type ConnectableTransport } from "@petrel/protocol-native";
import {
  IDENTITY_ENCODING,
  encodeGrpcTimeout,
  grpcContentType,
  metadataToHeaders,
  type Compression,
  type CompressionRegistry,
} from "@petrel/protocol-grpc";
import { type CallCount, GrpcClientCall, compressRequest } from "./grpc-client-call.js";
import { compressOverride, sameFlat, type LastHeaders } from "./grpc-client-request-headers.js";
import { createDefaultGrpcCompressions, shouldCompress, validCompressMinBytes } from "./grpc-compression.js";
import { frame } from "./grpc-frame.js";
import { KeepalivePinger, TOO_MANY_PINGS, keepaliveMs, publishConnectionEvent } from "./grpc-keepalive.js";
import { secureConnectOptions, type GrpcClientTlsOptions } from "./grpc-tls.js";

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
   * Compression for request messages (`"gzip"`, `"deflate"`, `"br"`); default none (identity). A
   * call can override it with the request header `x-petrel-compress`.
   */
  compression?: string;
  /**
   * Compressions for requests and for decoding responses, advertised in `grpc-accept-encoding`.
   * Default `createDefaultGrpcCompressions()` (deflate, gzip, br).
   */
  compressions?: CompressionRegistry;
  /**
   * On a call that compresses its requests, request messages smaller than this many encoded bytes
   * are sent uncompressed (Compressed-Flag 0; the call keeps its `grpc-encoding`). A message marked
   * `setMessageCompression(msg, true)` is compressed whatever its size; one marked `false` never is.
   * Default 1024.
   */
  compressMinBytes?: number;
  /**
   * Options for `http2.connect` (settings, etc.). By default `peerMaxConcurrentStreams` is 1
   * until the server's SETTINGS arrive, so a burst of calls on a new connection queues instead of
   * being refused (REFUSED_STREAM) by a server with a low `maxConcurrentStreams`.
   */
  sessionOptions?: http2.ClientSessionOptions;
}

const USER_AGENT = "petrel-node/0.1";

/**
 * A gRPC client over HTTP/2 (h2c): one session per endpoint shared by every call, reconnected on
 * the next call after it is lost. Interchangeable with `createNativeTransport` under `createClient`.
 * `connect()` opens the session ahead of calls (resolves on the HTTP/2 handshake, rejects with UNAVAILABLE).
 */
export function createGrpcTransport(options: GrpcTransportOptions): ConnectableTransport {
  const codecs = options.codecs ?? createDefaultCodecRegistry();
  const maxRecv = options.maxReceiveMessageSize ?? 4 * 1024 * 1024;
  const maxSend = options.maxSendMessageSize ?? 0x7fff_ffff;
  const defaultCodec = options.defaultCodec ?? "proto";
  const compressions = options.compressions ?? createDefaultGrpcCompressions();
  if (options.compression !== undefined && !compressions.supports(options.compression)) {
    throw new TypeError(`grpc: unknown compression "${options.compression}"`);
  }
  const acceptEncoding = compressions.acceptEncoding();
  const compressMinBytes = validCompressMinBytes(options.compressMinBytes);
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
    const override = compressOverride(req.header);
    // The common case, no compression at all, costs one scan of the metadata.
    if (override === undefined && options.compression === undefined) return undefined;
    const name = (override ?? options.compression ?? IDENTITY_ENCODING).trim().toLowerCase();
    if (!compressions.supports(name))
      throw new RpcError(Code.INVALID_ARGUMENT, `grpc: unknown compression "${name}" in ${COMPRESS_HEADER}`);
    return compressions.get(name);
  }
  let session: http2.ClientHttp2Session | undefined;
  let closed = false;
  /** Calls in flight per session (a session replaced after GOAWAY may still finish calls). */
  const activeCalls = new WeakMap<http2.ClientHttp2Session, CallCount>();
  /** The last session a call used and its counter: saves a WeakMap lookup per call. */
  let countedSession: http2.ClientHttp2Session | undefined;
  let countedCalls: CallCount = { n: 0 };

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
      shouldPing: () => keepaliveIdle || (activeCalls.get(s)?.n ?? 0) > 0,
      onTimeout: () => {
        publishConnectionEvent({ t: "keepalive_timeout", side: "client", peer: options.baseUrl, timeoutMs: keepaliveTimeout });
        // Destroying the session fails its calls with UNAVAILABLE; the next call reconnects.
        s.destroy(new Error(`keepalive ping to ${options.baseUrl} not acknowledged within ${keepaliveTimeout} ms`));
      },
    });
    s.once("connect", () => pinger.start());
    s.once("close", () => pinger.stop());
  }

  /** Request headers that depend only on the path and codec, built once per method (node:http2 copies them per call). */
  const baseHeaders = new Map<string, Record<string, string>>();
  let lastLeft = -1;
  let lastTimeout = "";
  let lastHeaders: LastHeaders | undefined;

  function requestHeaders(
    req: UnaryRequest | StreamRequest,
    codec: Codec,
    compression: Compression | undefined,
  ): Record<string, string | string[]> {
    const key = codec.name === "proto" ? req.path : `${req.path} ${codec.name}`;
    let base = baseHeaders.get(key);
    if (base === undefined) {
      if (baseHeaders.size >= 1024) baseHeaders.clear(); // bounded: paths come from the caller
      base = {
        ":method": "POST",
        ":path": req.path,
        "content-type": grpcContentType(codec.name),
        te: "trailers",
        "grpc-accept-encoding": acceptEncoding,
        "user-agent": USER_AGENT,
      };
      baseHeaders.set(key, base);
    }
    const md = req.header.flat;
    if (compression === undefined && req.deadline === undefined && md.length === 0) return base;
    let timeout: string | undefined;
    if (req.deadline !== undefined) {
      const left = req.deadline - Date.now();
      if (left <= 0) throw new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded before the call started");
      // Calls with the same time left share the encoded value.
      if (left !== lastLeft) {
        lastLeft = left;
        lastTimeout = encodeGrpcTimeout(left);
      }
      timeout = lastTimeout;
    }
    // Consecutive calls usually send the same headers (same method, timeout and metadata):
    // node:http2 copies the object it is given, so the last one can be reused as is.
    const last = lastHeaders;
    if (
      last !== undefined &&
      last.base === base &&
      last.timeout === timeout &&
      last.compression === compression &&
      sameFlat(last.flat, md)
    ) {
      return last.headers;
    }
    const headers: Record<string, string | string[]> = { ...base };
    if (compression !== undefined) headers["grpc-encoding"] = compression.name;
    if (timeout !== undefined) headers["grpc-timeout"] = timeout;
    if (md.length > 0) metadataToHeaders(req.header, headers);
    if (headers[COMPRESS_HEADER] !== undefined) delete headers[COMPRESS_HEADER];
    lastHeaders = { base, timeout, compression, flat: md.slice(), headers };
    return headers;
  }

  /** Opens the HTTP/2 stream of a call and attaches its listeners; throws RpcError. */
  function startCall(
    req: UnaryRequest | StreamRequest,
    codec: Codec,
    compression: Compression | undefined,
    streaming: boolean,
  ): GrpcClientCall {
    if (req.signal?.aborted) throw new RpcError(Code.CANCELLED, "call cancelled before it started");
    const headers = requestHeaders(req, codec, compression);
    const session = getSession();
    const stream = session.request(headers);
    if (session !== countedSession) {
      let c = activeCalls.get(session);
      if (c === undefined) {
        c = { n: 0 };
        activeCalls.set(session, c);
      }
      countedSession = session;
      countedCalls = c;
    }
    // Keep the process alive while calls are in flight; let it exit once the session is idle.
    if (countedCalls.n++ === 0) session.ref();
    return new GrpcClientCall(stream, session, countedCalls, codec, req, maxRecv, streaming, compressions);
  }

  function codecOf(req: UnaryRequest | StreamRequest): Codec {
    const name = req.codec ?? defaultCodec;
    const codec = name === defaultCodec ? defaultCodecImpl : codecs.get(name);
    if (codec === undefined) throw new RpcError(Code.UNIMPLEMENTED, `unsupported codec "${name}"`);
    return codec;
  }
  const defaultCodecImpl = codecs.get(defaultCodec);

  /** Opens a unary call and sends its one framed request with END_STREAM. */
  function sendUnary<O extends DescMessage>(
    req: UnaryRequest,
    codec: Codec,
    compression: Compression | undefined,
    body: Buffer,
    settle?: UnarySettle,
  ) {
    const call = startCall(req, codec, compression, false);
    call.unarySettle = settle;
    const p = new Promise<UnaryResponse<O>>((resolve, reject) => {
      call.resolve = resolve as (r: UnaryResponse | StreamResponse) => void;
      call.reject = reject;
    });
    call.stream.end(body);
    return p;
  }

  /** A unary call, with its outcome through `settle` when given (Transport.unarySettled). */
  function unary<O extends DescMessage>(req: UnaryRequest, settle: UnarySettle | undefined): Promise<UnaryResponse<O>> {
    try {
      const compression = requestCompression(req);
      const codec = codecOf(req);
      const bytes = codec.encode(req.method.input, req.message);
      if (bytes.length > maxSend) {
        throw new RpcError(Code.RESOURCE_EXHAUSTED, `grpc: request message of ${bytes.length} bytes exceeds the limit of ${maxSend}`);
      }
      // On a compressing call, a message under compressMinBytes or marked
      // setMessageCompression(msg, false) goes out uncompressed (flag 0).
      if (compression !== undefined && shouldCompress(messageCompressionHint(req.message), bytes.length, compressMinBytes)) {
        return compressRequest(compression, bytes).then(
          (b) => sendUnary<O>(req, codec, compression, frame(b, true), settle),
          (e: unknown) => failed<O>(e, settle),
        );
      }
      return sendUnary<O>(req, codec, compression, frame(bytes, false), settle);
    } catch (e) {
      return failed<O>(e, settle);
    }
  }

  /** A call that failed before it was sent. */
  function failed<O extends DescMessage>(e: unknown, settle: UnarySettle | undefined): Promise<UnaryResponse<O>> {
    if (settle === undefined) return Promise.reject(RpcError.from(e, Code.INTERNAL));
    return settleFailure(settle, e, Code.INTERNAL) as Promise<UnaryResponse<O>>;
  }

  return {
    // The unary path allocates no closure besides the promise's executor and runs no async
    // function unless the request is compressed (tsx wraps every closure, see bench/README.md).
    unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>> {
      return unary<O>(req as UnaryRequest, undefined);
    },
    unarySettled(req: UnaryRequest, settle: UnarySettle): Promise<UnaryResponse> {
      return unary(req, settle);
    },

    stream<I extends DescMessage, O extends DescMessage>(req: StreamRequest<I>): Promise<StreamResponse<O>> {
      let call: GrpcClientCall;
      let compression: Compression | undefined;
      try {
        compression = requestCompression(req as StreamRequest);
        call = startCall(req as StreamRequest, codecOf(req as StreamRequest), compression, true);
      } catch (e) {
        return Promise.reject(RpcError.from(e, Code.INTERNAL));
      }
      const p = new Promise<StreamResponse<O>>((resolve, reject) => {
        call.resolve = resolve as (r: UnaryResponse | StreamResponse) => void;
        call.reject = reject;
      });
      void call.pumpRequests(req.message as AsyncIterable<MessageShape<DescMessage>>, maxSend, compression, compressMinBytes);
      return p;
    },

    connect() {
      let s: http2.ClientHttp2Session;
      try {
        s = getSession();
      } catch (e) {
        return Promise.reject(RpcError.from(e, Code.UNAVAILABLE));
      }
      if (!s.connecting) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          s.off("connect", onConnect);
          s.off("error", done);
          s.off("close", done);
          if (err === undefined && !s.destroyed && !s.closed) resolve();
          else reject(new RpcError(Code.UNAVAILABLE, `cannot connect to ${options.baseUrl}: ${err?.message ?? "session closed"}`));
        };
        const onConnect = () => done();
        s.once("connect", onConnect);
        s.once("error", done);
        s.once("close", done);
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
