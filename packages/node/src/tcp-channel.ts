import { connect, type Server, type Socket } from "node:net";
import type { ByteChannel, ChannelEvents, Dialer } from "@petrel/protocol-native";

/**
 * Binds a `net.Socket` to a petrel/1 connection. Nagle is off: the connection already coalesces
 * frames into one write per tick, so delaying that write only adds latency.
 */
export function bindSocket(socket: Socket, events: ChannelEvents): ByteChannel {
  socket.setNoDelay(true);
  // A plain Uint8Array view: the reader slices frame payloads out of each chunk, and
  // Buffer#subarray goes through Buffer's species constructor, measurably slower per frame.
  socket.on("data", (chunk: Buffer) => events.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  let error: Error | undefined;
  socket.on("error", (e) => {
    error = e;
  });
  socket.on("close", () => events.onClose(error));
  return {
    write: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    end: () => {
      if (!socket.destroyed) socket.end();
    },
    destroy: () => socket.destroy(),
  };
}

/** Splits `host:port` (IPv6 as `[::1]:port`). */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (m === null) throw new TypeError(`invalid address "${address}": want host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}

/** A Dialer over TCP. */
export const tcpDialer: Dialer = (address, events) => {
  const { host, port } = parseHostPort(address);
  const socket = connect({ host, port });
  socket.once("connect", () => events.onOpen());
  return bindSocket(socket, events);
};

/**
 * Starts `server` listening on `host:port` (port 0 picks a free one) and resolves with the bound
 * address; a listen error (e.g. EADDRINUSE) rejects. Shared by every Petrel TCP server.
 */
export function listenTcp(server: Server, port: number, host: string): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const a = server.address();
      if (a === null || typeof a === "string") return reject(new Error("no TCP address"));
      resolve({ host: a.address, port: a.port });
    });
  });
}
