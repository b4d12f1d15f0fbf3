/**
 * One JSON service config for every resilience policy, in the spirit of gRPC's
 * (github.com/grpc/grpc/blob/master/doc/service_config.md):
 *
 * ```json
 * {
 *   "methodConfig": [{
 *     "name": [{ "service": "pkg.Svc", "method": "Get" }, { "service": "pkg.Other" }],
 *     "timeout": "1.5s",
 *     "retryPolicy": { "maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
 *                      "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"] },
 *     "circuitBreaker": { ... any key registered with registerPolicyParser ... }
 *   }],
 *   "retryThrottling": { "maxTokens": 10, "tokenRatio": 0.1 },
 *   "loadBalancingConfig": [{ "p2c_ewma": {} }]
 * }
 * ```
 *
 * - Durations are gRPC JSON durations: seconds with up to 9 decimals and an `s` suffix ("0.25s").
 * - Codes are names ("UNAVAILABLE", any case) or numbers.
 * - `retryPolicy` and `hedgingPolicy` exclude each other. Unknown keys are errors (typos in a
 *   resilience config are costly); pass `{ ignoreUnknownKeys: true }` to skip them.
 * - Lookup precedence (gRPC): service+method, then service (`{ "service": "pkg.Svc" }`), then
 *   the default (`{}`); the first match wins, nothing merges.
 *
 * Extending: a policy package calls `registerPolicyParser(key, parse, { createInterceptor, order })`
 * at module load. `parse(raw, where)` validates the JSON value and returns the policy (throw an
 * Error; it is reported as a ServiceConfigError at `where`). `createInterceptor(policy, ctx)` builds
 * the client interceptor for one method (ctx carries the method path, clock and onEvent).
 * `order` places it in the per-method chain, outermost first: timeout 0, retry/hedging 100,
 * default 200 — so an order > 100 sees every attempt (circuit breakers, limiters, fault
 * injection), an order < 100 sees the call once. Last registration of a key wins.
 */
import { type Code, isCode, parseCode, type Interceptor } from "@petrel/core";
import type { Clock } from "./clock.js";
import type { HedgingPolicy } from "./hedging.js";
import type { RetryPolicy } from "./retry.js";
import type { RetryThrottleOptions } from "./retry-throttle.js";

/** A bad service config; `where` is the JSON path of the offending value. */
export class ServiceConfigError extends Error {
  constructor(
    readonly where: string,
    detail: string,
  ) {
    super(`service config: ${where}: ${detail}`);
    this.name = "ServiceConfigError";
  }
}

/** One `name` entry of a method config. */
export interface MethodName {
  service?: string;
  method?: string;
}

/** A parsed method config; durations in ms. */
export interface MethodConfig {
  name: MethodName[];
  timeoutMs?: number;
  waitForReady?: boolean;
  maxRequestMessageBytes?: number;
  maxResponseMessageBytes?: number;
  retryPolicy?: RetryPolicy;
  hedgingPolicy?: HedgingPolicy;
  /** Registered policies by key, as their parsers returned them. */
  policies: Record<string, unknown>;
}

/** A parsed service config. */
export interface ServiceConfig {
  methodConfig: MethodConfig[];
  retryThrottling?: Pick<RetryThrottleOptions, "maxTokens" | "tokenRatio">;
  /** Kept as given (validated as a list of one-key objects); the balancer interprets it. */
  loadBalancingConfig?: Record<string, unknown>[];
  /** Deprecated gRPC field, kept as given. */
  loadBalancingPolicy?: string;
}

/** What a policy's interceptor factory gets. */
export interface PolicyContext {
  /** `/pkg.Service/Method`. */
  path: string;
  clock: Clock;
  /** Events of every policy, tagged by the policy itself. */
  onEvent?: (e: { type: string; [k: string]: unknown }) => void;
}

/** A registered policy. */
export interface PolicyRegistration<T = unknown> {
  parse: (raw: unknown, where: string) => T;
  createInterceptor?: (policy: T, ctx: PolicyContext) => Interceptor;
  order: number;
}

const registry = new Map<string, PolicyRegistration>();
const parsedConfigs = new WeakSet<object>();

