/**
 * Turns a service config into client interceptors: `createClient(Svc, transport, {
 * interceptors: createResilienceInterceptors(config) })`.
 *
 * Returned, outermost first: the deadline propagation interceptor (unless `deadline: false`), then
 * one dispatcher that finds each call's method config (gRPC precedence) and runs the chain built
 * for it — once per method path, then cached: timeout (order 0), the `limiter` option (client
 * concurrency limit: bounds calls in flight, retries included), retryPolicy or hedgingPolicy
 * (order 100), then the registered policies by their order (default 200, i.e. per attempt).
 * One {@link RetryThrottle} per call of this function: use one set of interceptors per target.
 *
 * A method with a `retryPolicy` and no policy besides an optional `circuitBreaker` and
 * `concurrencyLimit` (or the `limiter` option, not both) gets ONE fused interceptor for limiter +
 * retry + breaker (retry-fused.ts): the same behaviour as the composed chain at a fraction of the
 * per-call cost.
 */
import { type AnyFn, type Interceptor, applyInterceptors } from "@petrel/core";
import type { CircuitBreakerOptions } from "./breaker.js";
import { createBreakerRegistry } from "./breaker-registry.js";
import { type Clock, systemClock, turnClock } from "./clock.js";
import type { Bulkhead, ConcurrencyLimiter } from "./concurrency.js";
import { createConcurrencyLimitClientInterceptor } from "./concurrency-interceptor.js";
import { type DeadlineInterceptorOptions, createDeadlineInterceptor, createTimeoutInterceptor } from "./deadline.js";
import { type HedgingEvent, createHedgingInterceptor } from "./hedging.js";
import { type RetryEvent, createRetryInterceptor } from "./retry.js";
import { type ConcurrencyLimitConfig, concurrencyLimiterOf } from "./limits-config.js";
import { createFusedRetryInterceptor } from "./retry-fused.js";
import { RetryThrottle, type RetryThrottleEvent } from "./retry-throttle.js";
import {
  type MethodConfig,
  type ParseServiceConfigOptions,
  type ServiceConfig,
  findMethodConfig,
  getPolicyRegistration,
  isParsedServiceConfig,
  parseServiceConfig,
} from "./service-config.js";

/** Options of {@link createResilienceInterceptors}. */
export interface ResilienceInterceptorsOptions extends ParseServiceConfigOptions {
  /** Timers. Default {@link systemClock}. */
  clock?: Clock;
  /** Jitter source. Default `Math.random`. */
  random?: () => number;
  /** Wall clock for deadlines. Default `Date.now`. */
  now?: () => number;
  /** Deadline propagation options, or false to leave it out. Default `{}` (5 ms margin). */
  deadline?: DeadlineInterceptorOptions | false;
  /** Use this throttle instead of one built from `retryThrottling` (to share it across clients of a target). */
  throttle?: RetryThrottle;
  /** Client-side cap of maxAttempts. Default 5. */
  maxAttemptsCap?: number;
  /**
   * Client concurrency limiter (bulkhead or adaptive limiter) for every call of these
   * interceptors, inside the timeout and outside retries. Default: none.
   */
  limiter?: ConcurrencyLimiter | Bulkhead;
  /** Every event of every policy. */
  onEvent?: (e: RetryEvent | HedgingEvent | RetryThrottleEvent | { type: string; [k: string]: unknown }) => void;
}

/** Builds the client interceptors for a service config (parsed or raw JSON). */
export function createResilienceInterceptors(
  config: ServiceConfig | string | object,
  options: ResilienceInterceptorsOptions = {},
): Interceptor[] {
  const cfg = isParsedServiceConfig(config) ? config : parseServiceConfig(config, options);
  const clock = options.clock ?? systemClock;
  const onEvent = options.onEvent;
  const throttle =
    options.throttle ?? (cfg.retryThrottling !== undefined ? new RetryThrottle({ ...cfg.retryThrottling, onEvent }) : undefined);

  const limiter = options.limiter;
  const limiterIc = limiter === undefined ? undefined : createConcurrencyLimitClientInterceptor(limiter);

  function chainFor(path: string, mc: MethodConfig): Interceptor[] {
    const parts: { order: number; ic: Interceptor }[] = [];
    if (mc.timeoutMs !== undefined) parts.push({ order: 0, ic: createTimeoutInterceptor(mc.timeoutMs, options.now) });
    const common = { throttle, clock, maxAttemptsCap: options.maxAttemptsCap, onEvent };
    const keys = Object.keys(mc.policies).filter((k) => getPolicyRegistration(k)?.createInterceptor !== undefined);
    const methodLimit = mc.policies.concurrencyLimit as ConcurrencyLimitConfig | undefined;
    const fusable = keys.every((k) => k === "circuitBreaker" || (k === "concurrencyLimit" && limiter === undefined));
    if (mc.retryPolicy !== undefined && mc.hedgingPolicy === undefined && fusable) {
      const cb = mc.policies.circuitBreaker as CircuitBreakerOptions | undefined;
      const breakers =
        cb === undefined
          ? undefined
          : createBreakerRegistry({ ...cb, clock: options.clock ?? turnClock, onEvent: onEvent as CircuitBreakerOptions["onEvent"] });
      const retry = { ...common, policy: mc.retryPolicy, random: options.random, now: options.now };
      const fusedLimiter = methodLimit === undefined ? limiter : concurrencyLimiterOf(methodLimit, clock);
      parts.push({ order: 100, ic: createFusedRetryInterceptor({ retry, limiter: fusedLimiter, breakers }) });
      return parts.map((p) => p.ic);
    }
    if (limiterIc !== undefined) parts.push({ order: 50, ic: limiterIc });
    if (mc.retryPolicy !== undefined)
      parts.push({
        order: 100,
        ic: createRetryInterceptor({ ...common, policy: mc.retryPolicy, random: options.random, now: options.now }),
      });
    if (mc.hedgingPolicy !== undefined) parts.push({ order: 100, ic: createHedgingInterceptor({ ...common, policy: mc.hedgingPolicy }) });
    for (const [key, policy] of Object.entries(mc.policies)) {
      const reg = getPolicyRegistration(key);
      if (reg?.createInterceptor === undefined) continue;
      parts.push({ order: reg.order, ic: reg.createInterceptor(policy, { path, clock, onEvent }) });
    }
    // Array.prototype.sort is stable: equal orders keep config order.
    return parts.sort((a, b) => a.order - b.order).map((p) => p.ic);
  }

  const dispatcher: Interceptor = (next) => {
    const cache = new Map<string, AnyFn>();
    // Most clients call one method in a row: remember the last one.
    let lastPath = "";
    let lastFn: AnyFn = next;
    return (req) => {
      if (req.path === lastPath) return lastFn(req);
      let fn = cache.get(req.path);
      if (fn === undefined) {
        const mc = findMethodConfig(cfg, req.path);
        if (mc !== undefined) fn = applyInterceptors<AnyFn>(next, chainFor(req.path, mc));
        else fn = limiterIc === undefined ? next : limiterIc(next);
        cache.set(req.path, fn);
      }
      lastPath = req.path;
      lastFn = fn;
      return fn(req);
    };
  };
  return options.deadline === false ? [dispatcher] : [createDeadlineInterceptor({ now: options.now, ...options.deadline }), dispatcher];
}
