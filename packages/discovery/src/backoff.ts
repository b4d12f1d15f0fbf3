/** Retry delays of the registry clients: gRPC's connection backoff (initial x 1.6 up to max, ±20 % jitter). */
export interface RetryBackoffOptions {
  /** First delay. Default 1000 ms. */
  initialMs?: number;
  /** Cap. Default 30000 ms. */
  maxMs?: number;
}

/** @internal A backoff sequence; `reset` after a success. */
export class RetryBackoff {
  private current: number;
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(options: RetryBackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 1_000;
    this.maxMs = options.maxMs ?? 30_000;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs)) throw new TypeError("backoff: need 0 < initialMs <= maxMs");
    this.current = this.initialMs;
  }

  next(): number {
    const base = this.current;
    this.current = Math.min(this.current * 1.6, this.maxMs);
    return base * (0.8 + Math.random() * 0.4);
  }

  reset(): void {
    this.current = this.initialMs;
  }
}
