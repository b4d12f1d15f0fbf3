import type { ByteChannel, ChannelEvents, Clock, Dialer } from "./channel.js";

/** A manual clock: timers fire only when a test calls `advance`. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order (and timers they schedule that fall due). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, timer] of this.timers) {
        if (timer.at < nextAt || (timer.at === nextAt && id < nextId)) {
          nextAt = timer.at;
          nextId = id;
        }
      }
      if (nextId < 0 || nextAt > end) break;
      const timer = this.timers.get(nextId) as { at: number; fn: () => void };
      this.timers.delete(nextId);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets queued microtasks and the in-memory channel's deliveries run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * Two in-memory byte channels wired back to back: what one side writes reaches the other's
 * `onData` on a later task. `blackhole()` makes the server side swallow everything, like a peer
 * that vanished without closing the connection.
 */
export function channelPair(): { dial: Dialer; accept: (events: ChannelEvents) => ByteChannel; blackhole(): void } {
  let server: ChannelEvents | undefined;
  let client: ChannelEvents | undefined;
  let dropped = false;
  let closed = false;
  const closeBoth = () => {
    if (closed) return;
    closed = true;
    setImmediate(() => {
      client?.onClose();
      server?.onClose();
    });
  };
  const deliver = (to: () => ChannelEvents | undefined, bytes: Uint8Array) => {
    if (closed || dropped) return;
    const copy = bytes.slice();
    setImmediate(() => {
      if (!closed) to()?.onData(copy);
    });
  };
  return {
    dial(_address, events) {
      client = events;
      setImmediate(() => events.onOpen());
      return { write: (b) => deliver(() => server, b), end: closeBoth, destroy: closeBoth };
    },
    accept(events) {
      server = events;
      return { write: (b) => deliver(() => client, b), end: closeBoth, destroy: closeBoth };
    },
    blackhole() {
      dropped = true;
    },
  };
}
