import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";

/** Options of {@link createEventLoopDelaySampler}. */
export interface EventLoopDelaySamplerOptions {
  /** Sampling resolution of Node's monitor, ms. Default 10 (Node's default). */
  resolutionMs?: number;
  /** Percentile reported, 0 < p <= 100. Default 99. */
  percentile?: number;
  /**
   * The histogram is reset when a read finds it older than this, so a reading covers roughly the
   * last interval rather than the whole process lifetime. Default 1000 ms.
   */
  intervalMs?: number;
}

/** Node's event-loop delay, for the adaptive concurrency limiter. */
export interface EventLoopDelaySampler {
  /** The delay percentile (ms) over the current interval; 0 before any sample. */
  delayMs(): number;
  /** Stops the monitor. */
  close(): void;
}

/**
 * Samples the event-loop delay with `perf_hooks.monitorEventLoopDelay`, which runs in libuv (a
 * timer, no JS per sample). Node-only, so it lives apart from the runtime-neutral limiters:
 * `createAdaptiveLimiter({ eventLoopDelayMs: sampler.delayMs })`.
 */
export function createEventLoopDelaySampler(options: EventLoopDelaySamplerOptions = {}): EventLoopDelaySampler {
  const resolution = options.resolutionMs ?? 10;
  const percentile = options.percentile ?? 99;
  const intervalMs = options.intervalMs ?? 1000;
  if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution });
  h.enable();
  let since = performance.now();
  let last = 0;
  return {
    delayMs() {
      if (h.count > 0) {
        // Node reports nanoseconds; the monitor's own resolution is part of every sample.
        last = Math.max(0, h.percentile(percentile) / 1e6 - resolution);
      }
      const now = performance.now();
      if (now - since >= intervalMs) {
        h.reset();
        since = now;
      }
      return last;
    },
    close() {
      h.disable();
    },
  };
}
