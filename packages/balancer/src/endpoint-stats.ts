import type { Clock, Endpoint } from "@petrel/discovery";
import type { DoneInfo, SubchannelInfo } from "./types.js";

/** Options for `EndpointStats`. */
export interface EndpointStatsOptions {
  /** Time source (ms); default `Date.now`. Tests inject a fake clock. */
  readonly clock?: Pick<Clock, "now">;
  /** Decay time constant of the latency estimate, ms; default 10_000 (Finagle's default). */
  readonly tauMs?: number;
  /** Latency recorded for a failed call if it was faster than this, ms; default 0 (record as measured). */
  readonly failurePenaltyMs?: number;
  /**
   * A running in-flight total shared by all endpoints of one channel; lets bounded-load ring hash
   * read the total in O(1) instead of summing N counters per pick. Optional.
   */
  readonly group?: LoadGroup;
}

/** A running in-flight total over a set of `EndpointStats` (one channel's endpoints). */
export class LoadGroup {
  /** Sum of `inflight` over the member stats. */
  inflight = 0;
}

/**
 * Cost of an endpoint that has calls in flight but no latency sample yet: large, so unmeasured
 * endpoints are probed one call at a time (Finagle's `Long.MaxValue >> 16`, in ms here).
 */
export const UNMEASURED_PENALTY = 2 ** 47;

/**
 * Live per-endpoint statistics: in-flight count and Finagle's peak-EWMA latency.
 *
 * Peak EWMA: a sample above the current estimate replaces it at once (reacts to a slowdown in one
 * call); a lower one is blended in with weight `1 - exp(-dt/tau)`, and the estimate decays towards
 * zero while no samples arrive, so an endpoint that lost all traffic is probed again after ~tau.
 */
export class EndpointStats {
  /** Calls started and not yet done. */
  inflight = 0;
  /** Calls completed (ok or not). */
  completed = 0;
  failed = 0;
  #cost = 0;
  #stamp: number;
  #sampled = false;
  readonly #clock: Pick<Clock, "now">;
  readonly #tau: number;
  readonly #failurePenalty: number;
  /** The shared in-flight total this endpoint counts into, if any. */
  readonly group: LoadGroup | undefined;

  constructor(options: EndpointStatsOptions = {}) {
    this.#clock = options.clock ?? { now: Date.now };
    this.#tau = positive(options.tauMs ?? 10_000, "tauMs");
    this.#failurePenalty = nonNegative(options.failurePenaltyMs ?? 0, "failurePenaltyMs");
    this.#stamp = this.#clock.now();
    this.group = options.group;
  }

  /** A call to this endpoint started. */
  onStart(): void {
    this.inflight++;
    if (this.group !== undefined) this.group.inflight++;
  }

  /** A call ended; records its latency. */
  onDone(info: DoneInfo): void {
    if (this.inflight > 0) {
      this.inflight--;
      if (this.group !== undefined) this.group.inflight--;
    }
    this.completed++;
    // NaN, infinite or negative latencies (clock jumps, bad callers) count as 0 rather than poisoning the estimate.
    let rtt = Number.isFinite(info.latencyMs) && info.latencyMs > 0 ? info.latencyMs : 0;
    if (!info.ok) {
      this.failed++;
      if (rtt < this.#failurePenalty) rtt = this.#failurePenalty;
    }
    const now = this.#clock.now();
    const cost = this.#decayed(now);
    // Peak sensitivity: jump up at once, come down smoothly.
    if (!this.#sampled || rtt > cost) this.#cost = rtt;
    else {
      const w = Math.exp(-Math.max(now - this.#stamp, 0) / this.#tau);
      this.#cost = this.#cost * w + rtt * (1 - w);
    }
    this.#stamp = now;
    this.#sampled = true;
  }

  /** Whether any call has completed, i.e. the latency estimate means something. */
  get sampled(): boolean {
    return this.#sampled;
  }

  /** The peak-EWMA latency estimate at `now`, ms (decayed since the last sample). */
  latencyMs(now = this.#clock.now()): number {
    return this.#decayed(now);
  }

  /**
   * Finagle's load: `ewma x (inflight + 1)`; an endpoint without samples costs 0 while idle (so it
   * gets probed) and `UNMEASURED_PENALTY + inflight` while a probe is in flight.
   */
  load(now = this.#clock.now()): number {
    if (!this.#sampled) return this.inflight === 0 ? 0 : UNMEASURED_PENALTY + this.inflight;
    return this.#decayed(now) * (this.inflight + 1);
  }

  #decayed(now: number): number {
    const dt = now - this.#stamp;
    return dt > 0 ? this.#cost * Math.exp(-dt / this.#tau) : this.#cost;
  }
}

/** Wraps an endpoint with fresh stats; what a channel does for every ready connection. */
export function createSubchannelInfo(endpoint: Endpoint, options?: EndpointStatsOptions): SubchannelInfo {
  return { endpoint, stats: new EndpointStats(options) };
}

function positive(v: number, name: string): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) throw new TypeError(`${name} must be a positive finite number, got ${v}`);
  return v;
}

function nonNegative(v: number, name: string): number {
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new TypeError(`${name} must be a finite number >= 0, got ${v}`);
  return v;
}
