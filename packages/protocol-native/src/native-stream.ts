/** A message waiting for flow-control credit. */
export interface PendingMessage {
  bytes: Uint8Array;
  offset: number;
  /** MESSAGE flags for the last chunk (END_STREAM or 0). */
  flags: number;
}

/**
 * A received message (or a deferred end of stream) waiting behind a decompression, so a stream's
 * input stays in arrival order although decompression is asynchronous.
 */
export interface InboxEntry {
  /** The message as received (compressed: `u8 id` + data); undefined for an event. */
  bytes: Uint8Array | undefined;
  credit: number;
  endStream: boolean;
  compressed: boolean;
  /** A deferred frame (HALF_CLOSE, TRAILERS …) for the subclass; undefined for a message. */
  event: unknown;
}

/**
 * What the connection tracks per stream, on either side: flow-control windows, messages waiting
 * for credit, and the reassembly of a message split into CONTINUED chunks.
 * @internal
 */
export class StreamBase {
  /** Credit the peer gave us for MESSAGE bytes on this stream. */
  sendWindow: number;
  /** Credit we gave the peer. */
  recvWindow: number;
  /** Bytes the application consumed that we have not yet returned with WINDOW_UPDATE. */
  creditPending = 0;
  /** Complete messages delivered to the application and not yet read. */
  unconsumed = 0;
  /** Credit of each unread message, in delivery order (read from `creditHead`). */
  credits: number[] = [];
  creditHead = 0;
  /** Credit of partial-message chunks held back while `unconsumed > 0`. */
  withheld = 0;
  /** Messages waiting for credit, oldest first. */
  pendingOut: PendingMessage[] | undefined = undefined;
  /** Resolves the producer waiting for `pendingOut` to drain. */
  writableWaiter: (() => void) | undefined = undefined;
  /** Chunks of a message being reassembled. */
  chunks: Uint8Array[] | undefined = undefined;
  chunkBytes = 0;
  /** The COMPRESSED bit of the first chunk of the message being reassembled (every chunk must match). */
  chunkCompressed = 0;
  /**
   * Input queued behind a decompression, oldest first; undefined while nothing waits (the
   * uncompressed path never touches it).
   */
  inbox: InboxEntry[] | undefined = undefined;
  /** Whether the head of `inbox` is being decompressed. */
  inflating = false;
  /** Whether we may still receive messages (the peer has not half-closed). */
  remoteOpen = true;
  /** Set once the stream is finished and removed from the table. */
  done = false;
  /** Absolute deadline (epoch ms) after which the connection expires the stream. */
  deadline: number | undefined = undefined;

  constructor(
    readonly id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Whether messages are waiting for credit. */
  get blocked(): boolean {
    return this.pendingOut !== undefined && this.pendingOut.length > 0;
  }

  /** Resolves once queued messages are sent (or the stream ends); undefined when writable now. */
  whenWritable(): Promise<void> | undefined {
    if (!this.blocked || this.done) return undefined;
    return new Promise<void>((resolve) => {
      this.writableWaiter = resolve;
    });
  }

  /** Wakes a waiting producer. */
  wake(): void {
    const w = this.writableWaiter;
    if (w !== undefined) {
      this.writableWaiter = undefined;
      w();
    }
  }
}
