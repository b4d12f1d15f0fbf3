// raw-net: the ceiling for Node. A node:net length-prefixed, pipelined echo.
//
// Frame: u32 length (bytes after the 8-byte header, big-endian) | u32 id | payload.
// Unary: the client sends a 100-byte payload with a fresh id; the server echoes the
// frame. Server-stream: the request id has bit 31 set and its payload is
// u32 count followed by the template; the server sends `count` frames with that id,
// each carrying the template, honouring socket backpressure.
// Both sides batch: frames are appended to one buffer and flushed with a single
// socket.write per event-loop turn (setImmediate). The reader handles frames split
// across chunks.
import * as net from "node:net";
import { type BenchClient, type BenchServer, type BenchSystem, RAW_PAYLOAD_BYTES } from "./index.ts";

const HEADER = 8;
const STREAM_BIT = 0x80000000;
const STREAM_BATCH = 256; // frames produced per turn before yielding

/** Appends frames to a shared buffer; one socket.write per turn. */
class FrameWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private start = 0; // first byte not yet handed to socket.write
  private end = 0;
  private scheduled = false;
  constructor(private readonly socket: net.Socket) {}

  push(id: number, payload: Uint8Array): void {
    const need = HEADER + payload.length;
    if (this.end + need > this.buf.length) {
      // Regions already handed to write() stay untouched; copy only the unflushed tail.
      const next = Buffer.allocUnsafe(Math.max(64 * 1024, (this.end - this.start + need) * 2));
      this.buf.copy(next, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      this.buf = next;
    }
    this.buf.writeUInt32BE(payload.length, this.end);
    this.buf.writeUInt32BE(id >>> 0, this.end + 4);
    this.buf.set(payload, this.end + HEADER);
    this.end += need;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes everything pending now; returns socket.write's backpressure signal. */
  readonly flush = (): boolean => {
    this.scheduled = false;
    if (this.end === this.start || this.socket.destroyed) return true;
    const ok = this.socket.write(this.buf.subarray(this.start, this.end));
    this.start = this.end;
    return ok;
  };
}

/** Splits a byte stream into frames, handling frames split across chunks. */
function frameReader(onFrame: (id: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer | null = null;
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let off = 0;
    while (buf.length - off >= HEADER) {
      const len = buf.readUInt32BE(off);
      if (buf.length - off - HEADER < len) break;
      onFrame(buf.readUInt32BE(off + 4), buf.subarray(off + HEADER, off + HEADER + len));
      off += HEADER + len;
    }
    if (off < buf.length) pending = buf.subarray(off);
  };
}

function serveSocket(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.on("error", () => {});
  const out = new FrameWriter(socket);
  socket.on(
    "data",
    frameReader((id, payload) => {
      if ((id & STREAM_BIT) === 0) {
        out.push(id, payload);
        return;
      }
      let remaining = payload.readUInt32BE(0);
      const template = Buffer.from(payload.subarray(4));
      const pump = (): void => {
        if (socket.destroyed) return;
        const n = Math.min(remaining, STREAM_BATCH);
        for (let i = 0; i < n; i++) out.push(id, template);
        remaining -= n;
        const ok = out.flush();
        if (remaining === 0) return;
        if (ok) setImmediate(pump);
        else socket.once("drain", pump);
      };
      pump();
    }),
  );
}

async function startServer(port: number): Promise<BenchServer> {
  const server = net.createServer(serveSocket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  onMessage: (() => void) | null;
  remaining: number;
}

async function createClient(addr: { host: string; port: number }): Promise<BenchClient> {
  const socket = net.connect(addr.port, addr.host);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const out = new FrameWriter(socket);
  const pending = new Map<number, Pending>();
  const payload = Buffer.alloc(RAW_PAYLOAD_BYTES, 0xab);
  let nextId = 0;
  let failure: Error | null = null;
  let closing = false;
  const fail = (err: Error): void => {
    failure ??= err;
    const calls = [...pending.values()];
    pending.clear();
    if (!closing) for (const p of calls) p.reject(failure);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("raw-net: connection closed")));
  socket.on(
    "data",
    frameReader((id) => {
      const p = pending.get(id);
      if (!p) return;
      if (p.onMessage) {
        p.onMessage();
        if (--p.remaining > 0) return;
      }
      pending.delete(id);
      p.resolve();
    }),
  );
  const newId = (flag: number): number => {
    const id = ((nextId & 0x7fffffff) | flag) >>> 0;
    nextId = (nextId + 1) & 0x7fffffff;
    return id;
  };
  return {
    unary() {
      if (failure) return Promise.reject(failure);
      return new Promise<void>((resolve, reject) => {
        const id = newId(0);
        pending.set(id, { resolve, reject, onMessage: null, remaining: 1 });
        out.push(id, payload);
      });
    },
    serverStream(count, onMessage) {
      if (failure) return Promise.reject(failure);
      if (count <= 0) return Promise.resolve();
      const req = Buffer.allocUnsafe(4 + payload.length);
      req.writeUInt32BE(count, 0);
      payload.copy(req, 4);
      return new Promise<void>((resolve, reject) => {
        const id = newId(STREAM_BIT);
        pending.set(id, { resolve, reject, onMessage, remaining: count });
        out.push(id, req);
      });
    },
    async close() {
      closing = true;
      socket.destroy();
    },
  };
}

const system: BenchSystem = { name: "raw-net", startServer, createClient };
export default system;
