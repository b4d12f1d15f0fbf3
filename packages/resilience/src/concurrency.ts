import { Code, RpcError } from "@petrel/core";
import { type Clock, systemClock } from "./clock.js";
import { PUSHBACK_KEY } from "./retry-signals.js";

/**
 * How a call that held a permit ended, for limiters that learn from it:
 * `success` (a normal completion, its latency is a sample), `dropped` (timed out or rejected for
 * overload downstream: a sample and a sign of overload), `ignore` (no sample, e.g. cancelled).
 */
export type PermitOutcome = "success" | "dropped" | "ignore";

/** A held concurrency slot. `release` is idempotent; only the first call counts. */
export interface Permit {
  release(outcome?: PermitOutcome): void;
}

/**
 * The early-shedding API protocols call at stream open, before any request byte is decoded:
 * `admit()` returns a permit (release it when the stream ends, whatever the outcome) or
 * `undefined` (refuse the stream at once with {@link overloadError}).
 */
export interface ConcurrencyLimiter {
  admit(): Permit | undefined;
  /** The current limit. */
  readonly limit: number;
  /** Permits currently held. */
  readonly inFlight: number;
  /** Suggested client pushback (ms) for a rejection. */
  readonly pushbackMs: number;
}

/** What a bulkhead reports through `onEvent`. */
export type BulkheadEvent =
  | { readonly type: "rejected"; readonly reason: "full" | "queue_full" | "queue_timeout" }
  | { readonly type: "queued"; readonly queued: number };

/** Options of {@link createBulkhead}. */
export interface BulkheadOptions {
  /** Most calls in flight. Must be a positive integer. */
  maxConcurrent: number;
  /** Most calls waiting for a slot in `acquire()`; 0 = no queue, reject at once. Default 0. */
  maxQueue?: number;
  /** Longest wait in the queue before RESOURCE_EXHAUSTED. Default 1000 ms. */
  maxWaitMs?: number;
  /** Pushback suggested in rejections. Default 100 ms. */
  pushbackMs?: number;
  /** Time source for queue timeouts. Default the system clock. */
  clock?: Clock;
  /** Receives rejections and queueing. Must not throw. */
  onEvent?: (e: BulkheadEvent) => void;
}

/** A bulkhead: {@link ConcurrencyLimiter} plus a bounded FIFO wait queue. */
export interface Bulkhead extends ConcurrencyLimiter {
  /**
   * Takes a slot, waiting in the queue if all are busy. Rejects with RESOURCE_EXHAUSTED when the
   * queue is full or the wait exceeds `maxWaitMs`, with the signal's reason when it aborts.
   */
  acquire(signal?: AbortSignal): Promise<Permit>;
  /** Calls waiting in the queue. */
  readonly queued: number;
  /**
   * Takes a free slot without a permit object, for callers that release exactly once by
   * construction (the fused retry interceptor): `true` took one, give it back with
   * {@link Bulkhead.leave}; `false` (all busy) fires no event: the caller goes on to `acquire()`
   * or `admit()`, which queue or reject.
   */
  enter(): boolean;
  /** Gives back a slot taken by {@link Bulkhead.enter}; exactly once per slot. */
  leave(): void;
}

interface Waiter {
  resolve(p: Permit): void;
  reject(e: unknown): void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The error of a shed call: RESOURCE_EXHAUSTED with pushback metadata. */
export function overloadError(message: string, pushbackMs: number): RpcError {
  return new RpcError(Code.RESOURCE_EXHAUSTED, message, {
    metadata: { [PUSHBACK_KEY]: String(Math.max(0, Math.min(Math.ceil(pushbackMs), 0x7fff_ffff))) },
  });
}

/** Creates a {@link Bulkhead}. */
export function createBulkhead(options: BulkheadOptions): Bulkhead {
  const max = options.maxConcurrent;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`bulkhead: maxConcurrent must be a positive integer, got ${max}`);
  const maxQueue = options.maxQueue ?? 0;
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError(`bulkhead: maxQueue must be an integer >= 0, got ${maxQueue}`);
  const maxWaitMs = options.maxWaitMs ?? 1000;
  if (!(maxWaitMs >= 0)) throw new RangeError(`bulkhead: maxWaitMs must be >= 0, got ${maxWaitMs}`);
  const pushbackMs = options.pushbackMs ?? 100;
  const clock = options.clock ?? systemClock;
  const onEvent = options.onEvent;
  let inFlight = 0;
  const queue: Waiter[] = [];

  // A class rather than an object with a closure: one small allocation per call.
  class BulkheadPermit implements Permit {
    private released = false;
    release(): void {
      if (this.released) return;
      this.released = true;
      leave();
    }
  }
  const leave = (): void => {
    // Hand the slot straight to the first waiter: it never drops to `max - 1`, so a caller
    // arriving now cannot jump the queue.
    if (queue.length === 0) {
      inFlight--;
      return;
    }
    const w = queue.shift() as Waiter;
    settleWaiter(w);
    w.resolve(new BulkheadPermit());
  };
  const permit = (): Permit => new BulkheadPermit();
  const settleWaiter = (w: Waiter): void => {
    clock.clearTimeout(w.timer);
    if (w.onAbort !== undefined) w.signal?.removeEventListener("abort", w.onAbort);
  };
  const reject = (reason: "full" | "queue_full" | "queue_timeout"): RpcError => {
    onEvent?.({ type: "rejected", reason });
    const what = reason === "queue_timeout" ? `bulkhead: no slot within ${maxWaitMs} ms` : `bulkhead full (${max} in flight)`;
    return overloadError(what, pushbackMs);
  };

  return {
    get limit() {
      return max;
    },
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return queue.length;
    },
    pushbackMs,
    admit() {
      if (inFlight >= max) {
        onEvent?.({ type: "rejected", reason: "full" });
        return undefined;
      }
      inFlight++;
      return permit();
    },
    enter() {
      if (inFlight >= max) return false;
      inFlight++;
      return true;
    },
    leave,
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(RpcError.from(signal.reason, Code.CANCELLED));
      if (inFlight < max) {
        inFlight++;
        return Promise.resolve(permit());
      }
      if (queue.length >= maxQueue) return Promise.reject(reject(maxQueue === 0 ? "full" : "queue_full"));
      return new Promise<Permit>((resolve, rejectP) => {
        const w: Waiter = { resolve, reject: rejectP, timer: undefined, signal, onAbort: undefined };
        const drop = (err: unknown): void => {
          const i = queue.indexOf(w);
          if (i < 0) return;
          queue.splice(i, 1);
          settleWaiter(w);
          rejectP(err);
        };
        w.timer = clock.setTimeout(() => drop(reject("queue_timeout")), maxWaitMs);
        if (signal !== undefined) {
          w.onAbort = () => drop(RpcError.from(signal.reason, Code.CANCELLED));
          signal.addEventListener("abort", w.onAbort, { once: true });
        }
        queue.push(w);
        onEvent?.({ type: "queued", queued: queue.length });
      });
    },
  };
}
