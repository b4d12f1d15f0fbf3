// A manual clock for tests of code that takes an injectable `Clock` (discovery, protocol-native,
// balancer). Structurally typed, so it needs none of those packages. @petrel/resilience keeps its
// own exported FakeClock: it is public API and must not depend on this test-only package.

interface FakeTimer {
  at: number;
  fn: () => void;
}

/**
 * A manual clock: timers fire only when a test calls {@link FakeClock.advance}, in order of due
 * time, then of creation; timers they schedule also fire if they fall due within the same advance.
 */
export class FakeClock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();

  /** @param start initial value of `now()` (default 1_000_000, so "long ago" stays positive). */
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

  /** Moves time forward, firing due timers in order and letting the work they start {@link settle}. */
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
      const timer = this.timers.get(nextId) as FakeTimer;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }

  /**
   * Sets `now()` at once, for code that only reads the time (no settling). Throws rather than
   * silently skip a pending timer that would fall due: use {@link FakeClock.advance} for those.
   */
  set(t: number): void {
    for (const timer of this.timers.values()) {
      if (timer.at <= t) throw new RangeError(`FakeClock.set(${t}) would skip a timer due at ${timer.at}; use advance`);
    }
    this.t = t;
  }
}

/** Lets queued promise chains, in-memory calls and in-memory channel deliveries run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
