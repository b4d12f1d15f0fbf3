import { createServer, type Server, type Socket } from "node:net";
import type { Router } from "@petrel/core";
import {
  createJsonRpcDispatcher,
  type JsonSplitError,
  JsonValueSplitter,
  type JsonRpcDispatcher,
  type JsonRpcDispatcherOptions,
} from "@petrel/protocol-jsonrpc";
import { withErrorChannel } from "./jsonrpc-server-common.js";
import { peerInfoOf } from "./tls-peer.js";
import { listenTcp } from "./tcp-channel.js";

/** Options of `serveJsonRpcSocket`. */
export interface JsonRpcSocketOptions {
  /** Largest single JSON value (request or batch); larger -> parse error, then the connection closes. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Requests handled at once per connection; beyond it reading pauses (TCP pushes back). Default 64. */
  maxConcurrent?: number;
  /** Bytes already read from the socket (e.g. by a one-port protocol sniffer) to process first. */
  head?: Uint8Array;
}

const NEWLINE = Buffer.from("\n");

/**
 * Serves JSON-RPC on one stream socket. Framing: a stream of JSON values back to back — what Go's
 * `json.Encoder` writes and `json.Decoder` reads (`net/rpc/jsonrpc`) — each response followed by
 * `\n`, so newline-delimited clients work too. Requests are handled concurrently and answered in
 * completion order (ids match them). A value that is not JSON gets a -32700 reply and the
 * connection goes on; bytes that are not a JSON object/array, or a value over the size limit,
 * get a -32700 reply and the connection is closed (the stream is out of sync).
 * A one-port server hands it sockets whose first byte is `{` or `[`.
 */
export function serveJsonRpcSocket(socket: Socket, dispatcher: JsonRpcDispatcher, options: JsonRpcSocketOptions = {}): void {
  const splitter = new JsonValueSplitter(options.maxMessageBytes ?? 4 * 1024 * 1024);
  const maxConcurrent = options.maxConcurrent ?? 64;
  const ac = new AbortController();
  const call = { peer: peerInfoOf(socket, "jsonrpc/tcp"), signal: ac.signal };
  let inFlight = 0;
  let closing = false;
  socket.setNoDelay(true);

  const write = (text: string | undefined) => {
    if (text === undefined || socket.destroyed || !socket.writable) return;
    socket.write(text);
    socket.write(NEWLINE);
  };
  const run = (value: Uint8Array) => {
    inFlight++;
    if (inFlight >= maxConcurrent) socket.pause();
    void dispatcher.handle(value, call).then((out) => {
      write(out);
      inFlight--;
      if (closing && inFlight === 0) socket.end();
      else if (inFlight < maxConcurrent && !closing) socket.resume();
    });
  };
  const onData = (chunk: Buffer) => {
    let values: Uint8Array[];
    try {
      values = splitter.push(chunk);
    } catch (e) {
      const err = e as JsonSplitError;
      for (const v of err.values) run(v);
      write(dispatcher.parseError(err.message));
      stop();
      return;
    }
    for (const v of values) run(v);
  };
  // Stops reading; answers what is in flight, then ends the connection.
  const stop = () => {
    closing = true;
    socket.off("data", onData);
    socket.pause();
    if (inFlight === 0) socket.end();
  };
  socket.on("data", onData);
  socket.on("end", () => {
    if (splitter.midValue) write(dispatcher.parseError("connection ended inside a JSON value"));
    stop();
  });
  socket.on("error", () => {});
  socket.on("close", () => ac.abort());
  if (options.head !== undefined && options.head.length > 0) onData(Buffer.from(options.head));
}

/** Options of `createJsonRpcTcpServer`. */
export interface JsonRpcTcpServerOptions extends JsonRpcDispatcherOptions, Omit<JsonRpcSocketOptions, "head"> {
  /** Use this dispatcher instead of creating one. */
  dispatcher?: JsonRpcDispatcher;
}

/** A running JSON-RPC TCP server. */
export interface JsonRpcTcpServer {
  /** Starts listening. Port 0 picks a free port; the bound one is returned. Default host 127.0.0.1. */
  listen(options?: { port?: number; host?: string }): Promise<{ host: string; port: number }>;
  /** Stops accepting and destroys open connections. */
  close(): Promise<void>;
  /** The dispatcher (to share with HTTP/WebSocket). */
  readonly dispatcher: JsonRpcDispatcher;
  readonly server: Server;
}

/**
 * JSON-RPC over raw TCP (framing: see serveJsonRpcSocket). Defaults to `mode: "auto"`: per
 * message, JSON-RPC 2.0 or Go net/rpc's JSON-RPC 1.0, so `jsonrpc.Dial` clients and JSON-RPC 2.0
 * clients share the port.
 */
export function createJsonRpcTcpServer(router: Router, options: JsonRpcTcpServerOptions = {}): JsonRpcTcpServer {
  const dispatcher = options.dispatcher ?? createJsonRpcDispatcher(router, withErrorChannel({ mode: "auto", ...options }));
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveJsonRpcSocket(socket, dispatcher, options);
  });
  return {
    dispatcher,
    server,
    listen({ port = 0, host = "127.0.0.1" } = {}) {
      return listenTcp(server, port, host);
    },
    close() {
      return new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
    },
  };
}
