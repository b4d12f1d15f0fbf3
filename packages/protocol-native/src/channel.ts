/**
 * The byte stream a petrel/1 connection runs over, as the runtime adapter provides it
 * (`@petrel/node` wraps a `net.Socket`). Keeping the connection logic behind this boundary keeps
 * this package runtime-neutral and lets tests drive a connection without sockets.
 */
export interface ByteChannel {
  /** Queues bytes for sending. The connection calls it at most once per flush with one batch. */
  write(bytes: Uint8Array): void;
  /** Closes after queued bytes are sent. */
  end(): void;
  /** Closes now, dropping queued bytes. */
  destroy(): void;
}

/** What the adapter tells the connection. */
export interface ChannelEvents {
  /** The channel is connected (client side; servers get an open channel). */
  onOpen(): void;
  /** Bytes arrived. The connection may keep views into `chunk`; the adapter must not reuse it. */
  onData(chunk: Uint8Array): void;
  /** The channel closed (by either side, or failed with `error`). */
  onClose(error?: Error): void;
}

/** Connects to an address; returns at once, calling `events.onOpen` when connected. */
export type Dialer = (address: string, events: ChannelEvents) => ByteChannel;

/** Timer functions, injectable so tests can use a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; timers are unref'd where the runtime supports it, so they never keep a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms) as unknown as { unref?: () => void };
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
