import type { CircuitBreakerOptions } from "./breaker.js";
import { validateCircuitBreakerOptions } from "./breaker.js";
import { createBreakerRegistry, createCircuitBreakerInterceptor } from "./breaker-registry.js";
import { parseDuration, registerPolicyParser, ServiceConfigError } from "./service-config.js";
import { codeList, configObject, optionalNumber } from "./throttle-config.js";

/**
 * Parses the `circuitBreaker` method config:
 *
 * ```json
 * "circuitBreaker": { "windowType": "count", "windowSize": 20, "minimumNumberOfCalls": 10,
 *   "failureRateThreshold": 50, "slowCallRateThreshold": 100, "slowCallDuration": "2s",
 *   "waitDurationInOpenState": "5s", "permittedCallsInHalfOpenState": 3,
 *   "failureCodes": ["UNAVAILABLE", "DEADLINE_EXCEEDED"] }
 * ```
 * Every key is optional (defaults of {@link CircuitBreakerOptions}).
 */
export function parseCircuitBreakerConfig(raw: unknown, w = "circuitBreaker"): CircuitBreakerOptions {
  const o = configObject(raw, w, [
    "windowType",
    "windowSize",
    "minimumNumberOfCalls",
    "failureRateThreshold",
    "slowCallRateThreshold",
    "slowCallDuration",
    "waitDurationInOpenState",
    "permittedCallsInHalfOpenState",
    "failureCodes",
  ]);
  const out: CircuitBreakerOptions = {
    windowType: o.windowType as "count" | "time" | undefined,
    windowSize: optionalNumber(o, "windowSize", w),
    minimumNumberOfCalls: optionalNumber(o, "minimumNumberOfCalls", w),
    failureRateThreshold: optionalNumber(o, "failureRateThreshold", w),
    slowCallRateThreshold: optionalNumber(o, "slowCallRateThreshold", w),
    slowCallDurationThresholdMs: o.slowCallDuration === undefined ? undefined : parseDuration(o.slowCallDuration, `${w}.slowCallDuration`),
    waitDurationInOpenStateMs:
      o.waitDurationInOpenState === undefined ? undefined : parseDuration(o.waitDurationInOpenState, `${w}.waitDurationInOpenState`),
    permittedCallsInHalfOpenState: optionalNumber(o, "permittedCallsInHalfOpenState", w),
    failureCodes: o.failureCodes === undefined ? undefined : codeList(o.failureCodes, `${w}.failureCodes`),
  };
  for (const k of Object.keys(out) as (keyof CircuitBreakerOptions)[]) if (out[k] === undefined) delete out[k];
  try {
    validateCircuitBreakerOptions(out);
  } catch (e) {
    throw new ServiceConfigError(w, (e as Error).message);
  }
  return out;
}

// Order 200: inside retries and hedging, so every attempt is guarded and recorded.
registerPolicyParser("circuitBreaker", parseCircuitBreakerConfig, {
  order: 200,
  createInterceptor: (policy, ctx) =>
    createCircuitBreakerInterceptor(
      createBreakerRegistry({ ...policy, clock: ctx.clock, onEvent: ctx.onEvent as CircuitBreakerOptions["onEvent"] }),
    ),
});
