import { connect, type Socket } from "node:net";

/** HTTP/2 frame types (RFC 9113 §6). */
export const H2 = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
} as const;

/** HTTP/2 error codes used by the tests. */
export const H2_ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** One received frame. */
export interface H2Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Builds one frame. */
export function h2Frame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId & 0x7fff_ffff, 5);
  b.set(payload, 9);
  return b;
}

/** HPACK "literal header field without indexing, new name", no Huffman (RFC 7541 §6.2.2). Names and values < 127 bytes. */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, "latin1");
  const v = Buffer.from(value, "latin1");
  if (n.length > 126 || v.length > 126) return literalLong(n, v);
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

/** The same with HPACK integers of any size (7-bit prefix). */
function literalLong(n: Buffer, v: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackInt(n.length), n, hpackInt(v.length), v]);
}

function hpackInt(x: number): Buffer {
  if (x < 127) return Buffer.from([x]);
  const out = [127];
  let r = x - 127;
  while (r >= 128) {
    out.push((r & 0x7f) | 0x80);
    r >>>= 7;
  }
  out.push(r);
  return Buffer.from(out);
}

/** A HEADERS block of a gRPC request for `path` plus `extra` headers (all literal, no dynamic table). */
export function grpcRequestBlock(path: string, extra: Array<[string, string]> = []): Buffer {
  // 0x83 :method POST, 0x86 :scheme http (static table indexes 3 and 6).
  return Buffer.concat([
    Buffer.from([0x83, 0x86]),
    literal(":path", path),
    literal(":authority", "localhost"),
    literal("content-type", "application/grpc"),
    literal("te", "trailers"),
    ...extra.map(([k, v]) => literal(k, v)),
  ]);
}

/** A gRPC length-prefixed message. */
export function grpcMessage(body: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt32BE(body.length, 1);
  b.set(body, 5);
  return b;
}

/**
 * A raw HTTP/2 client for tests that must misbehave: it writes hand-built frames and collects
 * what the server sends back. It answers nothing on its own (not even SETTINGS or PINGs) unless
 * told to.
 */
export class RawH2Peer {
  readonly frames: H2Frame[] = [];
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({
          type: this.buf[3] as number,
          flags: this.buf[4] as number,
          streamId: this.buf.readUInt32BE(5) & 0x7fff_ffff,
          payload: Buffer.from(this.buf.subarray(9, 9 + len)),
        });
        this.buf = this.buf.subarray(9 + len);
      }
      this.wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number): Promise<RawH2Peer> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.setNoDelay(true);
    return new RawH2Peer(socket);
  }

  /** Writes raw bytes; false when the socket is gone. */
  send(...parts: Uint8Array[]): boolean {
    if (this.socket.destroyed) return false;
    for (const p of parts) this.socket.write(p);
    return true;
  }

  /** The client preface, empty SETTINGS and the ACK of the server's SETTINGS. */
  hello(): void {
    this.send(H2_PREFACE, h2Frame(H2.SETTINGS, 0, 0), h2Frame(H2.SETTINGS, 1, 0));
  }

  /** Like {@link hello}, but ACKs the server's SETTINGS only once they arrived (as RFC 9113 asks). */
  async handshake(): Promise<void> {
    this.send(H2_PREFACE, h2Frame(H2.SETTINGS, 0, 0));
    await this.waitFor((fs) => fs.some((f) => f.type === H2.SETTINGS && (f.flags & 1) === 0));
    this.send(h2Frame(H2.SETTINGS, 1, 0));
  }

  /** The first GOAWAY received, decoded. */
  goaway(): { lastStreamId: number; code: number; debug: string } | undefined {
    const f = this.frames.find((x) => x.type === H2.GOAWAY);
    if (f === undefined) return undefined;
    return {
      lastStreamId: f.payload.readUInt32BE(0) & 0x7fff_ffff,
      code: f.payload.readUInt32BE(4),
      debug: f.payload.subarray(8).toString("latin1"),
    };
  }

  /** RST_STREAM codes received per stream. */
  resets(): Map<number, number> {
    const m = new Map<number, number>();
    for (const f of this.frames) if (f.type === H2.RST_STREAM) m.set(f.streamId, f.payload.readUInt32BE(0));
    return m;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `pred` holds (or the socket closed), up to `timeoutMs`. */
  async waitFor(pred: (frames: H2Frame[]) => boolean, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.frames)) {
      if (this.closed || Date.now() > deadline) return pred(this.frames);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return true;
  }

  /** Waits for the server to close the socket. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    await this.waitFor(() => false, timeoutMs);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
