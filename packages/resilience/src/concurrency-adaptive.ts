import { type Clock, systemClock } from "./clock.js";
import type { ConcurrencyLimiter, Permit, PermitOutcome } from "./concurrency.js";

/**
 * Adaptive concurrency limit: Netflix concurrency-limits' gradient, measured against the
 * minimum RTT (in-flight x min-RTT is the work the server can do without queueing, as in BBR and
 * TCP Vegas), plus Node's own overload signal, the event-loop delay.
 *
 * Every `windowSize` completed calls the limiter computes:
 *
 *     shortRtt = mean RTT of the window
 *     minRtt   = min(minRtt, shortRtt)            (the no-queueing RTT)
 *     gradient = clamp(0.5, 1, rttTolerance x minRtt / shortRtt)
 *     if eventLoopDelayMs() > maxEventLoopDelayMs:
 *         gradient = min(gradient, max(0.5, maxEventLoopDelayMs / eventLoopDelayMs()))
 *     else if the window's peak in-flight < limit / 2: no change (the app, not the server, limits)
 *     target   = limit x gradient + queueSize(limit)
 *     limit    = clamp(minLimit, maxLimit, (1 - smoothing) x limit + smoothing x target)
 *
 * At equilibrium under overload, `limit ~= rttTolerance x capacity + queueSize`: RTT may grow to
 * 1.5x the minimum (default tolerance) before the limit shrinks. Gradient2 compares with a long
 * moving average of the RTT instead, which follows sustained queueing upwards and never comes
 * back down; a minimum does not, but must be re-learned when the base RTT changes. So, as BBR's
 * ProbeRTT, every `probeInterval` windows the limiter admits at most half its limit for one
 * window, and that window's RTT (of calls admitted during the probe only) replaces `minRtt`.
 *
 * Why the event loop too: on Node the CPU-bound part of every call delays all other callbacks;
 * a p99 event-loop delay above ~50 ms (default) means the process cannot keep up even if RTTs
 * of the calls that complete look normal. The gradient is floored at 0.5 so one bad window at
 * most halves the target, and smoothing (0.2) damps noise; `queueSize` (default 4, as in
 * Gradient2) lets the limit grow by up to ~0.8 per healthy window.
 */
export type AdaptiveLimiterEvent = {
  readonly type: "limit";
  readonly from: number;
  readonly to: number;
  readonly shortRtt: number;
  readonly minRtt: number;
  readonly eventLoopDelay: number;
};

/** Options of {@link createAdaptiveLimiter}. */
export interface AdaptiveLimiterOptions {
  /** Starting limit. Default 20. */
  initialLimit?: number;
  /** Lowest limit. Default 4. */
  minLimit?: number;
  /** Highest limit. Default 1000. */
  maxLimit?: number;
  /** Completed calls per update. Default 10. */
  windowSize?: number;
  /** Windows between two min-RTT probes. Default 100. */
  probeInterval?: number;
  /** How much RTT growth is tolerated before shrinking. Default 1.5. */
  rttTolerance?: number;
  /** Weight of a new target in the limit. Default 0.2. */
  smoothing?: number;
  /** Headroom added to the target. Default 4. */
  queueSize?: (limit: number) => number;
  /**
   * The current event-loop delay in ms (e.g. p99 over the last interval); see
   * `createEventLoopDelaySampler` in `@petrel/resilience/node`. Default: not used.
   */
  eventLoopDelayMs?: () => number;
  /** Event-loop delay above which the limit shrinks. Default 50 ms. */
  maxEventLoopDelayMs?: number;
  /** Pushback suggested in rejections. Default 100 ms. */
  pushbackMs?: number;
  /** Time source for RTTs. Default the system clock. */
  clock?: Pick<Clock, "now">;
  /** Receives every limit change. Must not throw. */
  onEvent?: (e: AdaptiveLimiterEvent) => void;
}

/** An adaptive {@link ConcurrencyLimiter}. */
export interface AdaptiveLimiter extends ConcurrencyLimiter {
  /** The minimum RTT estimate (ms), NaN before the first window. */
  readonly minRtt: number;
}

