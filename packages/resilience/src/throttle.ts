import { Code, RpcError, type AnyFn, type AnyRequest, type Interceptor } from "@petrel/core";
import { type Clock, systemClock } from "./clock.js";
import { BucketCounters } from "./throttle-window.js";

/**
 * Google SRE adaptive client-side throttling ("Handling Overload", SRE book ch. 21).
 *
 * Per target, over a sliding window, the client counts `requests` (every call it attempted,
 * including the ones it dropped itself) and `accepts` (calls the backend accepted, i.e. did not
 * reject for overload). A new call is dropped locally with probability
 * `max(0, (requests - K * accepts) / (requests + 1))`. With K = 2 the backend sees at most about
 * twice the traffic it accepts, so a rejecting backend still gets enough calls to notice recovery.
 */
export type ThrottleEvent =
  | { readonly type: "dropped"; readonly target: string; readonly probability: number }
  | { readonly type: "throttling"; readonly target: string; readonly active: boolean };

/** Options of {@link createAdaptiveThrottle}. */
export interface AdaptiveThrottleOptions {
  /** The multiplier K. Lower is more aggressive. Must be >= 1. Default 2. */
  k?: number;
  /** Window length. Default 120000 ms (two minutes, as in the SRE book). */
  windowMs?: number;
  /** Buckets the window is cut into. Default 12 (10 s each at the default window). */
  buckets?: number;
  /**
   * Codes that mean "the backend rejected the call" (not an accept). Default RESOURCE_EXHAUSTED and
   * UNAVAILABLE. Other codes, including application errors, are accepts: the backend did the work.
   */
  rejectCodes?: readonly Code[];
  /** Uniform random in [0, 1). Default Math.random. */
  random?: () => number;
  /** Time source. Default the system clock. */
  clock?: Pick<Clock, "now">;
  /** Receives drops and throttling on/off. Must not throw. */
  onEvent?: (e: ThrottleEvent) => void;
}

const REQUESTS = 0;
const ACCEPTS = 1;

/** The throttle of one target. */
export class AdaptiveThrottle {
  readonly k: number;
  private readonly window: BucketCounters;
  private readonly random: () => number;
  private readonly clock: Pick<Clock, "now">;
  private readonly onEvent: ((e: ThrottleEvent) => void) | undefined;
  private readonly rejectCodes: ReadonlySet<Code>;
  private active = false;

  constructor(
    options: AdaptiveThrottleOptions = {},
    readonly target = "",
  ) {
    const k = options.k ?? 2;
    if (typeof k !== "number" || !(k >= 1) || !Number.isFinite(k)) throw new RangeError(`k must be a finite number >= 1, got ${k}`);
    const windowMs = options.windowMs ?? 120_000;
    const buckets = options.buckets ?? 12;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`windowMs must be a positive number, got ${windowMs}`);
    this.k = k;
    this.window = new BucketCounters(buckets, windowMs / buckets, 2);
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.onEvent = options.onEvent;
    this.rejectCodes = new Set(options.rejectCodes ?? [Code.RESOURCE_EXHAUSTED, Code.UNAVAILABLE]);
  }

  /** The current drop probability. */
  probability(): number {
    const now = this.clock.now();
    const requests = this.window.total(now, REQUESTS);
    const accepts = this.window.total(now, ACCEPTS);
    return Math.max(0, (requests - this.k * accepts) / (requests + 1));
  }

  /** Counts a request and decides: `true` = drop it locally. Never awaits. */
  shouldDrop(): boolean {
    const p = this.probability();
    this.window.add(this.clock.now(), REQUESTS);
    if (p > 0 !== this.active) {
      this.active = p > 0;
      this.onEvent?.({ type: "throttling", target: this.target, active: this.active });
    }
    if (p > 0 && this.random() < p) {
      this.onEvent?.({ type: "dropped", target: this.target, probability: p });
      return true;
    }
    return false;
  }

  /** Records that the backend accepted a call. */
  onAccepted(): void {
    this.window.add(this.clock.now(), ACCEPTS);
  }

  /** Records a call's outcome: OK or a code outside `rejectCodes` is an accept. */
  onResult(code: Code): void {
    if (code === Code.OK || !this.rejectCodes.has(code)) this.onAccepted();
  }

  /** Counts in the window, for metrics and tests. */
  counts(): { requests: number; accepts: number } {
    const now = this.clock.now();
    return { requests: this.window.total(now, REQUESTS), accepts: this.window.total(now, ACCEPTS) };
  }
}

/** Creates the throttle of one target. */
export function createAdaptiveThrottle(options: AdaptiveThrottleOptions = {}, target = ""): AdaptiveThrottle {
  return new AdaptiveThrottle(options, target);
}

/** Options of {@link createAdaptiveThrottleInterceptor}. */
export interface AdaptiveThrottleInterceptorOptions extends AdaptiveThrottleOptions {
  /** The target of a request (one throttle each). Default `""`: one throttle per interceptor (per transport). */
  targetOf?: (req: AnyRequest) => string;
}

/**
 * A client interceptor applying {@link AdaptiveThrottle} per target. A dropped call fails with
 * UNAVAILABLE "throttled locally (adaptive throttling)" and never reaches the wire. A CANCELLED
 * call counts as an accept: the caller, not the backend, ended it. Streams count as accepted once
 * the response started.
 */
export function createAdaptiveThrottleInterceptor(options: AdaptiveThrottleInterceptorOptions = {}): Interceptor {
  // Validate once, so a bad option fails at construction rather than on the first call.
  new AdaptiveThrottle(options);
  const throttles = new Map<string, AdaptiveThrottle>();
  const targetOf = options.targetOf;
  return (next: AnyFn) => async (req) => {
    const target = targetOf === undefined ? "" : targetOf(req);
    let t = throttles.get(target);
    if (t === undefined) {
      t = new AdaptiveThrottle(options, target);
      throttles.set(target, t);
    }
    if (t.shouldDrop()) throw new RpcError(Code.UNAVAILABLE, "throttled locally (adaptive throttling)");
    try {
      const res = await next(req);
      t.onAccepted();
      return res;
    } catch (e) {
      t.onResult(e instanceof RpcError ? e.code : Code.UNKNOWN);
      throw e;
    }
  };
}
