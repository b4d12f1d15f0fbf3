import { Code } from "@petrel/core";
import { type Clock, turnClock } from "./clock.js";
import { BucketCounters } from "./throttle-window.js";

/**
 * Circuit breaker with resilience4j semantics.
 *
 * - CLOSED: every call is permitted; outcomes go into a sliding window (the last `windowSize`
 *   calls, or the calls of the last `windowSize` seconds in one-second buckets). Once the window
 *   holds at least `minimumNumberOfCalls` outcomes, a failure rate >= `failureRateThreshold` % or
 *   a slow-call rate >= `slowCallRateThreshold` % opens the breaker.
 * - OPEN: every call is rejected for `waitDurationInOpenStateMs`; the first `tryAcquire()` after
 *   that moves to HALF_OPEN (lazily, as resilience4j does by default: no timer keeps the process
 *   alive, and an idle breaker costs nothing).
 * - HALF_OPEN: `permittedCallsInHalfOpenState` probe calls are let through; once all of them
 *   completed, the same thresholds over just those calls decide CLOSED (fresh window) or OPEN.
 *
 * Which outcomes are failures is the caller's decision (`onResult(ok, ms)`); the interceptor
 * uses {@link CircuitBreakerOptions.failureCodes}.
 */
export type BreakerState =
  | { readonly t: "closed" }
  | { readonly t: "open"; readonly until: number }
  | { readonly t: "half_open"; permitted: number; done: number; failures: number; slow: number };

/** The state names, as events report them. */
export type BreakerStateName = BreakerState["t"];

/** What a breaker reports through `onEvent`. */
export type BreakerEvent =
  | {
      readonly type: "state_change";
      readonly name: string;
      readonly from: BreakerStateName;
      readonly to: BreakerStateName;
      /** Failure rate (%) that caused the change, when a window was evaluated; else -1. */
      readonly failureRate: number;
      /** Slow-call rate (%) that caused the change, when a window was evaluated; else -1. */
      readonly slowCallRate: number;
    }
  | { readonly type: "not_permitted"; readonly name: string; readonly state: BreakerStateName };

/**
 * The default failure codes: the ones that say something about the server's health (it is down,
 * too slow, broken or overloaded). Codes about the request (INVALID_ARGUMENT, NOT_FOUND,
 * PERMISSION_DENIED, …) are successes for the breaker: the server answered. CANCELLED is neither
 * (the caller gave up) and is not recorded.
 */
export const DEFAULT_FAILURE_CODES: readonly Code[] = [
  Code.UNAVAILABLE,
  Code.DEADLINE_EXCEEDED,
  Code.INTERNAL,
  Code.UNKNOWN,
  Code.RESOURCE_EXHAUSTED,
];

/** Options of {@link CircuitBreaker}. Defaults are resilience4j's. */
export interface CircuitBreakerOptions {
  /** `count`: the last `windowSize` calls; `time`: the calls of the last `windowSize` seconds. Default `count`. */
  windowType?: "count" | "time";
  /** Calls (count window) or seconds (time window). Default 100. */
  windowSize?: number;
  /** Outcomes needed in the window before rates are evaluated. Default 100 (capped at `windowSize` for a count window). */
  minimumNumberOfCalls?: number;
  /** Failure rate in percent (0..100] that opens the breaker. Default 50. */
  failureRateThreshold?: number;
  /** Slow-call rate in percent (0..100] that opens the breaker. Default 100. */
  slowCallRateThreshold?: number;
  /** A call that took at least this long is slow. Default 60000 ms. */
  slowCallDurationThresholdMs?: number;
  /** How long OPEN rejects calls before probing. Default 60000 ms. */
  waitDurationInOpenStateMs?: number;
  /** Probe calls in HALF_OPEN. Default 10. */
  permittedCallsInHalfOpenState?: number;
  /** Status codes the interceptor records as failures. Default {@link DEFAULT_FAILURE_CODES}. */
  failureCodes?: readonly Code[];
  /** Time source. Default {@link turnClock} (one clock read per event-loop turn). */
  clock?: Pick<Clock, "now">;
  /** Receives state changes and rejected calls. Must not throw. */
  onEvent?: (e: BreakerEvent) => void;
}

/** Validated options with every default filled in. @internal */
export interface BreakerConfig {
  readonly windowType: "count" | "time";
  readonly windowSize: number;
  readonly minimumNumberOfCalls: number;
  readonly failureRateThreshold: number;
  readonly slowCallRateThreshold: number;
  readonly slowCallDurationThresholdMs: number;
  readonly waitDurationInOpenStateMs: number;
  readonly permittedCallsInHalfOpenState: number;
  readonly failureCodes: ReadonlySet<Code>;
}

