import { channel as diagnosticsChannel } from "node:diagnostics_channel";
import * as http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import type { DescMethod } from "@bufbuild/protobuf";
import type { AdmissionController, HandlerContext, Router } from "@petrel/core";
import type { CompressionRegistry } from "@petrel/protocol-grpc";
import { createDefaultGrpcCompressions, validCompressMinBytes } from "./grpc-compression.js";
import { limitOption, setupServerAbuseLimits, type ServerAbuseConfig } from "./grpc-abuse.js";
import { keepaliveMs, publishConnectionEvent, setupServerKeepalive, type ServerKeepaliveConfig } from "./grpc-keepalive.js";
import { handleStream, type ServerConfig } from "./grpc-server-call.js";
import { secureServerOptions, tlsPeerInfo, type GrpcServerTlsOptions, type TlsPeerInfo } from "./grpc-tls.js";
import { reloadServerTls } from "./tls-options.js";
import { listenTcp } from "./tcp-channel.js";

export { COMPRESS_HEADER } from "@petrel/protocol-native";

/** Options of `createGrpcServer`. */
export interface GrpcServerOptions {
  /** The services to serve (the same router can serve petrel/1 too). */
  router: Router;
  /** Largest request message accepted. Default 4 MiB (gRPC's default). */
  maxReceiveMessageSize?: number;
  /** Largest response message sent. Default 2^31-1 (gRPC's default: unlimited). */
  maxSendMessageSize?: number;
  /** HTTP/2 settings, e.g. `{ initialWindowSize: 1 << 20 }`. */
  settings?: http2.Settings;
  /**
   * Serve over TLS (HTTP/2 with ALPN `h2` only), optionally with mutual TLS. Handlers see the
   * client's certificate through `getTlsPeer(ctx)`. Default: cleartext (h2c).
   */
  tls?: GrpcServerTlsOptions;
  /**
   * Calls one client may have in flight on one connection (SETTINGS_MAX_CONCURRENT_STREAMS);
   * gRPC clients queue calls beyond it. Overrides `settings.maxConcurrentStreams`. Default
   * unlimited (2^32-1), like grpc-go.
   */
  maxConcurrentStreams?: number;
  /** Ping each client after this long (ms) and close its connection if the ACK is late; 0 disables. Default 2 hours (grpc-go). */
  keepaliveTimeMs?: number;
  /** How long (ms) a server ping may go unanswered. Default 20000 (grpc-go). */
  keepaliveTimeoutMs?: number;
  /**
   * Least time (ms) clients must leave between their pings; a client pinging more often gets,
   * after two strikes, GOAWAY ENHANCE_YOUR_CALM "too_many_pings". Default 300000 (5 min, grpc-go's
   * `EnforcementPolicy.MinTime`).
   */
  keepaliveMinTimeMs?: number;
  /** Whether clients may ping while no call is in flight (else only every 2 hours). Default false (grpc-go). */
  keepalivePermitWithoutCalls?: boolean;
  /**
   * Connections served at once; more are closed at once (counted in `droppedConnections`). Applies to
   * connections this server accepts itself (a one-port server has its own). Default 10000.
   */
  maxConnections?: number;
  /** A client that has not sent the HTTP/2 preface and SETTINGS within this (ms) is disconnected; 0 = off. Default 10000. */
  handshakeTimeoutMs?: number;
  /** A connection without calls for this long (ms) gets GOAWAY and is closed; 0 = off. Default 300000 (5 min). */
  idleTimeoutMs?: number;
  /**
   * Rapid-reset protection (CVE-2023-44487): a client resetting more than this many calls within
   * `floodWindowMs` gets GOAWAY ENHANCE_YOUR_CALM "too_many_resets"; 0 = off. Default 500 (Node's
   * nghttp2 cuts off bursts of 1000 on its own, with INTERNAL_ERROR).
   */
  maxResetsPerWindow?: number;
  /** The window of `maxResetsPerWindow`, in ms. Default 10000. */
  floodWindowMs?: number;
  /**
   * Largest request header list (metadata) accepted, in bytes as HTTP/2 counts them (name + value
   * + 32 per field); a larger one resets the call with ENHANCE_YOUR_CALM, which gRPC clients report
   * as RESOURCE_EXHAUSTED. Overrides `settings.maxHeaderListSize`. Default 16384 (Node's own
   * default is unlimited; petrel/1 and HTTP/1.1 use 16 KiB too).
   */
  maxHeaderListSize?: number;
  /**
   * Message compressions understood in requests and usable for responses, advertised in
   * `grpc-accept-encoding`. Default `createDefaultGrpcCompressions()` (deflate, gzip, br).
   */
  compressions?: CompressionRegistry;
  /**
   * Compression for response messages (e.g. `"gzip"`, `"br"`), used only when the client's
   * `grpc-accept-encoding` lists it. Default: none (identity).
   */
  compression?: string;
  /** Per-method response compression; overrides `compression`. Return undefined to use `compression`. */
  compressResponses?: (method: DescMethod) => string | undefined;
  /**
   * On a call whose responses are compressed, response messages smaller than this many encoded
   * bytes are sent uncompressed (Compressed-Flag 0, which gRPC allows per message). A message
   * marked `setMessageCompression(msg, true)` is compressed whatever its size; one marked `false`
   * never is. Default 1024, as the Connect handler's.
   */
  compressMinBytes?: number;
  /**
   * Where HTTP/2 requests that are not gRPC go (gRPC-Web, Connect, REST, JSON-RPC over HTTP/2 …),
   * as Node http2 compatibility request/response objects. Default: HTTP 415 "this endpoint speaks gRPC".
   */
  http?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
  /**
   * Early load shedding (e.g. `@petrel/resilience`'s adaptive limiter): asked for every call before
   * its request is decoded; a refusal is RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms`.
   */
  admission?: AdmissionController;
  /** Sees handler failures (also non-RpcErrors the peer only sees as INTERNAL). Default: the diagnostics channel. */
  onHandlerError?: (error: unknown, ctx: HandlerContext) => void;
}

