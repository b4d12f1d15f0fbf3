/**
 * gRPC's connection backoff (doc/connection-backoff.md): the delay grows by `multiplier` from
 * `initialMs` up to `maxMs`, each try jittered by ±`jitter`. Defaults are gRPC's.
 */
export interface BackoffOptions {
  /** First delay. Default 1000 ms. */
  initialMs?: number;
  /** Growth per failed attempt. Default 1.6. */
  multiplier?: number;
  /** Relative jitter, 0..1. Default 0.2. */
  jitter?: number;
  /** Cap. Default 120000 ms. */
  maxMs?: number;
}

/** A backoff sequence; `random` is injectable for deterministic tests. */
export class Backoff {
  private current: number;
  private readonly initialMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly maxMs: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = options.initialMs ?? 1000;
    this.multiplier = options.multiplier ?? 1.6;
    this.jitter = options.jitter ?? 0.2;
    this.maxMs = options.maxMs ?? 120_000;
    this.current = this.initialMs;
  }

  /** The delay before the next attempt; advances the sequence. */
  next(): number {
    const base = this.current;
    this.current = Math.min(this.current * this.multiplier, this.maxMs);
    const delta = base * this.jitter;
    return Math.max(0, base - delta + this.random() * 2 * delta);
  }

  /** Back to `initialMs` after a successful connection. */
  reset(): void {
    this.current = this.initialMs;
  }
}