/** Checks options and fills in defaults; throws a TypeError/RangeError naming the bad field. */
export function validateCircuitBreakerOptions(o: CircuitBreakerOptions = {}): BreakerConfig {
  const windowType = o.windowType ?? "count";
  if (windowType !== "count" && windowType !== "time")
    throw new TypeError(`windowType must be "count" or "time", got ${String(windowType)}`);
  const windowSize = posInt("windowSize", o.windowSize ?? 100);
  let minimumNumberOfCalls = posInt("minimumNumberOfCalls", o.minimumNumberOfCalls ?? 100);
  if (windowType === "count") minimumNumberOfCalls = Math.min(minimumNumberOfCalls, windowSize);
  const failureCodes = new Set(o.failureCodes ?? DEFAULT_FAILURE_CODES);
  for (const c of failureCodes) if (!Number.isInteger(c) || c < 1 || c > 16) throw new RangeError(`failureCodes: invalid code ${c}`);
  return {
    windowType,
    windowSize,
    minimumNumberOfCalls,
    failureRateThreshold: percent("failureRateThreshold", o.failureRateThreshold ?? 50),
    slowCallRateThreshold: percent("slowCallRateThreshold", o.slowCallRateThreshold ?? 100),
    slowCallDurationThresholdMs: nonNeg("slowCallDurationThresholdMs", o.slowCallDurationThresholdMs ?? 60_000),
    waitDurationInOpenStateMs: nonNeg("waitDurationInOpenStateMs", o.waitDurationInOpenStateMs ?? 60_000),
    permittedCallsInHalfOpenState: posInt("permittedCallsInHalfOpenState", o.permittedCallsInHalfOpenState ?? 10),
    failureCodes,
  };
}

const FAIL = 0;
const SLOW = 1;
const CALLS = 2;
const CLOSED: BreakerState = { t: "closed" };

/** One circuit breaker. `tryAcquire()` never awaits. */
export class CircuitBreaker {
  readonly config: BreakerConfig;
  private st: BreakerState = CLOSED;
  private readonly clock: Pick<Clock, "now">;
  private readonly onEvent: ((e: BreakerEvent) => void) | undefined;
  // Count window: a ring of outcome bits (1 = failure, 2 = slow) with running totals.
  private ring: Uint8Array | undefined;
  private ringPos = 0;
  private ringLen = 0;
  private ringFail = 0;
  private ringSlow = 0;
  // Time window: one-second buckets of [failures, slow, calls].
  private buckets: BucketCounters | undefined;

  /** @param name reported in events (e.g. `endpoint /pkg.Svc/Method`). */
  constructor(
    options: CircuitBreakerOptions = {},
    readonly name = "",
  ) {
    this.config = validateCircuitBreakerOptions(options);
    this.clock = options.clock ?? turnClock;
    this.onEvent = options.onEvent;
    if (this.config.windowType === "count") this.ring = new Uint8Array(this.config.windowSize);
    else this.buckets = new BucketCounters(this.config.windowSize, 1000, 3);
  }

  /** The current state (an OPEN breaker whose wait elapsed still reads OPEN until the next `tryAcquire`). */
  get state(): BreakerStateName {
    return this.st.t;
  }

  /**
   * Whether calls would be rejected now: OPEN and the wait has not elapsed, or HALF_OPEN with
   * every probe handed out. A balancer uses it to skip endpoints; it changes no state.
   */
  isOpen(): boolean {
    const s = this.st;
    if (s.t === "open") return this.clock.now() < s.until;
    if (s.t === "half_open") return s.permitted >= this.config.permittedCallsInHalfOpenState;
    return false;
  }

  /** Asks for a permit. `true`: make the call, then report `onResult` (or `releasePermission`). */
  tryAcquire(): boolean {
    const s = this.st;
    if (s.t === "closed") return true;
    if (s.t === "open") {
      if (this.clock.now() < s.until) return this.reject();
      this.transition({ t: "half_open", permitted: 0, done: 0, failures: 0, slow: 0 }, -1, -1);
    }
    const h = this.st as Extract<BreakerState, { t: "half_open" }>;
    if (h.permitted >= this.config.permittedCallsInHalfOpenState) return this.reject();
    h.permitted++;
    return true;
  }

