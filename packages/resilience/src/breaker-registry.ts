import { Code, RpcError, type AnyFn, type AnyRequest, type AnyResponse, type Interceptor, type StreamResponse } from "@petrel/core";
import { CircuitBreaker, type CircuitBreakerOptions, validateCircuitBreakerOptions } from "./breaker.js";
import { type Clock, turnClock } from "./clock.js";

/** Options of {@link createBreakerRegistry}: one breaker config for every (endpoint, method). */
export interface BreakerRegistryOptions extends CircuitBreakerOptions {
  /** One breaker per (endpoint, method) (true) or per endpoint (false). Default true. */
  perMethod?: boolean;
}

/** Circuit breakers keyed by (endpoint, method), created on first use. */
export interface BreakerRegistry {
  /** The breaker of (endpoint, method); `method` is ignored when `perMethod` is false. */
  get(endpoint: string, method: string): CircuitBreaker;
  /**
   * Whether a balancer should skip `endpoint`: with `method`, whether that breaker rejects calls
   * now; without, whether the endpoint has breakers and every one of them rejects calls now (one
   * broken method does not take a whole endpoint out). Never creates a breaker.
   */
  isOpen(endpoint: string, method?: string): boolean;
  /** Forgets an endpoint's breakers (call when the endpoint leaves the resolver's set). */
  remove(endpoint: string): void;
  /** Every breaker, for metrics. */
  breakers(): IterableIterator<CircuitBreaker>;
  /** The clock breakers use. @internal */
  readonly clock: Pick<Clock, "now">;
}

/** Creates a {@link BreakerRegistry}. Validates the options once, up front. */
export function createBreakerRegistry(options: BreakerRegistryOptions = {}): BreakerRegistry {
  validateCircuitBreakerOptions(options);
  const perMethod = options.perMethod ?? true;
  // Call durations need millisecond accuracy only: one clock read per loop turn (see turnClock).
  const clock = options.clock ?? turnClock;
  const byEndpoint = new Map<string, Map<string, CircuitBreaker>>();
  const all = function* (): IterableIterator<CircuitBreaker> {
    for (const m of byEndpoint.values()) yield* m.values();
  };
  return {
    clock,
    get(endpoint, method) {
      let m = byEndpoint.get(endpoint);
      if (m === undefined) {
        m = new Map();
        byEndpoint.set(endpoint, m);
      }
      const key = perMethod ? method : "";
      let b = m.get(key);
      if (b === undefined) {
        const name = perMethod ? `${endpoint} ${method}` : endpoint;
        b = new CircuitBreaker({ ...options, clock }, name);
        m.set(key, b);
      }
      return b;
    },
    isOpen(endpoint, method) {
      const m = byEndpoint.get(endpoint);
      if (m === undefined) return false;
      if (method !== undefined) return m.get(perMethod ? method : "")?.isOpen() ?? false;
      if (m.size === 0) return false;
      for (const b of m.values()) if (!b.isOpen()) return false;
      return true;
    },
    remove(endpoint) {
      byEndpoint.delete(endpoint);
    },
    breakers: all,
  };
}

/** Options of {@link createCircuitBreakerInterceptor}. */
export interface CircuitBreakerInterceptorOptions {
  /**
   * The endpoint a request goes to, when known before the call (e.g. one transport per endpoint).
   * Default: `""`, one breaker per method for the whole transport.
   */
  endpointOf?: (req: AnyRequest) => string;
}

/**
 * A client interceptor guarding each call with the registry's breaker for (endpoint, method).
 *
 * A rejected call fails fast with UNAVAILABLE "circuit open": it is the code gRPC uses for calls
 * its load balancer drops locally, it means "try again, maybe elsewhere", and Petrel's retry
 * policy retries it on another endpoint — RESOURCE_EXHAUSTED would blame the server's quota.
 *
 * Outcomes: OK and codes outside `failureCodes` are successes; `failureCodes` are failures;
 * CANCELLED is not recorded (the caller gave up). A streaming call is recorded when its response
 * stream ends, with the duration of the whole stream.
 */
export function createCircuitBreakerInterceptor(registry: BreakerRegistry, options: CircuitBreakerInterceptorOptions = {}): Interceptor {
  const endpointOf = options.endpointOf;
  const clock = registry.clock;
  return (next: AnyFn) => async (req) => {
    const breaker = registry.get(endpointOf === undefined ? "" : endpointOf(req), req.path);
    if (!breaker.tryAcquire()) throw new RpcError(Code.UNAVAILABLE, "circuit open");
    const start = clock.now();
    let res: AnyResponse;
    try {
      res = await next(req);
    } catch (e) {
      settleBreaker(breaker, e, clock.now() - start);
      throw e;
    }
    if (!res.stream) {
      breaker.onResult(true, clock.now() - start);
      return res;
    }
    return { ...res, message: watchStream(res, breaker, clock, start) } as StreamResponse;
  };
}

/** Records a failed call on a breaker (CANCELLED gives the permit back instead). @internal */
export function settleBreaker(breaker: CircuitBreaker, e: unknown, ms: number): void {
  const code = e instanceof RpcError ? e.code : Code.UNKNOWN;
  if (code === Code.CANCELLED) breaker.releasePermission();
  else breaker.onResult(!breaker.isFailure(code), ms);
}

async function* watchStream(res: StreamResponse, breaker: CircuitBreaker, clock: Pick<Clock, "now">, start: number) {
  let settled = false;
  try {
    for await (const m of res.message) yield m;
    settled = true;
    breaker.onResult(true, clock.now() - start);
  } catch (e) {
    settled = true;
    settleBreaker(breaker, e, clock.now() - start);
    throw e;
  } finally {
    // The consumer stopped early (break/return): no outcome to record.
    if (!settled) breaker.releasePermission();
  }
}
