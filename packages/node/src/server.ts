// One port for every protocol. A connection's first bytes say what it speaks:
//   0x16                      TLS ClientHello -> handshake (ALPN h2 | http/1.1), then the same sniffing
//   "PETREL"                  petrel/1 (its preface)
//   "PRI * HTTP/2.0"          HTTP/2 with prior knowledge: gRPC, and Connect/gRPC-Web/REST/JSON-RPC over h2
//   "{" or "["                JSON values on a raw TCP stream: JSON-RPC 2.0 over TCP and Go's net/rpc/jsonrpc
//   a short length + a gob type definition   Go's net/rpc with its default gob codec (rpc.Dial)
//   an HTTP/1.1 method token  HTTP/1.1: JSON-RPC, REST, gRPC-Web, Connect, WebSocket upgrades
// Detection reads at most the first few bytes once per connection; the socket (with those bytes
// put back) is then handed to the protocol's own server, which consumes the socket's native handle
// directly, so calls afterwards cost exactly what they cost on a dedicated port (bench/: the
// "oneport" rows).
import * as http from "node:http";
import type * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Router } from "@petrel/core";
import type { Endpoint, Registrar, Registration } from "@petrel/discovery";
import { looksLikeGobRpc } from "@petrel/protocol-gob";
import { createGrpcServer, type GrpcServer, type GrpcServerOptions } from "./grpc-server.js";
import type { GrpcServerTlsOptions } from "./grpc-tls.js";
import { reloadServerTls, tlsServerOptions } from "./tls-options.js";
import { chainHttpHandlers, type HttpHandler } from "./http-handler.js";
import { createNativeServer, type NativeServer, type NativeServerOptions } from "./native-server.js";
import { listenTcp } from "./tcp-channel.js";

/** Options of {@link createPetrelServer}. */
export interface PetrelServerOptions {
  /** The services every protocol serves. */
  router: Router;
  /** petrel/1 options, or false to refuse petrel/1 connections. Default: on. */
  native?: false | Omit<NativeServerOptions, "router">;
  /** gRPC options, or false to refuse HTTP/2 connections. Default: on. */
  grpc?: false | Omit<GrpcServerOptions, "router" | "tls" | "http">;
  /**
   * HTTP protocols (JSON-RPC over HTTP, REST gateway, gRPC-Web, Connect …), tried in order for
   * every HTTP/1.1 request and every HTTP/2 request that is not gRPC. None takes it: 404 (JSON).
   */
  http?: readonly HttpHandler[];
  /** HTTP/1.1 `Upgrade` requests (e.g. JSON-RPC over WebSocket); return false to refuse (the socket is closed). */
  upgrade?: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => boolean;
  /** Raw TCP connections that start with `{` or `[` (JSON-RPC over TCP, Go net/rpc/jsonrpc). Default: refused. */
  json?: (socket: net.Socket) => void;
  /** Raw TCP connections of Go's net/rpc gob clients (`rpc.Dial`), e.g. `serveGobRpcSocket`. Default: refused. */
  gob?: (socket: net.Socket) => void;
  /**
   * Serve TLS on the same port (cleartext stays served): ALPN `h2` for HTTP/2 and gRPC,
   * `http/1.1` for HTTP/1.1, `petrel/1` for petrel/1; without ALPN the decrypted bytes are sniffed
   * like a cleartext connection. Handlers on every protocol see the client's certificate through
   * `getTlsPeer(ctx)`.
   */
  tls?: GrpcServerTlsOptions;
  /**
   * Register in a service registry once listening and deregister first thing on close(), so
   * clients stop picking this instance before it drains. The endpoint's address is the bound
   * `host:port` (or `advertise`), its protocols those this server serves.
   */
  registry?: {
    registrar: Registrar;
    /** Service name(s) to register under. */
    service: string | readonly string[];
    /** Instance id; default `host:port`. */
    id?: string;
    /** Address clients should dial when it differs from the bound one (e.g. bound to 0.0.0.0). */
    advertise?: string;
    weight?: number;
    zone?: string;
    version?: string;
    metadata?: Record<string, string>;
    ttlMs?: number;
  };
  /** How long (ms) a new connection may take to send the bytes that identify its protocol. Default 10000. */
  detectTimeoutMs?: number;
  /** HTTP/1.1 `headersTimeout` and `requestTimeout` (ms) against slow-loris clients. Default 10000 / 60000. */
  httpHeadersTimeoutMs?: number;
  httpRequestTimeoutMs?: number;
  /**
   * Connections (of every protocol) served at once; more are closed at once and counted in
   * `droppedConnections`. Default 10000: bounds file descriptors and memory a flood of clients can take.
   */
  maxConnections?: number;
}