  /** Records the outcome of a permitted call. */
  onResult(ok: boolean, durationMs: number): void {
    const slow = durationMs >= this.config.slowCallDurationThresholdMs;
    const s = this.st;
    if (s.t === "half_open") {
      s.done++;
      if (!ok) s.failures++;
      if (slow) s.slow++;
      if (s.done >= this.config.permittedCallsInHalfOpenState) {
        const fr = (s.failures * 100) / s.done;
        const sr = (s.slow * 100) / s.done;
        if (this.exceeds(fr, sr)) this.open(fr, sr);
        else this.transition(CLOSED, fr, sr);
      }
      return;
    }
    // OPEN: a call permitted before the breaker opened; resilience4j records it, but it cannot
    // change anything until the window is reset on the way back to CLOSED.
    if (s.t === "open") return;
    // Count window: running totals, no allocation; time window: one clock read for add and totals.
    let calls: number;
    let fails: number;
    let slows: number;
    if (this.ring !== undefined) {
      const before = this.ringLen;
      this.recordRing(!ok, slow);
      // A fast success cannot raise either rate; if the window already held the minimum, it was
      // checked at the previous call (and was below both thresholds): nothing to decide.
      if (ok && !slow && before >= this.config.minimumNumberOfCalls) return;
      calls = this.ringLen;
      fails = this.ringFail;
      slows = this.ringSlow;
    } else {
      const b = this.buckets as BucketCounters;
      const now = this.clock.now();
      b.add(now, CALLS);
      if (!ok) b.add(now, FAIL);
      if (slow) b.add(now, SLOW);
      calls = b.total(now, CALLS);
      fails = b.total(now, FAIL);
      slows = b.total(now, SLOW);
    }
    if (calls < this.config.minimumNumberOfCalls) return;
    const fr = (fails * 100) / calls;
    const sr = (slows * 100) / calls;
    if (this.exceeds(fr, sr)) this.open(fr, sr);
  }

  /** Gives back a permit whose call has no outcome to record (e.g. cancelled by the caller). */
  releasePermission(): void {
    const s = this.st;
    if (s.t === "half_open" && s.permitted > s.done) s.permitted--;
  }

  /** Whether a status code counts as a failure under this breaker's `failureCodes`. */
  isFailure(code: Code): boolean {
    return this.config.failureCodes.has(code);
  }

  /** Back to CLOSED with an empty window. */
  reset(): void {
    this.clearWindow();
    if (this.st.t !== "closed") this.transition(CLOSED, -1, -1);
  }

  /** Failure and slow-call rates (%) of the current window, -1 below the minimum number of calls. */
  metrics(): { calls: number; failureRate: number; slowCallRate: number } {
    const [calls, fails, slows] = this.totals();
    if (calls < this.config.minimumNumberOfCalls) return { calls, failureRate: -1, slowCallRate: -1 };
    return { calls, failureRate: (fails * 100) / calls, slowCallRate: (slows * 100) / calls };
  }

  private exceeds(failureRate: number, slowRate: number): boolean {
    return failureRate >= this.config.failureRateThreshold || slowRate >= this.config.slowCallRateThreshold;
  }

  private open(fr: number, sr: number): void {
    this.transition({ t: "open", until: this.clock.now() + this.config.waitDurationInOpenStateMs }, fr, sr);
  }

  private reject(): false {
    this.onEvent?.({ type: "not_permitted", name: this.name, state: this.st.t });
    return false;
  }

  private transition(to: BreakerState, failureRate: number, slowCallRate: number): void {
    const from = this.st.t;
    this.st = to;
    if (to.t === "closed") this.clearWindow();
    this.onEvent?.({ type: "state_change", name: this.name, from, to: to.t, failureRate, slowCallRate });
  }

  private recordRing(failed: boolean, slow: boolean): void {
    const ring = this.ring as Uint8Array;
    const old = ring[this.ringPos] as number;
    if (this.ringLen === ring.length) {
      this.ringFail -= old & 1;
      this.ringSlow -= old >> 1;
    } else this.ringLen++;
    const bits = (failed ? 1 : 0) | (slow ? 2 : 0);
    ring[this.ringPos] = bits;
    this.ringPos = this.ringPos + 1 === ring.length ? 0 : this.ringPos + 1;
    this.ringFail += bits & 1;
    this.ringSlow += bits >> 1;
  }

  private totals(): [number, number, number] {
    if (this.ring !== undefined) return [this.ringLen, this.ringFail, this.ringSlow];
    const b = this.buckets as BucketCounters;
    const now = this.clock.now();
    return [b.total(now, CALLS), b.total(now, FAIL), b.total(now, SLOW)];
  }

  private clearWindow(): void {
    if (this.ring !== undefined) {
      this.ring.fill(0);
      this.ringPos = this.ringLen = this.ringFail = this.ringSlow = 0;
    } else this.buckets?.clear();
  }
}

function posInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNeg(name: string, v: number): number {
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
  return v;
}

function percent(name: string, v: number): number {
  if (typeof v !== "number" || !(v > 0 && v <= 100)) throw new RangeError(`${name} must be a percentage in (0, 100], got ${v}`);
  return v;
}
