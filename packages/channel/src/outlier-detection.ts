/** Success-rate ejection (gRPC A50 / Envoy): eject hosts whose success rate is below mean - stdevFactor x stdev. */
export interface SuccessRateEjectionOptions {
  /** Ejection threshold = mean - stdevFactor x stdev (A50 uses 1900/1000). Default 1.9. */
  stdevFactor?: number;
  /** Chance (%) that a detected outlier is actually ejected. Default 100. */
  enforcementPercentage?: number;
  /** Skip the check when fewer hosts than this have `requestVolume` calls in the interval. Default 5. */
  minimumHosts?: number;
  /** Calls a host needs in the interval to be considered. Default 100. */
  requestVolume?: number;
}

/** Passive outlier detection (Envoy outlier detection, gRPC A50). */
export interface OutlierDetectionOptions {
  /** Eject a host at once after this many failed calls in a row; 0 disables. Default 5 (Envoy's consecutive_5xx). */
  consecutiveFailures?: number;
  /** How often success rates are evaluated and ejection times checked, ms. Default 10000. */
  intervalMs?: number;
  /** Ejection time = baseEjectionTimeMs x times ejected (decays by one per interval while not ejected). Default 30000. */
  baseEjectionTimeMs?: number;
  /** Cap on one ejection, ms (at least baseEjectionTimeMs). Default 300000. */
  maxEjectionTimeMs?: number;
  /**
   * Largest share of hosts (%) ejected at once. Checked before each ejection as A50 does
   * (`ejected/total x 100 < maxEjectionPercent`), so with any value > 0 one host can always be
   * ejected, even when 10 % of the hosts rounds down to 0 (Envoy documents the same). Default 10.
   */
  maxEjectionPercent?: number;
  /** Success-rate ejection; `false` disables it. Default on, with the defaults above. */
  successRate?: SuccessRateEjectionOptions | false;
}

/** @internal Filled-in options. */
export interface OutlierConfig {
  consecutiveFailures: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionTimeMs: number;
  maxEjectionPercent: number;
  successRate: Required<SuccessRateEjectionOptions> | undefined;
}

/** @internal Per-host bookkeeping, owned by the subchannel. */
export class OutlierState {
  successes = 0;
  failures = 0;
  consecutive = 0;
  /** Epoch ms of the current ejection, or undefined when not ejected. */
  ejectedAt: number | undefined;
  multiplier = 0;
}

/** What the detector needs from a host. */
export interface OutlierHost {
  readonly id: string;
  readonly outlier: OutlierState;
}

function num(v: unknown, def: number, name: string, min: number, max = Number.POSITIVE_INFINITY): number {
  const x = v ?? def;
  if (typeof x !== "number" || !Number.isFinite(x) || x < min || x > max) {
    throw new TypeError(`outlierDetection.${name} must be a number in [${min}, ${max}], got ${String(v)}`);
  }
  return x;
}

/** @internal Validates and fills in the defaults. */
export function validateOutlierDetection(o: OutlierDetectionOptions): OutlierConfig {
  if (o === null || typeof o !== "object") throw new TypeError("outlierDetection must be an object");
  const base = num(o.baseEjectionTimeMs, 30_000, "baseEjectionTimeMs", 1);
  const sr = o.successRate;
  if (sr !== undefined && sr !== false && (sr === null || typeof sr !== "object"))
    throw new TypeError("outlierDetection.successRate must be an object or false");
  return {
    consecutiveFailures: num(o.consecutiveFailures, 5, "consecutiveFailures", 0),
    intervalMs: num(o.intervalMs, 10_000, "intervalMs", 1),
    baseEjectionTimeMs: base,
    maxEjectionTimeMs: Math.max(base, num(o.maxEjectionTimeMs, 300_000, "maxEjectionTimeMs", 1)),
    maxEjectionPercent: num(o.maxEjectionPercent, 10, "maxEjectionPercent", 0, 100),
    successRate:
      sr === false
        ? undefined
        : {
            stdevFactor: num(sr?.stdevFactor, 1.9, "successRate.stdevFactor", 0),
            enforcementPercentage: num(sr?.enforcementPercentage, 100, "successRate.enforcementPercentage", 0, 100),
            minimumHosts: num(sr?.minimumHosts, 5, "successRate.minimumHosts", 1),
            requestVolume: num(sr?.requestVolume, 100, "successRate.requestVolume", 1),
          },
  };
}

