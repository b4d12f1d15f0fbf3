// Test helpers: a manual clock and a recording listener. Not exported from the package.
import type { Clock, Endpoint, ResolverListener } from "./types.js";

/** A manual clock: timers fire only when a test calls `advance`. */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

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

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order and letting the work they start settle. */
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

/** Lets queued promise chains (in-memory calls included) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A listener that records what it is told. */
export class Recorder implements ResolverListener {
  readonly updates: Endpoint[][] = [];
  readonly errors: Error[] = [];

  onUpdate(endpoints: readonly Endpoint[]): void {
    this.updates.push([...endpoints]);
  }

  onError(error: Error): void {
    this.errors.push(error);
  }

  /** Addresses of the latest update, sorted. */
  get addresses(): string[] | undefined {
    const u = this.updates.at(-1);
    return u?.map((e) => e.address).sort();
  }

  /** Ids of the latest update, sorted. */
  get ids(): string[] | undefined {
    return this.updates
      .at(-1)
      ?.map((e) => e.id)
      .sort();
  }
}
