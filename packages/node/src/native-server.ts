import { channel as diagnosticsChannel } from "node:diagnostics_channel";
import { createServer, type Server, type Socket } from "node:net";
import type { Router } from "@petrel/core";
import { ServerConnection, type ServerConnectionOptions } from "@petrel/protocol-native";
import { bindSocket } from "./tcp-channel.js";

/** Options of `createNativeServer`. */
export interface NativeServerOptions extends Omit<ServerConnectionOptions, "peerAddress" | "router"> {
  /** The services to serve. */
  router: Router;
  /** Refuse connections beyond this many (they are closed at once). Default: unlimited. */
  maxConnections?: number;
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
  /** Serves a socket accepted elsewhere (a one-port server hands over petrel/1 connections this way). */
  accept(socket: Socket): void;
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
  const onConnection = (socket: Socket) => {
    if (options.maxConnections !== undefined && conns.size >= options.maxConnections) {
      socket.destroy();
      return;
    }
    const peerAddress =
      socket.remoteFamily === "IPv6" ? `[${socket.remoteAddress}]:${socket.remotePort}` : `${socket.remoteAddress}:${socket.remotePort}`;
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
    conn = new ServerConnection(channel, { schedule: setImmediate, onHandlerError: publishHandlerError, ...options, peerAddress });
    conns.add(conn);
    conn.onOpen();
  };
  return {
    get connections() {
      return conns.size;
    },
    accept: onConnection,
    listen({ port = 0, host = "127.0.0.1" } = {}) {
      return new Promise((resolve, reject) => {
        server = createServer(onConnection);
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