/** Whether a value came out of {@link parseServiceConfig}. @internal */
export function isParsedServiceConfig(v: unknown): v is ServiceConfig {
  return typeof v === "object" && v !== null && parsedConfigs.has(v);
}
const builtinMethodKeys = new Set([
  "name",
  "timeout",
  "waitForReady",
  "maxRequestMessageBytes",
  "maxResponseMessageBytes",
  "retryPolicy",
  "hedgingPolicy",
]);

/**
 * Registers a method-config key (e.g. `circuitBreaker`). Last registration wins.
 * @param order position in the per-method chain (0 timeout, 100 retry/hedging); default 200.
 */
export function registerPolicyParser<T>(
  key: string,
  parse: (raw: unknown, where: string) => T,
  options: { createInterceptor?: (policy: T, ctx: PolicyContext) => Interceptor; order?: number } = {},
): void {
  if (builtinMethodKeys.has(key)) throw new Error(`registerPolicyParser: "${key}" is a built-in method config key`);
  registry.set(key, { parse, createInterceptor: options.createInterceptor, order: options.order ?? 200 } as PolicyRegistration);
}

/** The registration of a key, if any. @internal */
export function getPolicyRegistration(key: string): PolicyRegistration | undefined {
  return registry.get(key);
}

/** Options of {@link parseServiceConfig}. */
export interface ParseServiceConfigOptions {
  /** Skip unknown keys instead of failing. Default false. */
  ignoreUnknownKeys?: boolean;
}

/** Parses and validates a service config (a JSON string or an already-parsed value). */
export function parseServiceConfig(input: unknown, options: ParseServiceConfigOptions = {}): ServiceConfig {
  let raw = input;
  if (typeof input === "string") {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new ServiceConfigError("$", `not valid JSON: ${(e as Error).message}`);
    }
  }
  const top = obj(raw, "$");
  const strict = options.ignoreUnknownKeys !== true;
  checkKeys(top, "$", ["methodConfig", "retryThrottling", "loadBalancingConfig", "loadBalancingPolicy", "healthCheckConfig"], strict);
  const out: ServiceConfig = { methodConfig: [] };
  const seen = new Set<string>();
  if (top.methodConfig !== undefined) {
    const list = arr(top.methodConfig, "$.methodConfig");
    list.forEach((m, i) => {
      out.methodConfig.push(parseMethodConfig(m, `$.methodConfig[${i}]`, seen, strict));
    });
  }
  if (top.retryThrottling !== undefined) {
    const w = "$.retryThrottling";
    const t = obj(top.retryThrottling, w);
    checkKeys(t, w, ["maxTokens", "tokenRatio"], strict);
    const maxTokens = num(t.maxTokens, `${w}.maxTokens`);
    if (!(maxTokens > 0 && maxTokens <= 1000)) throw new ServiceConfigError(`${w}.maxTokens`, `must be in (0, 1000], got ${maxTokens}`);
    const tokenRatio = num(t.tokenRatio, `${w}.tokenRatio`);
    if (!(tokenRatio > 0)) throw new ServiceConfigError(`${w}.tokenRatio`, `must be > 0, got ${tokenRatio}`);
    out.retryThrottling = { maxTokens, tokenRatio };
  }
  if (top.loadBalancingConfig !== undefined) {
    const lb = arr(top.loadBalancingConfig, "$.loadBalancingConfig");
    out.loadBalancingConfig = lb.map((e, i) => {
      const o = obj(e, `$.loadBalancingConfig[${i}]`);
      if (Object.keys(o).length !== 1)
        throw new ServiceConfigError(`$.loadBalancingConfig[${i}]`, "must have exactly one key (the policy name)");
      return o;
    });
  }
  if (top.loadBalancingPolicy !== undefined) {
    if (typeof top.loadBalancingPolicy !== "string") throw new ServiceConfigError("$.loadBalancingPolicy", "must be a string");
    out.loadBalancingPolicy = top.loadBalancingPolicy;
  }
  parsedConfigs.add(out);
  return out;
}

