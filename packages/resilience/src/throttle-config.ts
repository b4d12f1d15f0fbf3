import { type Code, isCode, parseCode } from "@petrel/core";
import { parseDuration, registerPolicyParser, ServiceConfigError } from "./service-config.js";
import { type AdaptiveThrottleOptions, AdaptiveThrottle, createAdaptiveThrottleInterceptor } from "./throttle.js";

/** A config object with only `allowed` keys. @internal */
export function configObject(raw: unknown, w: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ServiceConfigError(w, "must be an object");
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) throw new ServiceConfigError(`${w}.${k}`, "unknown key");
  return raw as Record<string, unknown>;
}

/** An optional finite number field. @internal */
export function optionalNumber(o: Record<string, unknown>, key: string, w: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new ServiceConfigError(`${w}.${key}`, `must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** A list of status codes by name or number. @internal */
export function codeList(raw: unknown, w: string): Code[] {
  if (!Array.isArray(raw)) throw new ServiceConfigError(w, "must be an array of status codes");
  return raw.map((c, i) => {
    const code = typeof c === "string" ? parseCode(c) : c;
    if (!isCode(code)) throw new ServiceConfigError(`${w}[${i}]`, `not a status code: ${JSON.stringify(c)}`);
    return code;
  });
}

/**
 * Parses the `adaptiveThrottling` method config (SRE client-side throttling):
 * `{ "k": 2, "window": "120s", "buckets": 12, "rejectCodes": ["RESOURCE_EXHAUSTED", "UNAVAILABLE"] }`,
 * every key optional.
 */
export function parseAdaptiveThrottlingConfig(raw: unknown, w = "adaptiveThrottling"): AdaptiveThrottleOptions {
  const o = configObject(raw, w, ["k", "window", "buckets", "rejectCodes"]);
  const out: AdaptiveThrottleOptions = {};
  if (o.k !== undefined) out.k = optionalNumber(o, "k", w);
  if (o.buckets !== undefined) out.buckets = optionalNumber(o, "buckets", w);
  if (o.window !== undefined) out.windowMs = parseDuration(o.window, `${w}.window`);
  if (o.rejectCodes !== undefined) out.rejectCodes = codeList(o.rejectCodes, `${w}.rejectCodes`);
  try {
    new AdaptiveThrottle(out);
  } catch (e) {
    throw new ServiceConfigError(w, (e as Error).message);
  }
  return out;
}

// Order 200: inside retries, so each attempt counts as a request (as the SRE book counts them).
registerPolicyParser("adaptiveThrottling", parseAdaptiveThrottlingConfig, {
  order: 200,
  createInterceptor: (policy, ctx) => createAdaptiveThrottleInterceptor({ ...policy, clock: ctx.clock }),
});
