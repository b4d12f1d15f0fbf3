/**
 * gRPC's connection-backoff schedule (initial, x1.6, +-20% jitter, capped), tuned shorter for a
 * registry: the n-th retry waits about `min(initialMs * 1.6^n, maxMs)`.
 * @internal
 */
export function backoffDelay(attempt: number, initialMs = 200, maxMs = 5_000, random: () => number = Math.random): number {
  const base = Math.min(initialMs * 1.6 ** attempt, maxMs);
  return Math.round(base * (1 + 0.2 * (random() * 2 - 1)));
}