/** A running gRPC (HTTP/2, h2c or TLS) server; `S` is the type of the underlying `http2` server. */
export interface GrpcServer<S extends http2.Http2Server | http2.Http2SecureServer = http2.Http2Server> {
  listen(options?: { port?: number; host?: string }): Promise<{ host: string; port: number }>;
  /** Graceful shutdown: GOAWAY, in-flight calls finish; after `graceMs` (default 10000) sessions are destroyed. */
  close(options?: { graceMs?: number }): Promise<void>;
  /** The underlying `http2` server, e.g. to share the port with other handlers. */
  readonly http2Server: S;
  /** Connections closed at once because `maxConnections` were open. */
  readonly droppedConnections: number;
  /**
   * Replaces the TLS key, certificate, CAs and client-certificate policy without a restart: new
   * connections use them, established sessions continue. Throws on invalid options or a server
   * made without `tls`.
   */
  setTls(tls: GrpcServerTlsOptions): void;
}

/** Handler failures of the gRPC server, published as `{ error, service, method, peer }`. */
export const grpcHandlerErrorChannel = diagnosticsChannel("petrel:grpc:handler-error");

/** Creates a gRPC server over HTTP/2: TLS with `tls`, else cleartext (h2c). */
export function createGrpcServer(options: GrpcServerOptions & { tls: GrpcServerTlsOptions }): GrpcServer<http2.Http2SecureServer>;
export function createGrpcServer(options: GrpcServerOptions & { tls?: undefined }): GrpcServer<http2.Http2Server>;
export function createGrpcServer(options: GrpcServerOptions): GrpcServer<http2.Http2Server | http2.Http2SecureServer>;
export function createGrpcServer(options: GrpcServerOptions): GrpcServer<http2.Http2Server | http2.Http2SecureServer> {
  const maxRecv = options.maxReceiveMessageSize ?? 4 * 1024 * 1024;
  const maxSend = options.maxSendMessageSize ?? 0x7fff_ffff;
  const onHandlerError =
    options.onHandlerError ??
    ((error: unknown, ctx: HandlerContext) => {
      if (grpcHandlerErrorChannel.hasSubscribers) {
        grpcHandlerErrorChannel.publish({ error, service: ctx.service.typeName, method: ctx.method.name, peer: ctx.peer.address });
      }
    });
  const compressions = options.compressions ?? createDefaultGrpcCompressions();
  for (const name of [options.compression]) {
    if (name !== undefined && !compressions.supports(name)) throw new TypeError(`grpc: unknown compression "${name}"`);
  }
  const byMethod = options.compressResponses;
  const compressMinBytes = validCompressMinBytes(options.compressMinBytes);
  const keepalive: ServerKeepaliveConfig = {
    timeMs: keepaliveMs("keepaliveTimeMs", options.keepaliveTimeMs, 2 * 60 * 60 * 1000),
    timeoutMs: keepaliveMs("keepaliveTimeoutMs", options.keepaliveTimeoutMs, 20_000),
    policy: {
      minTimeMs: keepaliveMs("keepaliveMinTimeMs", options.keepaliveMinTimeMs, 5 * 60 * 1000),
      permitWithoutCalls: options.keepalivePermitWithoutCalls === true,
    },
  };
  const abuse: ServerAbuseConfig = {
    handshakeTimeoutMs: limitOption("handshakeTimeoutMs", options.handshakeTimeoutMs, 10_000),
    idleTimeoutMs: limitOption("idleTimeoutMs", options.idleTimeoutMs, 5 * 60 * 1000),
    maxResetsPerWindow: limitOption("maxResetsPerWindow", options.maxResetsPerWindow, 500),
    floodWindowMs: limitOption("floodWindowMs", options.floodWindowMs, 10_000),
  };
  const maxConnections = limitOption("maxConnections", options.maxConnections, 10_000);
  let settings: http2.Settings = {
    ...options.settings,
    maxHeaderListSize: limitOption("maxHeaderListSize", options.maxHeaderListSize, options.settings?.maxHeaderListSize ?? 16 * 1024),
  };
  if (options.maxConcurrentStreams !== undefined) {
    const n = options.maxConcurrentStreams;
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
      throw new TypeError(`grpc: maxConcurrentStreams must be an integer in [0, 2^32-1], got ${String(n)}`);
    }
    settings = { ...settings, maxConcurrentStreams: n };
  }
  /** TLS identity per session, read once at the handshake. */
  const tlsPeers = new WeakMap<http2.Http2Session, TlsPeerInfo>();
  const config: ServerConfig = {
    router: options.router,
    maxRecv,
    maxSend,
    compressions,
    responseCompression: (method) => byMethod?.(method) ?? options.compression,
    compressMinBytes,
    onHandlerError,
    // TLS identity is looked up per session, not per option: a one-port server (server.ts) hands
    // this server TLS sockets it accepted itself.
    peer: (stream) => {
      const tls = stream.session && tlsPeers.get(stream.session);
      return tls === undefined ? { address: peerOf(stream), protocol: "grpc" } : { address: peerOf(stream), protocol: "grpc", tls };
    },
    headerCache: undefined,
    admission: options.admission,
  };
  const server: http2.Http2Server | http2.Http2SecureServer =
    options.tls === undefined ? http2.createServer({ settings }) : http2.createSecureServer(secureServerOptions(options.tls, settings));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
    s.on("error", () => {});
    if ((s.socket as TLSSocket | undefined)?.encrypted === true) tlsPeers.set(s, tlsPeerInfo(s.socket as TLSSocket));
    setupServerKeepalive(s, keepalive);
    setupServerAbuseLimits(s, abuse);
  });
  // Node closes connections over the limit itself and tells with 'drop'.
  server.maxConnections = maxConnections;
  let dropped = 0;
  server.on("drop", () => {
    dropped++;
    publishConnectionEvent({ t: "connection_dropped", limit: maxConnections });
  });
  if (options.tls !== undefined) {
    server.on("tlsClientError", (error: Error, socket: TLSSocket) => {
      publishConnectionEvent({ t: "tls_error", peer: `${socket.remoteAddress}:${socket.remotePort}`, error });
    });
  }
  const http = options.http ?? unsupportedContentType;
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    try {
      if (!handleStream(stream, headers, config)) {
        // Node's own compatibility objects, built as its 'request' event would (which cannot be
        // used here: listening to it makes Node wrap every stream, gRPC ones included).
        stream.on("error", () => {});
        http(new http2.Http2ServerRequest(stream, headers, {}, rawHeaders), new http2.Http2ServerResponse(stream));
      }
    } catch (e) {
      // Never let one bad stream take the process down.
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      onHandlerError(e, undefined as unknown as HandlerContext);
    }
  });
  return {
    http2Server: server,
    get droppedConnections() {
      return dropped;
    },
    setTls(tls) {
      if (options.tls === undefined) throw new TypeError("grpc: setTls() needs a server created with tls");
      reloadServerTls(server as http2.Http2SecureServer, tls, "grpc");
    },
    listen({ port = 0, host = "127.0.0.1" } = {}) {
      return listenTcp(server, port, host);
    },
    async close({ graceMs = 10_000 } = {}) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        closed,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            for (const s of sessions) s.destroy();
            resolve();
          }, graceMs);
        }),
      ]);
      clearTimeout(timer);
      await closed;
    },
  };
}

function unsupportedContentType(_req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  // Not gRPC at all: the gRPC spec asks for HTTP 415.
  res.writeHead(415, { "content-type": "text/plain" });
  res.end("petrel: unsupported content-type; this endpoint speaks gRPC (application/grpc)\n");
}

function peerOf(stream: http2.ServerHttp2Stream): string {
  const sock = stream.session?.socket;
  if (sock === undefined) return "unknown";
  return sock.remoteFamily === "IPv6" ? `[${sock.remoteAddress}]:${sock.remotePort}` : `${sock.remoteAddress}:${sock.remotePort}`;
}
