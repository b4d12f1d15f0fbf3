import { channel as diagnosticsChannel } from "node:diagnostics_channel";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { Router } from "@petrel/core";
import { ServerConnection, type ServerConnectionOptions } from "@petrel/protocol-native";
import { createDefaultGrpcCompressions } from "./grpc-compression.js";
import { NATIVE_ALPN } from "./native-tls.js";
import { bindSocket } from "./tcp-channel.js";
import { reloadServerTls, type ServerTlsOptions, tlsServerOptions } from "./tls-options.js";
import { peerInfoOf } from "./tls-peer.js";

/** Options of `createNativeServer`. */
export interface NativeServerOptions extends Omit<ServerConnectionOptions, "peerAddress" | "peer" | "router"> {
  /** The services to serve. */
  router: Router;
  /**
   * Refuse connections beyond this many (they are closed at once, counted in `droppedConnections`).
   * Default 10000: bounds file descriptors and per-connection memory an abusive client can hold.
   */
  maxConnections?: number;
  /**
   * Serve petrel/1 over TLS (ALPN `petrel/1`), optionally mutual TLS; handlers see the client's
   * certificate through `getTlsPeer(ctx)`. Default: cleartext TCP.
   */
  tls?: ServerTlsOptions;
  /**
   * Compressions the server reads in requests (advertised in COMPRESSIONS) and may use for
   * responses (see `compression`, `compressResponses`, and the handler's `x-petrel-compress`
   * response header). Default `createDefaultGrpcCompressions()`: gzip and deflate (and whatever
   * else it holds). To read none, pass `settings: { compressions: ["identity"] }`.
   */
  compressions?: ServerConnectionOptions["compressions"];
}

/** A running petrel/1 server. */
export interface NativeServer {
  /** Starts listening. Port 0 picks a free port; the bound one is returned. */
  listen(options?: { port?: number; host?: string }): Promise<{ host: string; port: number }>;
  /**
   * Graceful shutdown: stop accepting, GOAWAY every connection so in-flight calls finish and new
   * ones get UNAVAILABLE; after `graceMs` (default 10000) remaining connections are destroyed.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /** Open connections. */
  readonly connections: number;
  /** Connections closed at once because `maxConnections` were open. */
  readonly droppedConnections: number;
  /** Serves a socket accepted elsewhere (a one-port server hands over petrel/1 connections this way). */
  accept(socket: Socket): void;
  /**
   * Replaces the TLS key, certificate, CAs and client-certificate policy without a restart: new
   * connections use them, established ones continue. Throws on invalid options or a server made
   * without `tls`.
   */
  setTls(tls: ServerTlsOptions): void;
}

/**
 * `node:diagnostics_channel` on which handler failures are published as
 * `{ error, method, peer }` (errors a peer only sees as INTERNAL included), for logging.
 */
export const handlerErrorChannel = diagnosticsChannel("petrel:server:handler-error");

function publishHandlerError(error: unknown, ctx: import("@petrel/core").HandlerContext): void {
  if (handlerErrorChannel.hasSubscribers)
    handlerErrorChannel.publish({ error, method: ctx.method.name, service: ctx.service.typeName, peer: ctx.peer.address });
}

/** Creates a petrel/1 server over TCP for a router. */
export function createNativeServer(options: NativeServerOptions): NativeServer {
  const conns = new Set<ServerConnection>();
  let server: Server | undefined;
  const maxConnections = options.maxConnections ?? 10_000;
  let dropped = 0;
  // One registry for every connection (and the COMPRESSIONS list built from it).
  const compressions = options.compressions ?? createDefaultGrpcCompressions();
  const tlsServer: TlsServer | undefined =
    options.tls === undefined ? undefined : createTlsServer(tlsServerOptions(options.tls, "petrel/1", [NATIVE_ALPN]));
  const onConnection = (socket: Socket) => {
    if (conns.size >= maxConnections) {
      dropped++;
      socket.destroy();
      return;
    }
    const peer = peerInfoOf(socket, "petrel/1");
    let conn: ServerConnection | undefined;
    const channel = bindSocket(socket, {
      onOpen: () => {},
      onData: (chunk) => conn?.onData(chunk),
      onClose: (err) => {
        if (conn !== undefined) {
          conns.delete(conn);
          conn.onClose(err);
        }
      },
    });
    conn = new ServerConnection(channel, {
      schedule: setImmediate,
      onHandlerError: publishHandlerError,
      ...options,
      compressions,
      peerAddress: peer.address,
      peer,
    });
    conns.add(conn);
    conn.onOpen();
  };
  return {
    get connections() {
      return conns.size;
    },
    get droppedConnections() {
      return dropped;
    },
    accept: onConnection,
    setTls(tls) {
      if (tlsServer === undefined) throw new TypeError("petrel/1: setTls() needs a server created with tls");
      reloadServerTls(tlsServer, tls, "petrel/1");
    },
    listen({ port = 0, host = "127.0.0.1" } = {}) {
      return new Promise((resolve, reject) => {
        if (tlsServer !== undefined) {
          tlsServer.on("secureConnection", (s: TLSSocket) => onConnection(s));
          // A failed or timed-out handshake (tls.handshakeTimeoutMs): Node 20 leaves the socket
          // open unless someone destroys it.
          tlsServer.on("tlsClientError", (_e: Error, s: TLSSocket) => s.destroy());
          // Count connections from TCP accept, not from the end of the handshake: a flood of
          // handshakes that never finish must hit the cap too. net.Server refuses beyond
          // maxConnections itself and reports each refusal as "drop".
          tlsServer.maxConnections = maxConnections;
          tlsServer.on("drop", () => dropped++);
          server = tlsServer;
        } else server = createServer(onConnection);
        server.once("error", reject);
        server.listen(port, host, () => {
          const a = server?.address();
          if (a === null || a === undefined || typeof a === "string") return reject(new Error("no TCP address"));
          resolve({ host: a.address, port: a.port });
        });
      });
    },
    async close({ graceMs = 10_000 } = {}) {
      const closedListener = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      const drained = Promise.all([...conns].map((c) => c.shutdown()));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const c of conns) c.destroy("server shutdown grace period over");
          resolve();
        }, graceMs);
      });
      await Promise.race([drained, grace]);
      clearTimeout(timer);
      await closedListener;
    },
  };
}
