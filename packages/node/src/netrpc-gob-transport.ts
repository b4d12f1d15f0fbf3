import { connect, type Socket } from "node:net";
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, Metadata, RpcError, type StreamResponse, type Transport, type UnaryRequest, type UnaryResponse } from "@petrel/core";
import { gobTypeOf, messageFromGob, messageToGob, NetRpcReader, NetRpcWriter, type NetRpcFrame } from "@petrel/protocol-gob";
import { rpcErrorOfString } from "@petrel/protocol-jsonrpc";

/** Options of `createGobRpcTransport`. */
export interface GobRpcTransportOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  port: number;
  /** Largest gob message accepted from the server. Default 16 MiB. */
  maxMessageBytes?: number;
}

/** A net/rpc (gob) client transport; `close()` ends the connection. */
export interface GobRpcTransport extends Transport {
  /** Closes the connection; calls in flight fail with UNAVAILABLE. */
  close(): Promise<void>;
}

interface Pending {
  settle(err: RpcError | undefined, frame?: NetRpcFrame): void;
}

interface Conn {
  socket: Socket;
  writer: NetRpcWriter;
  pending: Map<number, Pending>;
  closed: boolean;
  fail(err: RpcError): void;
}

/**
 * A client for Go `net/rpc` servers on the default gob codec (`rpc.ServeConn`, `rpc.Accept`).
 * Calls `Service.Method` (the short service name, as Go registers it) on one TCP connection,
 * pipelined and matched by Seq; the connection opens on first use and again after a failure.
 * Unary only (stream -> UNIMPLEMENTED). Requests and replies map onto the method's protobuf
 * messages by field name (gobTypeOf). A Go error string becomes RpcError UNKNOWN with that
 * text (`[code] message` from a Petrel server keeps its code; Go's "rpc: can't find …" is
 * UNIMPLEMENTED). Deadlines and cancellation end the call locally (net/rpc cannot cancel);
 * metadata has no place on the wire and is dropped.
 */
export function createGobRpcTransport(options: GobRpcTransportOptions): GobRpcTransport {
  const host = options.host ?? "127.0.0.1";
  let conn: Conn | undefined;
  let seq = 0;

  const open = (): Conn => {
    const socket = connect({ host, port: options.port });
    socket.setNoDelay(true);
    const reader = new NetRpcReader({ maxMessageBytes: options.maxMessageBytes ?? 16 * 1024 * 1024 });
    const c: Conn = {
      socket,
      writer: new NetRpcWriter(),
      pending: new Map(),
      closed: false,
      fail(err) {
        if (c.closed) return;
        c.closed = true;
        if (conn === c) conn = undefined;
        socket.destroy();
        for (const p of [...c.pending.values()]) p.settle(err);
        c.pending.clear();
      },
    };
    socket.on("data", (chunk: Buffer) => {
      let frames: NetRpcFrame[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        c.fail(new RpcError(Code.INTERNAL, `net/rpc gob: ${(e as Error).message}`));
        return;
      }
      for (const f of frames) {
        const key = typeof f.header.seq === "number" ? f.header.seq : -1;
        const p = c.pending.get(key);
        if (p === undefined) continue; // cancelled locally, or not ours: Go's client discards it too
        c.pending.delete(key);
        p.settle(undefined, f);
      }
    });
    socket.on("error", (e) => c.fail(new RpcError(Code.UNAVAILABLE, `net/rpc gob: ${e.message}`, { cause: e })));
    socket.on("close", () => c.fail(new RpcError(Code.UNAVAILABLE, "net/rpc gob: connection closed")));
    return c;
  };

  return {
    unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>> {
      return new Promise<UnaryResponse<O>>((resolve, reject) => {
        const { signal, deadline } = req;
        if (signal?.aborted)
          return reject(signal.reason instanceof RpcError ? signal.reason : new RpcError(Code.CANCELLED, "call cancelled"));
        if (deadline !== undefined && deadline <= Date.now()) return reject(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
        let bytes: Uint8Array;
        const id = seq;
        seq = seq >= Number.MAX_SAFE_INTEGER ? 0 : seq + 1;
        const name = `${req.service.name}.${req.method.name}`;
        const c = conn ?? open();
        conn = c;
        try {
          bytes = c.writer.request(name, id, gobTypeOf(req.method.input), messageToGob(req.method.input, req.message));
        } catch (e) {
          return reject(new RpcError(Code.INTERNAL, `cannot encode the request as gob: ${(e as Error).message}`));
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const onAbort = () => settle(signal?.reason instanceof RpcError ? signal.reason : new RpcError(Code.CANCELLED, "call cancelled"));
        let done = false;
        const settle = (err: RpcError | undefined, frame?: NetRpcFrame) => {
          if (done) return;
          done = true;
          c.pending.delete(id);
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          if (err !== undefined) return reject(err);
          const f = frame as NetRpcFrame;
          if (f.header.error !== "") return reject(errorOf(f.header.error));
          try {
            const message = messageFromGob(req.method.output, f.body);
            resolve({
              stream: false,
              service: req.service,
              method: req.method,
              header: new Metadata(),
              trailer: new Metadata(),
              message: message as never,
            });
          } catch (e) {
            reject(new RpcError(Code.INTERNAL, `cannot map the gob reply: ${(e as Error).message}`));
          }
        };
        c.pending.set(id, { settle });
        if (deadline !== undefined) {
          timer = setTimeout(
            () => settle(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")),
            Math.min(deadline - Date.now(), 0x7fff_ffff),
          );
        }
        signal?.addEventListener("abort", onAbort, { once: true });
        c.socket.write(bytes);
      });
    },
    stream<O extends DescMessage>(): Promise<StreamResponse<O>> {
      return Promise.reject(new RpcError(Code.UNIMPLEMENTED, "net/rpc carries unary calls only"));
    },
    async close() {
      conn?.fail(new RpcError(Code.UNAVAILABLE, "transport closed"));
    },
  };
}

function errorOf(text: string): RpcError {
  if (text.startsWith("rpc: can't find ") || text.startsWith("rpc: service/method request ill-formed"))
    return new RpcError(Code.UNIMPLEMENTED, text);
  return rpcErrorOfString(text);
}
