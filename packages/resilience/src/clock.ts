/**
 * Time source shared by every time-based policy in @petrel/resilience (backoff, hedging delays,
 * breakers, limiters). Injecting it lets tests drive state machines with {@link FakeClock} instead
 * of real timers, so no assertion depends on wall-clock timing.
 */
export interface Clock {
  /** Milliseconds, monotonic for the purposes of the caller (only differences are used). */
  now(): number;
  /** Schedules `fn` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer; unknown or already-fired handles are ignored. */
  clearTimeout(handle: unknown): void;
}

interface Unrefable {
  unref?: () => unknown;
}

/**
 * The real clock: `performance.now()` when available (monotonic), else `Date.now()`.
 * Timers are unref'd where the runtime supports it, so a pending backoff or breaker timer never
 * keeps a process alive on its own.
 */
export const systemClock: Clock = {
  now: typeof performance !== "undefined" ? () => performance.now() : () => Date.now(),
  setTimeout(fn, ms) {
    const h = setTimeout(fn, ms) as unknown as Unrefable;
    if (typeof h === "object" && h !== null && typeof h.unref === "function") h.unref();
    return h;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/**
 * A {@link Clock} that reads the system clock once per event-loop turn and answers every other
 * `now()` of that turn from the cached value (nginx caches its time per event cycle the same
 * way). A clock read costs ~35–40 ns in Node 20; a breaker timing every call needs two, which
 * was a third of what retry + breaker + limiter added to a call
 * (bench/src/micro/resilience-overhead.ts). The cache is dropped by a `setImmediate` (the check
 * phase, after the turn's I/O callbacks), so a reading is late by at most the rest of that turn:
 * right for call durations compared against a slow-call threshold and for open-state waits, not
 * for sub-millisecond latency measurements (the adaptive limiter keeps {@link systemClock}).
 * Without `setImmediate` (browsers, workers) every `now()` reads the clock.
 */
export const turnClock: Clock = createTurnClock(systemClock);

/** @internal Exported for tests: a turn-cached clock over `base`. */
export function createTurnClock(base: Clock): Clock {
  if (typeof setImmediate !== "function") return base;
  let cached = 0;
  let valid = false;
  const drop = (): void => {
    valid = false;
  };
  return {
    now() {
      if (!valid) {
        cached = base.now();
        valid = true;
        setImmediate(drop);
      }
      return cached;
    },
    setTimeout: (fn, ms) => base.setTimeout(fn, ms),
    clearTimeout: (h) => base.clearTimeout(h),
  };
}

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A manual clock for tests. Time moves only through {@link FakeClock.advance} or
 * {@link FakeClock.runAll}; due timers run in order of due time, then of creation.
 * Timers scheduled by a running timer also run if they fall due within the same advance.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  /** @param start initial value of `now()` (default 0). */
  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: FakeTimer = { id: ++this.seq, at: this.current + delay, fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    const i = this.timers.findIndex((t) => t.id === handle);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Number of scheduled timers not yet run or cleared. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, running every timer due on the way at its own due time. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`FakeClock.advance: invalid ms ${ms}`);
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = next.at;
      next.fn();
    }
    this.current = target;
  }

  /**
   * Runs timers until none remain, moving time to each due time.
   * @param limit guard against timers that reschedule forever (default 10000).
   */
  runAll(limit = 10_000): void {
    for (let n = 0; this.timers.length > 0; n++) {
      if (n >= limit) throw new Error(`FakeClock.runAll: more than ${limit} timers ran`);
      const next = this.nextDue(Number.POSITIVE_INFINITY) as FakeTimer;
      this.timers.splice(this.timers.indexOf(next), 1);
      if (next.at > this.current) this.current = next.at;
      next.fn();
    }
  }

  private nextDue(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (let i = 0; i < this.timers.length; i++) {
      const t = this.timers[i];
      if (t.at > limit) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }
}

/**
 * Waits `ms` on `clock`; rejects with the signal's reason (an RpcError when the caller aborted
 * with one, else whatever the signal carries) as soon as `signal` aborts, clearing the timer.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