/**
 * @internal The A50 algorithm over a set of hosts. The channel calls `record` after every call
 * and `sweep` every interval; `eject`/`uneject` callbacks rebuild the picker.
 */
export class OutlierDetector {
  constructor(
    readonly config: OutlierConfig,
    private readonly random: () => number,
    private readonly onEject: (host: OutlierHost, reason: string, durationMs: number) => void,
    private readonly onUneject: (host: OutlierHost) => void,
  ) {}

  /** One call ended on `host`; ejects at once on `consecutiveFailures` failures in a row. */
  record(host: OutlierHost, ok: boolean, hosts: readonly OutlierHost[], now: number): void {
    const s = host.outlier;
    if (ok) {
      s.successes++;
      s.consecutive = 0;
      return;
    }
    s.failures++;
    s.consecutive++;
    const n = this.config.consecutiveFailures;
    if (n > 0 && s.consecutive >= n && s.ejectedAt === undefined) {
      this.#tryEject(host, hosts, now, `${s.consecutive} consecutive failures`);
    }
  }

  /** The interval timer fired: success-rate ejection, then un-ejection and multiplier decay; counters restart. */
  sweep(hosts: readonly OutlierHost[], now: number): void {
    const sr = this.config.successRate;
    if (sr !== undefined) {
      const candidates = hosts.filter((h) => h.outlier.successes + h.outlier.failures >= sr.requestVolume);
      if (candidates.length >= sr.minimumHosts) {
        const rates = candidates.map((h) => h.outlier.successes / (h.outlier.successes + h.outlier.failures));
        const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
        const variance = rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length;
        const threshold = mean - sr.stdevFactor * Math.sqrt(variance);
        for (let i = 0; i < candidates.length; i++) {
          const h = candidates[i] as OutlierHost;
          const rate = rates[i] as number;
          if (rate < threshold && h.outlier.ejectedAt === undefined && this.random() * 100 < sr.enforcementPercentage) {
            this.#tryEject(h, hosts, now, `success rate ${(rate * 100).toFixed(1)}% below ${(threshold * 100).toFixed(1)}%`);
          }
        }
      }
    }
    for (const h of hosts) {
      const s = h.outlier;
      s.successes = 0;
      s.failures = 0;
      if (s.ejectedAt === undefined) {
        if (s.multiplier > 0) s.multiplier--;
      } else if (now >= s.ejectedAt + this.ejectionTime(s)) {
        s.ejectedAt = undefined;
        s.consecutive = 0;
        this.onUneject(h);
      }
    }
  }

  /** How long the current ejection of a host lasts, ms. */
  ejectionTime(s: OutlierState): number {
    return Math.min(this.config.baseEjectionTimeMs * s.multiplier, this.config.maxEjectionTimeMs);
  }

  #tryEject(host: OutlierHost, hosts: readonly OutlierHost[], now: number, reason: string): void {
    let ejected = 0;
    for (const h of hosts) if (h.outlier.ejectedAt !== undefined) ejected++;
    // A50: compare the share ejected *before* this one, so one ejection is always possible when the cap is > 0.
    if (hosts.length === 0 || (ejected * 100) / hosts.length >= this.config.maxEjectionPercent) return;
    const s = host.outlier;
    s.ejectedAt = now;
    s.multiplier++;
    this.onEject(host, reason, this.ejectionTime(s));
  }
}
