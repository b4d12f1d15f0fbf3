/** gRPC's connection-backoff parameters (grpc/doc/connection-backoff.md); every field optional. */
export interface ConnectBackoffOptions {
  /** Delay before the second attempt, ms. Default 1000. */
  initialMs?: number;
  /** Growth per failed attempt. Default 1.6. */
  multiplier?: number;
  /** Random spread of each delay, as a fraction (0.2 = ±20 %). Default 0.2. */
  jitter?: number;
  /** Cap on the delay, ms. Default 120000. */
  maxMs?: number;
  /** Shortest time an attempt is given to connect, ms. Default 20000. */
  minConnectTimeoutMs?: number;
}

/** @internal The filled-in form of `ConnectBackoffOptions`. */
export type ConnectBackoffConfig = Required<ConnectBackoffOptions>;

/** @internal Validates and fills in the defaults. */
export function validateConnectBackoff(o: ConnectBackoffOptions = {}): ConnectBackoffConfig {
  if (o === null || typeof o !== "object") throw new TypeError("connectBackoff must be an object");
  const c: ConnectBackoffConfig = {
    initialMs: o.initialMs ?? 1_000,
    multiplier: o.multiplier ?? 1.6,
    jitter: o.jitter ?? 0.2,
    maxMs: o.maxMs ?? 120_000,
    minConnectTimeoutMs: o.minConnectTimeoutMs ?? 20_000,
  };
  if (!(c.initialMs > 0) || !Number.isFinite(c.initialMs)) throw new TypeError(`connectBackoff.initialMs must be > 0, got ${c.initialMs}`);
  if (!(c.multiplier >= 1) || !Number.isFinite(c.multiplier))
    throw new TypeError(`connectBackoff.multiplier must be >= 1, got ${c.multiplier}`);
  if (!(c.jitter >= 0 && c.jitter < 1)) throw new TypeError(`connectBackoff.jitter must be in [0, 1), got ${c.jitter}`);
  if (!(c.maxMs >= c.initialMs) || !Number.isFinite(c.maxMs))
    throw new TypeError(`connectBackoff.maxMs must be >= initialMs, got ${c.maxMs}`);
  if (!(c.minConnectTimeoutMs > 0) || !Number.isFinite(c.minConnectTimeoutMs))
    throw new TypeError(`connectBackoff.minConnectTimeoutMs must be > 0, got ${c.minConnectTimeoutMs}`);
  return c;
}

/**
 * @internal The state of gRPC's ConnectWithBackoff loop for one subchannel:
 * ```
 * backoff = INITIAL; deadline = now + INITIAL
 * while TryConnect(max(deadline, now + MIN_CONNECT_TIMEOUT)) fails:
 *   SleepUntil(deadline)
 *   backoff = min(backoff * MULTIPLIER, MAX); deadline = now + backoff ± JITTER * backoff
 * ```
 * The first retry is not jittered (as the spec's pseudo-code); `reset` after a success.
 */
export class ConnectBackoff {
  #current: number;
  #deadline = 0;
  #attempts = 0;
  readonly #c: ConnectBackoffConfig;
  readonly #random: () => number;

  constructor(config: ConnectBackoffConfig, random: () => number) {
    this.#c = config;
    this.#random = random;
    this.#current = config.initialMs;
  }

  /** An attempt starts at `now`; returns how long it may take (its connect timeout), ms. */
  startAttempt(now: number): number {
    if (this.#attempts++ === 0) {
      this.#current = this.#c.initialMs;
      this.#deadline = now + this.#current;
    } else {
      this.#current = Math.min(this.#current * this.#c.multiplier, this.#c.maxMs);
      const spread = this.#c.jitter * this.#current;
      this.#deadline = now + this.#current + (this.#random() * 2 - 1) * spread;
    }
    return Math.max(this.#deadline - now, this.#c.minConnectTimeoutMs);
  }

  /** The attempt failed at `now`: how long to wait before the next one, ms (>= 0). */
  delayAfterFailure(now: number): number {
    return Math.max(0, this.#deadline - now);
  }

  /** A connection succeeded: the next failure starts over at the initial backoff. */
  reset(): void {
    this.#attempts = 0;
    this.#current = this.#c.initialMs;
  }
}