/** Creates an {@link AdaptiveLimiter}. */
export function createAdaptiveLimiter(options: AdaptiveLimiterOptions = {}): AdaptiveLimiter {
  const minLimit = num("minLimit", options.minLimit ?? 4, 1);
  const maxLimit = num("maxLimit", options.maxLimit ?? 1000, minLimit);
  const windowSize = num("windowSize", options.windowSize ?? 10, 1);
  const probeInterval = num("probeInterval", options.probeInterval ?? 100, 1);
  const tolerance = num("rttTolerance", options.rttTolerance ?? 1.5, 1);
  const smoothing = num("smoothing", options.smoothing ?? 0.2, 0);
  if (smoothing > 1) throw new RangeError(`adaptive limiter: smoothing must be in [0, 1], got ${smoothing}`);
  const queueSize = options.queueSize ?? (() => 4);
  const elDelay = options.eventLoopDelayMs;
  const maxElDelay = num("maxEventLoopDelayMs", options.maxEventLoopDelayMs ?? 50, 0);
  const clock = options.clock ?? systemClock;
  const onEvent = options.onEvent;

  let limit = Math.min(maxLimit, Math.max(minLimit, num("initialLimit", options.initialLimit ?? 20, 1)));
  let inFlight = 0;
  let minRtt = Number.NaN;
  let windowsSinceProbe = 0;
  // While probing, only calls admitted during the probe (generation `gen`) are samples.
  let probing = false;
  let gen = 0;
  // The current window.
  let samples = 0;
  let rttSum = 0;
  let peakInFlight = 0;

  const update = (): void => {
    const shortRtt = rttSum / samples;
    const peak = peakInFlight;
    samples = 0;
    rttSum = 0;
    peakInFlight = inFlight;
    if (probing) {
      probing = false;
      minRtt = shortRtt;
      return;
    }
    minRtt = Number.isNaN(minRtt) ? shortRtt : Math.min(minRtt, shortRtt);
    if (++windowsSinceProbe >= probeInterval) {
      windowsSinceProbe = 0;
      probing = true;
      gen++;
    }
    const delay = elDelay === undefined ? 0 : elDelay();
    const overloaded = delay > maxElDelay;
    if (!overloaded && peak < limit / 2) return;
    let gradient = shortRtt > 0 ? Math.max(0.5, Math.min(1, (tolerance * minRtt) / shortRtt)) : 1;
    if (overloaded) gradient = Math.min(gradient, Math.max(0.5, maxElDelay / delay));
    const target = limit * gradient + queueSize(limit);
    const next = Math.min(maxLimit, Math.max(minLimit, (1 - smoothing) * limit + smoothing * target));
    if (next !== limit) {
      const from = limit;
      limit = next;
      onEvent?.({ type: "limit", from, to: next, shortRtt, minRtt, eventLoopDelay: delay });
    }
  };

  const permit = (start: number, g: number): Permit => {
    let released = false;
    return {
      release(outcome: PermitOutcome = "success") {
        if (released) return;
        released = true;
        inFlight--;
        if (outcome === "ignore" || (probing && g !== gen)) return;
        rttSum += Math.max(0, clock.now() - start);
        if (++samples >= windowSize) update();
      },
    };
  };

  return {
    get limit() {
      return Math.floor(limit);
    },
    get inFlight() {
      return inFlight;
    },
    get minRtt() {
      return minRtt;
    },
    pushbackMs: options.pushbackMs ?? 100,
    admit() {
      const cap = probing ? Math.max(minLimit, Math.floor(limit / 2)) : Math.floor(limit);
      if (inFlight >= cap) return undefined;
      inFlight++;
      if (inFlight > peakInFlight) peakInFlight = inFlight;
      return permit(clock.now(), gen);
    },
  };
}

function num(name: string, v: number, min: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
    throw new RangeError(`adaptive limiter: ${name} must be a finite number >= ${min}, got ${v}`);
  }
  return v;
}
