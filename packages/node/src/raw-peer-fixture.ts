import { connect, type Socket } from "node:net";
import { FrameReader, FrameWriter, type Frame } from "@petrel/protocol-native";

/**
 * A raw petrel/1 peer for tests that must send what a well-behaved client never would:
 * it writes hand-built bytes and collects the frames the server sends back.
 */
export class RawPeer {
  readonly frames: Frame[] = [];
  serverVersion: number | undefined;
  closed = false;
  readonly writer = new FrameWriter();
  private readonly reader: FrameReader;
  private readonly waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    this.reader = new FrameReader(
      {
        onPreface: (v) => {
          this.serverVersion = v;
        },
        onFrame: (type, flags, streamId, payload) => {
          this.frames.push({ type, flags, streamId, payload: payload.slice() });
          this.wake();
        },
      },
      { expectPreface: true, requireSettingsFirst: false, maxFrameSize: 16 * 1024 * 1024 },
    );
    socket.on("data", (chunk) => {
      try {
        this.reader.push(chunk);
      } catch {
        // The test looks at what arrived before the bytes went bad.
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawPeer(socket);
  }

  /** Sends what the writer holds, plus `extra` raw bytes. */
  send(extra?: Uint8Array): void {
    if (this.writer.size > 0) this.socket.write(this.writer.take());
    if (extra !== undefined) this.socket.write(extra);
  }

  /** Sends a valid preface and empty SETTINGS. */
  hello(version = 1): void {
    this.writer.writePreface(version);
    this.writer.writeSettings({});
    this.send();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `pred` holds for the collected frames (or the socket closed), up to `timeoutMs`. */
  async waitFor(pred: (frames: Frame[]) => boolean, timeoutMs = 10_000): Promise<boolean> {
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