/** What a connection turned out to speak. */
export type DetectedProtocol = "tls" | "native" | "h2" | "json" | "gob" | "http1";

/** A running one-port server. */
export interface PetrelServer {
  listen(options?: { port?: number; host?: string }): Promise<{ host: string; port: number }>;
  /** Graceful shutdown of every protocol; after `graceMs` (default 10000) connections are destroyed. */
  close(options?: { graceMs?: number }): Promise<void>;
  /** Connections per detected protocol since start (for tests and metrics). */
  readonly detected: Readonly<Record<DetectedProtocol | "refused", number>>;
  /** Connections closed at once because `maxConnections` were open. */
  readonly droppedConnections: number;
  /** Connections open now, every protocol (TCP sockets, before and after detection). */
  readonly connections: number;
  /**
   * Replaces the TLS key, certificate, CAs and client-certificate policy without a restart: new
   * connections use them, established ones continue. Throws on invalid options or a server made
   * without `tls`.
   */
  setTls(tls: GrpcServerTlsOptions): void;
}

const NATIVE_MAGIC = Buffer.from("PETREL", "latin1");
const H2_MAGIC = Buffer.from("PRI * HTTP/2.0\r\n", "latin1");

/**
 * Which protocol `buf` (the first bytes of a connection) starts, "more" when a longer prefix is
 * needed, or undefined when it is none Petrel speaks. Pure, for tests and fuzzing.
 */
export function detectProtocol(buf: Uint8Array): DetectedProtocol | "more" | undefined {
  if (buf.length === 0) return "more";
  const b0 = buf[0] as number;
  if (b0 === 0x16) return "tls";
  // Every other decision needs two bytes: a gob stream's first byte is a length that can be any
  // ASCII value; its second (a type definition's id) is 0x7F/0xFE/0xFF, which no other protocol sends.
  if (buf.length < 2) return "more";
  if (looksLikeGobRpc(buf)) return "gob";
  if (b0 === 0x7b || b0 === 0x5b) return "json";
  let candidate = false;
  for (const [magic, kind] of [
    [NATIVE_MAGIC, "native"],
    [H2_MAGIC, "h2"],
  ] as const) {
    const n = Math.min(buf.length, magic.length);
    let i = 0;
    while (i < n && buf[i] === magic[i]) i++;
    if (i === n) {
      if (n === magic.length) return kind;
      candidate = true;
    }
  }
  if (candidate) return "more";
  // HTTP/1.1 request line: a method token of upper-case letters then a space (RFC 9110 tokens are
  // wider, but every method a Petrel HTTP protocol serves is upper-case).
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c === 0x20) return i > 0 ? "http1" : undefined;
    if (c < 0x41 || c > 0x5a || i >= 16) return undefined;
  }
  return "more";
}

