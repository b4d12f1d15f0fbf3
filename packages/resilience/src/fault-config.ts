import { type FaultConfig, type FaultRule, createFaultInjector, validateFaultConfig } from "./fault.js";
import { registerPolicyParser, ServiceConfigError } from "./service-config.js";

/**
 * Parses the `faultInjection` method config, one {@link FaultRule} for the method:
 * `{ "delay": { "percent": 10, "ms": 200 }, "abort": { "percent": 5, "code": "UNAVAILABLE" } }`.
 * For faults changed at run time, use {@link createFaultInjector} and `setFaults` directly.
 */
export function parseFaultInjectionConfig(raw: unknown, w = "faultInjection"): FaultRule {
  try {
    validateFaultConfig({ default: raw as FaultRule } satisfies FaultConfig);
  } catch (e) {
    throw new ServiceConfigError(w, (e as Error).message);
  }
  return raw as FaultRule;
}

// Order 300: innermost, so retries, hedging and breakers see the injected faults like real ones.
registerPolicyParser("faultInjection", parseFaultInjectionConfig, {
  order: 300,
  createInterceptor: (policy, ctx) => createFaultInjector({ clock: ctx.clock, faults: { default: policy } }).client,
});
