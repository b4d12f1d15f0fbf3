/**
 * Service-config keys for client-side rate and concurrency limits, so every resilience policy of
 * a method lives in one JSON document:
 *
 * ```json
 * { "name": [{ "service": "pkg.Svc" }],
 *   "rateLimit": { "tokenBucket": { "capacity": 50, "refillPerSecond": 100 } },
 *   "concurrencyLimit": { "maxConcurrent": 32, "maxQueue": 64, "maxWait": "0.5s" } }
 * ```
 *
 * Each method the config names gets its own limiter (as it gets its own breaker).
 * - `rateLimit` (order 200, per attempt: retries spend tokens too, since the server sees them):
 *   `{ "tokenBucket": { "capacity", "refillPerSecond" } }` or
 *   `{ "slidingWindow": { "limit", "window": "1s" } }`. Over the rate a call fails locally with
 *   RESOURCE_EXHAUSTED + RetryInfo, like a server's rejection.
 * - `concurrencyLimit` (order 50, outside retries: it bounds calls in flight, retries included):
 *   a bulkhead `{ "maxConcurrent", "maxQueue"?, "maxWait"? }` or an adaptive limiter
 *   `{ "adaptive": { "initialLimit"?, "minLimit"?, "maxLimit"?, "windowSize"? } }`.
 */
import type { Clock } from "./clock.js";
import { type AdaptiveLimiterOptions, createAdaptiveLimiter } from "./concurrency-adaptive.js";
import { type Bulkhead, type BulkheadOptions, type ConcurrencyLimiter, createBulkhead } from "./concurrency.js";
import { createConcurrencyLimitClientInterceptor } from "./concurrency-interceptor.js";
import { createSlidingWindowLimiter, createTokenBucket } from "./rate-limit.js";
import { createRateLimitInterceptor } from "./rate-limit-interceptor.js";
import { parseDuration, registerPolicyParser, ServiceConfigError } from "./service-config.js";
import { configObject, optionalNumber } from "./throttle-config.js";

/** A parsed `rateLimit` method config. */
export type RateLimitConfig =
  | { readonly kind: "tokenBucket"; readonly capacity: number; readonly refillPerSecond: number }
  | { readonly kind: "slidingWindow"; readonly limit: number; readonly windowMs: number };

/** A parsed `concurrencyLimit` method config. */
export type ConcurrencyLimitConfig =
  | ({ readonly kind: "bulkhead" } & Pick<BulkheadOptions, "maxConcurrent" | "maxQueue" | "maxWaitMs">)
  | ({ readonly kind: "adaptive" } & Pick<AdaptiveLimiterOptions, "initialLimit" | "minLimit" | "maxLimit" | "windowSize">);

function oneOf(raw: unknown, w: string, kinds: readonly string[]): [string, unknown] {
  const o = configObject(raw, w, kinds);
  const present = kinds.filter((k) => o[k] !== undefined);
  if (present.length !== 1) throw new ServiceConfigError(w, `must hold exactly one of ${kinds.map((k) => `"${k}"`).join(", ")}`);
  const kind = present[0] as string;
  return [kind, o[kind]];
}

/** Runs a constructor's own validation and reports its message at `w`. */
function validated<T>(w: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new ServiceConfigError(w, (e as Error).message);
  }
}

/** Parses the `rateLimit` method config. */
export function parseRateLimitConfig(raw: unknown, w = "rateLimit"): RateLimitConfig {
  const [kind, body] = oneOf(raw, w, ["tokenBucket", "slidingWindow"]);
  const wk = `${w}.${kind}`;
  let out: RateLimitConfig;
  if (kind === "tokenBucket") {
    const o = configObject(body, wk, ["capacity", "refillPerSecond"]);
    out = {
      kind,
      capacity: optionalNumber(o, "capacity", wk) as number,
      refillPerSecond: optionalNumber(o, "refillPerSecond", wk) as number,
    };
  } else {
    const o = configObject(body, wk, ["limit", "window"]);
    if (o.window === undefined) throw new ServiceConfigError(`${wk}.window`, "is required");
    out = { kind: "slidingWindow", limit: optionalNumber(o, "limit", wk) as number, windowMs: parseDuration(o.window, `${wk}.window`) };
  }
  validated(wk, () => rateLimiterOf(out));
  return out;
}

function rateLimiterOf(c: RateLimitConfig) {
  return c.kind === "tokenBucket"
    ? createTokenBucket({ capacity: c.capacity, refillPerSecond: c.refillPerSecond })
    : createSlidingWindowLimiter({ limit: c.limit, windowMs: c.windowMs });
}

/** Parses the `concurrencyLimit` method config. */
export function parseConcurrencyLimitConfig(raw: unknown, w = "concurrencyLimit"): ConcurrencyLimitConfig {
  if (typeof raw === "object" && raw !== null && "adaptive" in raw) {
    const [, body] = oneOf(raw, w, ["adaptive"]);
    const wa = `${w}.adaptive`;
    const o = configObject(body, wa, ["initialLimit", "minLimit", "maxLimit", "windowSize"]);
    const out: ConcurrencyLimitConfig = {
      kind: "adaptive",
      initialLimit: optionalNumber(o, "initialLimit", wa),
      minLimit: optionalNumber(o, "minLimit", wa),
      maxLimit: optionalNumber(o, "maxLimit", wa),
      windowSize: optionalNumber(o, "windowSize", wa),
    };
    validated(wa, () => concurrencyLimiterOf(out));
    return out;
  }
  const o = configObject(raw, w, ["maxConcurrent", "maxQueue", "maxWait"]);
  if (o.maxConcurrent === undefined) throw new ServiceConfigError(`${w}.maxConcurrent`, "is required");
  const out: ConcurrencyLimitConfig = {
    kind: "bulkhead",
    maxConcurrent: optionalNumber(o, "maxConcurrent", w) as number,
    maxQueue: optionalNumber(o, "maxQueue", w),
    maxWaitMs: o.maxWait === undefined ? undefined : parseDuration(o.maxWait, `${w}.maxWait`),
  };
  validated(w, () => concurrencyLimiterOf(out));
  return out;
}

/** The limiter a `concurrencyLimit` config describes (a new one per call). @internal */
export function concurrencyLimiterOf(c: ConcurrencyLimitConfig, clock?: Clock): ConcurrencyLimiter | Bulkhead {
  if (c.kind === "bulkhead") {
    return createBulkhead({ maxConcurrent: c.maxConcurrent, maxQueue: c.maxQueue, maxWaitMs: c.maxWaitMs, clock });
  }
  return createAdaptiveLimiter({
    initialLimit: c.initialLimit,
    minLimit: c.minLimit,
    maxLimit: c.maxLimit,
    windowSize: c.windowSize,
    clock,
  });
}

registerPolicyParser("rateLimit", parseRateLimitConfig, {
  order: 200,
  createInterceptor: (policy, ctx) => {
    const limiter =
      policy.kind === "tokenBucket"
        ? createTokenBucket({ capacity: policy.capacity, refillPerSecond: policy.refillPerSecond, clock: ctx.clock })
        : createSlidingWindowLimiter({ limit: policy.limit, windowMs: policy.windowMs, clock: ctx.clock });
    return createRateLimitInterceptor({ limiter: () => limiter });
  },
});

registerPolicyParser("concurrencyLimit", parseConcurrencyLimitConfig, {
  order: 50,
  createInterceptor: (policy, ctx) => createConcurrencyLimitClientInterceptor(concurrencyLimiterOf(policy, ctx.clock)),
});
