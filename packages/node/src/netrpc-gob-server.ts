import { createServer, type Server, type Socket } from "node:net";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, codeName, Metadata, RpcError, ServerContext, toWireError, type MethodHandler, type Router } from "@petrel/core";
import { MethodIndex } from "@petrel/protocol-jsonrpc";
import { gobTypeOf, isGobError, messageFromGob, messageToGob, NetRpcReader, NetRpcWriter, type NetRpcFrame } from "@petrel/protocol-gob";
import { peerInfoOf } from "./tls-peer.js";
import { listenTcp } from "./tcp-channel.js";

/** Options of `serveGobRpcSocket`. */
export interface GobRpcSocketOptions {
  /** Largest gob message (one type definition or value). Larger -> the connection closes. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Deepest value nesting accepted. Default 100. */
  maxDepth?: number;
  /** Most type definitions a client may send on one connection. Default 1000. */
  maxTypes?: number;
  /** Calls handled at once per connection; beyond it reading pauses (TCP pushes back). Default 64. */
  maxConcurrent?: number;
  /** Called with every handler failure the peer sees as INTERNAL/UNKNOWN, for logging. */
  onHandlerError?: (error: unknown, handler: MethodHandler) => void;
  /** Bytes already read from the socket (by a protocol sniffer) to process first. */
  head?: Uint8Array;
}

/**
 * Serves a router's unary methods to Go `net/rpc` clients using the default gob codec
 * (`rpc.Dial`, `rpc.NewClient`). Methods are named `Service.Method` with the short service name
 * (`pkg.Service.Method` too, see MethodIndex). Args and replies map onto protobuf messages by
 * field name (gobTypeOf). Calls run concurrently and are answered in completion order, as Go's
 * server does. Errors reach Go as `[code_name] message` strings (a non-RpcError as
 * `[internal] internal error`); unknown methods get Go's own "rpc: can't find …" texts. A
 * malformed gob stream or a limit exceeded closes the connection (the stream cannot resync),
 * which Go's client reports as a broken connection.
 */
export function serveGobRpcSocket(
  socket: Socket,
  router: Router,
  options: GobRpcSocketOptions = {},
  index = new MethodIndex(router),
): void {
  const reader = new NetRpcReader(options);
  const writer = new NetRpcWriter();
  const maxConcurrent = options.maxConcurrent ?? 64;
  const ac = new AbortController();
  const peer = peerInfoOf(socket, "netrpc-gob");
  let inFlight = 0;
  let closing = false;
  socket.setNoDelay(true);

  const send = (frame: NetRpcFrame, result: { error: string } | { out: MessageShape<DescMessage>; handler: MethodHandler }) => {
    if (socket.destroyed || !socket.writable) return;
    const { serviceMethod, seq } = frame.header;
    let bytes: Uint8Array;
    if ("error" in result) bytes = writer.response(serviceMethod, seq, result);
    else {
      const output = result.handler.method.output;
      try {
        bytes = writer.response(serviceMethod, seq, { type: gobTypeOf(output), value: messageToGob(output, result.out) });
      } catch {
        bytes = writer.response(serviceMethod, seq, { error: "[internal] cannot encode the reply as gob" });
      }
    }
    socket.write(bytes);
  };
  const finished = () => {
    inFlight--;
    if (closing && inFlight === 0) socket.end();
    else if (inFlight < maxConcurrent && !closing) socket.resume();
  };
  const call = (frame: NetRpcFrame) => {
    const name = frame.header.serviceMethod;
    const handler = index.resolve(name);
    if (handler === undefined || handler.method.methodKind !== "unary") {
      return send(frame, { error: notFound(name, router, handler !== undefined) });
    }
    let message: MessageShape<DescMessage>;
    try {
      message = messageFromGob(handler.method.input, frame.body);
    } catch (e) {
      return send(frame, { error: `[invalid_argument] ${(e as Error).message}` });
    }
    inFlight++;
    if (inFlight >= maxConcurrent) socket.pause();
    void invoke(handler, message, peer, ac.signal).then(
      (out) => {
        send(frame, { out, handler });
        finished();
      },
      (e: unknown) => {
        const err = toWireError(e);
        if (!(e instanceof RpcError) || err.code === Code.INTERNAL || err.code === Code.UNKNOWN) options.onHandlerError?.(e, handler);
        send(frame, { error: `[${codeName(err.code).toLowerCase()}] ${err.rawMessage}` });
        finished();
      },
    );
  };
  const onData = (chunk: Buffer) => {
    let frames: NetRpcFrame[];
    try {
      frames = reader.push(chunk);
    } catch (e) {
      if (!isGobError(e)) throw e;
      // The stream is out of sync: nothing more can be read. Answer what is in flight, then close.
      stop();
      return;
    }
    for (const f of frames) call(f);
  };
  const stop = () => {
    closing = true;
    socket.off("data", onData);
    socket.pause();
    if (inFlight === 0) socket.end();
  };
  socket.on("data", onData);
  socket.on("end", stop);
  socket.on("error", () => {});
  socket.on("close", () => ac.abort());
  if (options.head !== undefined && options.head.length > 0) onData(Buffer.from(options.head));
}

/** Go's texts (server.go readRequestHeader), so Go programs see what a Go server would say. */
function notFound(name: string, router: Router, streaming: boolean): string {
  const dot = name.lastIndexOf(".");
  if (dot < 0) return `rpc: service/method request ill-formed: ${name}`;
  if (streaming) return `rpc: can't find method ${name} (a streaming method; net/rpc carries unary calls only)`;
  const svc = name.slice(0, dot);
  const known = router.services().some((s) => s.typeName === svc || s.typeName.endsWith(`.${svc}`));
  return known ? `rpc: can't find method ${name}` : `rpc: can't find service ${name}`;
}

async function invoke(
  handler: MethodHandler,
  message: MessageShape<DescMessage>,
  peer: { address: string; protocol: string },
  signal: AbortSignal,
): Promise<MessageShape<DescMessage>> {
  const ctx = new ServerContext(handler.service, handler.method, new Metadata(), undefined, peer);
  const onAbort = () => ctx.abort(new RpcError(Code.CANCELLED, "client went away"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const res = await handler.invoke({ stream: false, method: handler.method, ctx, message });
    if (res.stream) throw new RpcError(Code.INTERNAL, "unary method returned a stream");
    return res.message;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Options of `createGobRpcServer`. */
export type GobRpcServerOptions = Omit<GobRpcSocketOptions, "head">;

/** A running net/rpc (gob) TCP server. */
export interface GobRpcServer {
  /** Starts listening. Port 0 picks a free port; the bound one is returned. Default host 127.0.0.1. */
  listen(options?: { port?: number; host?: string }): Promise<{ host: string; port: number }>;
  /** Stops accepting and destroys open connections. */
  close(): Promise<void>;
  readonly server: Server;
}

/** A TCP server speaking Go net/rpc's default gob protocol (see serveGobRpcSocket). */
export function createGobRpcServer(router: Router, options: GobRpcServerOptions = {}): GobRpcServer {
  const index = new MethodIndex(router);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveGobRpcSocket(socket, router, options, index);
  });
  return {
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