function parseMethodConfig(raw: unknown, w: string, seen: Set<string>, strict: boolean): MethodConfig {
  const m = obj(raw, w);
  const names = arr(m.name, `${w}.name`);
  if (names.length === 0) throw new ServiceConfigError(`${w}.name`, "must list at least one name");
  const mc: MethodConfig = { name: [], policies: {} };
  names.forEach((n, i) => {
    const nw = `${w}.name[${i}]`;
    const o = obj(n, nw);
    checkKeys(o, nw, ["service", "method"], strict);
    const service = optString(o.service, `${nw}.service`) ?? "";
    const method = optString(o.method, `${nw}.method`) ?? "";
    if (service === "" && method !== "") throw new ServiceConfigError(nw, "a method needs a service");
    const key = `${service}/${method}`;
    if (seen.has(key)) throw new ServiceConfigError(nw, `duplicate name ${JSON.stringify(o)}`);
    seen.add(key);
    mc.name.push(service === "" ? {} : method === "" ? { service } : { service, method });
  });
  if (m.timeout !== undefined) {
    const t = parseDuration(m.timeout, `${w}.timeout`);
    if (t <= 0) throw new ServiceConfigError(`${w}.timeout`, "must be > 0");
    mc.timeoutMs = t;
  }
  if (m.waitForReady !== undefined) {
    if (typeof m.waitForReady !== "boolean") throw new ServiceConfigError(`${w}.waitForReady`, "must be a boolean");
    mc.waitForReady = m.waitForReady;
  }
  for (const k of ["maxRequestMessageBytes", "maxResponseMessageBytes"] as const) {
    if (m[k] === undefined) continue;
    const v = num(m[k], `${w}.${k}`);
    if (!(Number.isInteger(v) && v >= 0)) throw new ServiceConfigError(`${w}.${k}`, "must be an integer >= 0");
    mc[k] = v;
  }
  if (m.retryPolicy !== undefined && m.hedgingPolicy !== undefined)
    throw new ServiceConfigError(w, "retryPolicy and hedgingPolicy exclude each other");
  if (m.retryPolicy !== undefined) mc.retryPolicy = parseRetryPolicy(m.retryPolicy, `${w}.retryPolicy`, strict);
  if (m.hedgingPolicy !== undefined) mc.hedgingPolicy = parseHedgingPolicy(m.hedgingPolicy, `${w}.hedgingPolicy`, strict);
  for (const key of Object.keys(m)) {
    if (builtinMethodKeys.has(key)) continue;
    const reg = registry.get(key);
    if (reg === undefined) {
      if (!strict) continue;
      const known = [...builtinMethodKeys, ...registry.keys()].join(", ");
      throw new ServiceConfigError(`${w}.${key}`, `unknown key (known: ${known})`);
    }
    try {
      mc.policies[key] = reg.parse(m[key], `${w}.${key}`);
    } catch (e) {
      if (e instanceof ServiceConfigError) throw e;
      throw new ServiceConfigError(`${w}.${key}`, (e as Error).message ?? String(e));
    }
  }
  return mc;
}

/** Parses a `retryPolicy` JSON object. */
export function parseRetryPolicy(raw: unknown, w = "retryPolicy", strict = true): RetryPolicy {
  const o = obj(raw, w);
  checkKeys(o, w, ["maxAttempts", "initialBackoff", "maxBackoff", "backoffMultiplier", "retryableStatusCodes"], strict);
  const maxAttempts = num(o.maxAttempts, `${w}.maxAttempts`);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 2))
    throw new ServiceConfigError(`${w}.maxAttempts`, `must be an integer >= 2, got ${maxAttempts}`);
  const initialBackoffMs = parseDuration(o.initialBackoff, `${w}.initialBackoff`);
  if (!(initialBackoffMs > 0)) throw new ServiceConfigError(`${w}.initialBackoff`, "must be > 0");
  const maxBackoffMs = parseDuration(o.maxBackoff, `${w}.maxBackoff`);
  if (!(maxBackoffMs > 0)) throw new ServiceConfigError(`${w}.maxBackoff`, "must be > 0");
  const backoffMultiplier = num(o.backoffMultiplier, `${w}.backoffMultiplier`);
  if (!(backoffMultiplier > 0)) throw new ServiceConfigError(`${w}.backoffMultiplier`, "must be > 0");
  const retryableStatusCodes = codes(o.retryableStatusCodes, `${w}.retryableStatusCodes`);
  if (retryableStatusCodes.length === 0) throw new ServiceConfigError(`${w}.retryableStatusCodes`, "must not be empty");
  return { maxAttempts, initialBackoffMs, maxBackoffMs, backoffMultiplier, retryableStatusCodes };
}