/** Creates a server that serves every configured protocol on one port. */
export function createPetrelServer(options: PetrelServerOptions): PetrelServer {
  const detectTimeoutMs = options.detectTimeoutMs ?? 10_000;
  const httpHandler = chainHttpHandlers(options.http ?? []);
  const native: NativeServer | undefined =
    options.native === false ? undefined : createNativeServer({ ...options.native, router: options.router });
  const grpc: GrpcServer | undefined =
    options.grpc === false
      ? undefined
      : createGrpcServer({
          ...options.grpc,
          router: options.router,
          http: httpHandler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
        });
  // HTTP/1.1 connections and their requests in flight, for a graceful close: http.Server.close()
  // only tracks connections it accepted itself, and this one never listens.
  const h1Sockets = new Map<net.Socket, number>();
  const headersTimeoutMs = options.httpHeadersTimeoutMs ?? 10_000;
  let closing = false;
  const http1 = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: options.httpRequestTimeoutMs ?? 60_000,
      // How often those timeouts are checked (Node's default, 30 s, would let a slow-loris client
      // hold a connection for up to 30 s past headersTimeout).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeoutMs / 4)),
    },
    (req, res) => {
      const socket = req.socket;
      h1Sockets.set(socket, (h1Sockets.get(socket) ?? 0) + 1);
      if (closing) res.shouldKeepAlive = false;
      res.once("close", () => {
        const n = (h1Sockets.get(socket) ?? 1) - 1;
        if (h1Sockets.has(socket)) h1Sockets.set(socket, n);
        if (closing && n === 0) socket.end();
      });
      httpHandler(req, res);
    },
  );
  // No "clientError" listener: Node's default answers 400, 408 (timeouts) or 431 (header overflow) and closes.
  // http.Server starts checking headersTimeout/requestTimeout when it starts listening; this one
  // never listens (sockets are handed to it), so start that here. close() stops it.
  http1.emit("listening");
  const upgrade = options.upgrade;
  http1.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (upgrade === undefined || !upgrade(req, socket, head)) {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    }
  });
  const detected: Record<DetectedProtocol | "refused", number> = { tls: 0, native: 0, h2: 0, json: 0, gob: 0, http1: 0, refused: 0 };
  const sockets = new Set<net.Socket>();

  const tlsServer =
    options.tls === undefined
      ? undefined
      : tls.createServer(tlsServerOptions(options.tls, "petrel server", ["h2", "http/1.1", "petrel/1"]));
  tlsServer?.on("secureConnection", (socket: tls.TLSSocket) => {
    if (socket.alpnProtocol === "h2") hand(socket, "h2");
    else if (socket.alpnProtocol === "http/1.1") hand(socket, "http1");
    else if (socket.alpnProtocol === "petrel/1") hand(socket, "native");
    else sniff(socket, false);
  });
  tlsServer?.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => socket.destroy());

  /** Hands a socket whose protocol is known to that protocol's server. */
  function hand(socket: net.Socket, kind: DetectedProtocol, head?: Buffer): void {
    if (head !== undefined && kind !== "http1") socket.unshift(head);
    switch (kind) {
      case "tls":
        if (tlsServer === undefined) return refuse(socket);
        detected.tls++;
        tlsServer.emit("connection", socket);
        return;
      case "native":
        if (native === undefined) return refuse(socket);
        detected.native++;
        native.accept(socket);
        socket.resume(); // paused by sniff(); JS 'data' listeners do not resume an explicitly paused socket
        return;
      case "h2":
        if (grpc === undefined) return refuse(socket);
        detected.h2++;
        grpc.http2Server.emit("connection", socket);
        return;
      case "json":
        if (options.json === undefined) return refuse(socket);
        detected.json++;
        options.json(socket);
        socket.resume();
        return;
      case "gob":
        if (options.gob === undefined) return refuse(socket);
        detected.gob++;
        options.gob(socket);
        socket.resume();
        return;
      case "http1":
        detected.http1++;
        if (!h1Sockets.has(socket)) {
          h1Sockets.set(socket, 0);
          socket.once("close", () => h1Sockets.delete(socket));
        }
        http1.emit("connection", socket);
        // Node's HTTP/1 parser reads the socket's native handle directly, so bytes put back with
        // unshift() would never reach it: feed the sniffed bytes to its 'data' listener instead.
        if (head !== undefined) socket.emit("data", head);
        socket.resume();
        return;
    }
  }

  function refuse(socket: net.Socket): void {
    detected.refused++;
    socket.destroy();
  }

  /** Reads until the protocol is known, puts the bytes back and hands the socket over. */
  function sniff(socket: net.Socket, tlsAllowed: boolean): void {
    let buf: Buffer | undefined;
    const timer = setTimeout(() => {
      cleanup();
      refuse(socket);
    }, detectTimeoutMs);
    const onData = (chunk: Buffer) => {
      buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
      const kind = detectProtocol(buf);
      if (kind === "more") return;
      cleanup();
      socket.pause();
      if (kind === undefined || (kind === "tls" && !tlsAllowed)) return refuse(socket);
      hand(socket, kind, buf);
    };
    const onEnd = () => {
      cleanup();
      socket.destroy();
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onEnd);
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onEnd);
  }

  const registrations: Registration[] = [];
  let dropped = 0;
  const listener = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    sniff(socket, true);
  });
  // Node closes connections over the limit before they reach the listener and tells with 'drop'.
  listener.maxConnections = options.maxConnections ?? 10_000;
  listener.on("drop", () => {
    dropped++;
  });

  return {
    detected,
    get connections() {
      return sockets.size;
    },
    get droppedConnections() {
      return dropped;
    },
    setTls(t) {
      if (tlsServer === undefined) throw new TypeError("petrel server: setTls() needs a server created with tls");
      reloadServerTls(tlsServer, t, "petrel server");
    },
    async listen({ port = 0, host = "127.0.0.1" } = {}) {
      const bound = await listenTcp(listener, port, host);
      const reg = options.registry;
      if (reg !== undefined) {
        const address = reg.advertise ?? (bound.host.includes(":") ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`);
        const endpoint: Endpoint = {
          id: reg.id ?? address,
          address,
          protocols: servedProtocols(options),
          ...(reg.weight === undefined ? {} : { weight: reg.weight }),
          ...(reg.zone === undefined ? {} : { zone: reg.zone }),
          ...(reg.version === undefined ? {} : { version: reg.version }),
          ...(reg.metadata === undefined ? {} : { metadata: reg.metadata }),
        };
        try {
          for (const service of typeof reg.service === "string" ? [reg.service] : reg.service) {
            registrations.push(await reg.registrar.register(service, endpoint, reg.ttlMs === undefined ? undefined : { ttlMs: reg.ttlMs }));
          }
        } catch (e) {
          // Not registered means not reachable by name: fail the start rather than serve unseen.
          await Promise.allSettled(registrations.splice(0).map((r) => r.deregister()));
          await new Promise<void>((resolve) => listener.close(() => resolve()));
          throw e;
        }
      }
      return bound;
    },
    async close({ graceMs = 10_000 } = {}) {
      // Leave the registry first: clients stop picking this instance while it drains.
      await Promise.allSettled(registrations.splice(0).map((r) => r.deregister()));
      const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
      const grace = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, graceMs);
      try {
        closing = true;
        const h1Closed = [...h1Sockets.keys()].map(
          (s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve()))),
        );
        for (const [s, busy] of h1Sockets) if (busy === 0) s.end();
        await Promise.all([native?.close({ graceMs }), grpc?.close({ graceMs }), ...h1Closed, stopped]);
        http1.close(); // stops the timeout checks (its "not running" error is expected: it never listened)
        // Connections still detecting their protocol.
        for (const s of sockets) s.destroy();
      } finally {
        clearTimeout(grace);
      }
    },
  };
}

/** What a server announces in the registry: the protocols it serves on its port. */
function servedProtocols(options: PetrelServerOptions): string[] {
  const out: string[] = [];
  if (options.native !== false) out.push("petrel/1");
  if (options.grpc !== false) out.push("grpc");
  if ((options.http?.length ?? 0) > 0) out.push("http");
  if (options.json !== undefined) out.push("jsonrpc/tcp");
  if (options.gob !== undefined) out.push("netrpc/gob");
  return out;
}
