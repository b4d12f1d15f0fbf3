import { Code, RpcError } from "@petrel/core";
import type { Compression } from "@petrel/protocol-grpc";

/** What an {@link OrderedInflater} reports to the call that owns it. */
export interface InflaterHooks {
  /** Whether the call ended (later messages are dropped). */
  isDone(): boolean;
  /** A message, decompressed, in arrival order, with its compressed flag. May throw an RpcError. */
  deliver(bytes: Uint8Array, compressed: boolean): void;
  /** Decompression or delivery failed. */
  fail(error: RpcError): void;
  /** Too many messages wait for decompression: stop reading. */
  pause(): void;
  /** One decompression finished: reading may resume. */
  settled(): void;
}

/**
 * Delivers a stream's messages in arrival order although decompression is asynchronous: each
 * compressed message joins one promise chain, and an uncompressed one goes straight through only
 * while nothing is queued ahead of it. Shared by the gRPC server (requests) and client (responses).
 */
export class OrderedInflater {
  private pending: Promise<void> | undefined = undefined;
  /** Messages waiting in the chain. */
  inflight = 0;

  constructor(
    private readonly hooks: InflaterHooks,
    private readonly maxOutput: number,
    private readonly highWater: number,
  ) {}

  /** A promise that settles when every queued message was delivered; undefined when none is queued. */
  get busy(): Promise<void> | undefined {
    return this.pending;
  }

  /** Takes one message off the wire. */
  push(bytes: Uint8Array, compressed: boolean, compression: Compression | undefined): void {
    if (!compressed && this.pending === undefined) return this.hooks.deliver(bytes, false);
    this.inflight++;
    if (this.inflight >= this.highWater) this.hooks.pause();
    const p = (this.pending ?? Promise.resolve())
      .then(async () => {
        if (this.hooks.isDone()) return;
        const out = compressed && compression !== undefined ? await compression.decompress(bytes, this.maxOutput) : bytes;
        if (!this.hooks.isDone()) this.hooks.deliver(out, compressed);
      })
      .catch((e) => this.hooks.fail(RpcError.from(e, Code.INTERNAL)))
      .finally(() => {
        this.inflight--;
        if (this.pending === p) this.pending = undefined;
        this.hooks.settled();
      });
    this.pending = p;
  }
}