/** Parses a `hedgingPolicy` JSON object. */
export function parseHedgingPolicy(raw: unknown, w = "hedgingPolicy", strict = true): HedgingPolicy {
  const o = obj(raw, w);
  checkKeys(o, w, ["maxAttempts", "hedgingDelay", "nonFatalStatusCodes"], strict);
  const maxAttempts = num(o.maxAttempts, `${w}.maxAttempts`);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 2))
    throw new ServiceConfigError(`${w}.maxAttempts`, `must be an integer >= 2, got ${maxAttempts}`);
  const hedgingDelayMs = o.hedgingDelay === undefined ? 0 : parseDuration(o.hedgingDelay, `${w}.hedgingDelay`);
  if (hedgingDelayMs < 0) throw new ServiceConfigError(`${w}.hedgingDelay`, "must be >= 0");
  const nonFatalStatusCodes = o.nonFatalStatusCodes === undefined ? [] : codes(o.nonFatalStatusCodes, `${w}.nonFatalStatusCodes`);
  return { maxAttempts, hedgingDelayMs, nonFatalStatusCodes };
}

/** Parses a gRPC JSON duration ("1.5s", ".01s", "-2s") into milliseconds. */
export function parseDuration(raw: unknown, w = "duration"): number {
  if (typeof raw !== "string") throw new ServiceConfigError(w, `must be a duration string like "1.5s", got ${JSON.stringify(raw)}`);
  const m = /^(-)?(\d*)(?:\.(\d{1,9}))?s$/.exec(raw);
  if (m === null || (m[2] === "" && m[3] === undefined))
    throw new ServiceConfigError(w, `must be a duration string like "1.5s" (seconds, up to 9 decimals), got ${JSON.stringify(raw)}`);
  const seconds = Number(`${m[2] === "" ? "0" : m[2]}.${m[3] ?? "0"}`);
  if (seconds > 315_576_000_000) throw new ServiceConfigError(w, "is out of range");
  return (m[1] === "-" ? -1 : 1) * seconds * 1000;
}

/**
 * The method config for a path `/pkg.Service/Method` with gRPC's precedence: exact
 * service+method, then service-wide, then the default (`{}`), else undefined.
 */
export function findMethodConfig(config: ServiceConfig, path: string): MethodConfig | undefined {
  const slash = path.lastIndexOf("/");
  const service = path.slice(path.startsWith("/") ? 1 : 0, slash);
  const method = path.slice(slash + 1);
  let byService: MethodConfig | undefined;
  let byDefault: MethodConfig | undefined;
  for (const mc of config.methodConfig) {
    for (const n of mc.name) {
      if (n.service === undefined) byDefault ??= mc;
      else if (n.service === service) {
        if (n.method === method) return mc;
        if (n.method === undefined) byService ??= mc;
      }
    }
  }
  return byService ?? byDefault;
}

function obj(v: unknown, w: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ServiceConfigError(w, `must be an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, w: string): unknown[] {
  if (!Array.isArray(v)) throw new ServiceConfigError(w, `must be a list, got ${describe(v)}`);
  return v;
}

function num(v: unknown, w: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ServiceConfigError(w, `must be a number, got ${describe(v)}`);
  return v;
}

function optString(v: unknown, w: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ServiceConfigError(w, `must be a string, got ${describe(v)}`);
  return v;
}

function codes(v: unknown, w: string): Code[] {
  return arr(v, w).map((c, i) => {
    const code = typeof c === "string" ? parseCode(c) : isCode(c) ? c : undefined;
    if (code === undefined || code === 0)
      throw new ServiceConfigError(`${w}[${i}]`, `not a status code (other than OK): ${JSON.stringify(c)}`);
    return code;
  });
}

function checkKeys(o: Record<string, unknown>, w: string, known: string[], strict: boolean): void {
  if (!strict) return;
  for (const k of Object.keys(o))
    if (!known.includes(k)) throw new ServiceConfigError(`${w}.${k}`, `unknown key (known: ${known.join(", ")})`);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : JSON.stringify(v);
}
