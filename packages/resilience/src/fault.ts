import { Code, type Interceptor, isCode, methodPath, parseCode, RpcError, type ServerInterceptor } from "@petrel/core";
import { type Clock, systemClock } from "./clock.js";

/** The faults of one method (or the default). Percentages are 0..100. */
export interface FaultRule {
  /** Delay `percent` % of calls by `ms` before they proceed. */
  delay?: { percent: number; ms: number };
  /** Fail `percent` % of calls with `code` (and `message`, default "fault injected"). */
  abort?: { percent: number; code: Code | string; message?: string };
}

/**
 * The faults in force. A call matches `methods["/pkg.Svc/Method"]`, else `methods["pkg.Svc"]`
 * (the whole service), else `default`. Delay applies first, then abort (as Envoy does), each
 * drawn independently.
 */
export interface FaultConfig {
  default?: FaultRule;
  methods?: Record<string, FaultRule>;
}

/** What a fault injector reports through `onEvent`. */
export type FaultEvent =
  | { readonly type: "delayed"; readonly method: string; readonly ms: number }
  | { readonly type: "aborted"; readonly method: string; readonly code: Code };

/** Options of {@link createFaultInjector}. */
export interface FaultInjectorOptions {
  /** Initial faults. Default none. */
  faults?: FaultConfig;
  /** Uniform random in [0, 1). Default Math.random. */
  random?: () => number;
  /** Timer source for delays. Default the system clock. */
  clock?: Clock;
  /** Receives each injected fault. Must not throw. */
  onEvent?: (e: FaultEvent) => void;
}

interface Rule {
  delayP: number;
  delayMs: number;
  abortP: number;
  code: Code;
  message: string;
}

/** Holds the faults in force; share one between a client and a server interceptor if useful. */
export interface FaultInjector {
  /** Replaces the faults (validated first; a bad config throws and leaves the old one in force). */
  setFaults(faults: FaultConfig): void;
  /** Removes every fault. */
  clear(): void;
  /**
   * Applies the faults of `method` (a `/pkg.Svc/Method` path): resolves after the delay, if any,
   * rejects with the abort error, if any. Resolves at once (same tick) with no fault.
   */
  apply(method: string, signal?: AbortSignal): Promise<void> | undefined;
  /** A client interceptor. */
  readonly client: Interceptor;
  /** A server interceptor. */
  readonly server: ServerInterceptor;
}

/** Validates a {@link FaultConfig}; throws a TypeError/RangeError naming the bad field. */
export function validateFaultConfig(faults: FaultConfig): void {
  compile(faults);
}

function compile(faults: FaultConfig): { byMethod: Map<string, Rule>; fallback: Rule | undefined } {
  if (typeof faults !== "object" || faults === null) throw new TypeError("faults must be an object");
  const byMethod = new Map<string, Rule>();
  for (const [k, r] of Object.entries(faults.methods ?? {})) byMethod.set(k, compileRule(`methods["${k}"]`, r));
  return { byMethod, fallback: faults.default === undefined ? undefined : compileRule("default", faults.default) };
}

function compileRule(where: string, r: FaultRule): Rule {
  if (typeof r !== "object" || r === null) throw new TypeError(`faults.${where} must be an object`);
  const out: Rule = { delayP: 0, delayMs: 0, abortP: 0, code: Code.UNKNOWN, message: "fault injected" };
  if (r.delay !== undefined) {
    out.delayP = pct(`${where}.delay.percent`, r.delay.percent);
    if (typeof r.delay.ms !== "number" || !(r.delay.ms >= 0) || !Number.isFinite(r.delay.ms)) {
      throw new RangeError(`faults.${where}.delay.ms must be a finite number >= 0, got ${r.delay.ms}`);
    }
    out.delayMs = r.delay.ms;
  }
  if (r.abort !== undefined) {
    out.abortP = pct(`${where}.abort.percent`, r.abort.percent);
    const c = typeof r.abort.code === "string" ? parseCode(r.abort.code) : r.abort.code;
    if (!isCode(c) || c === 0) throw new RangeError(`faults.${where}.abort.code must be a non-OK status code, got ${String(r.abort.code)}`);
    out.code = c;
    if (r.abort.message !== undefined) out.message = String(r.abort.message);
  }
  return out;
}

function pct(name: string, v: number): number {
  if (typeof v !== "number" || !(v >= 0 && v <= 100)) throw new RangeError(`faults.${name} must be a percentage in [0, 100], got ${v}`);
  return v / 100;
}

/** Creates a {@link FaultInjector}: delay X % of calls by D ms, abort Y % with code C, per method. */
export function createFaultInjector(options: FaultInjectorOptions = {}): FaultInjector {
  const random = options.random ?? Math.random;
  const clock = options.clock ?? systemClock;
  const onEvent = options.onEvent;
  let state = compile(options.faults ?? {});

  const ruleOf = (method: string): Rule | undefined => {
    const byMethod = state.byMethod;
    if (byMethod.size > 0) {
      const exact = byMethod.get(method);
      if (exact !== undefined) return exact;
      const service = byMethod.get(method.slice(1, method.lastIndexOf("/")));
      if (service !== undefined) return service;
    }
    return state.fallback;
  };

  // The signal is fetched only when a delay applies: a server context creates its AbortController lazily.
  const applyWith = (method: string, signalOf: (() => AbortSignal | undefined) | undefined): Promise<void> | undefined => {
    const r = ruleOf(method);
    if (r === undefined) return undefined;
    const delay = r.delayP > 0 && random() < r.delayP;
    const abort = r.abortP > 0 && random() < r.abortP;
    const fail = (): RpcError => {
      onEvent?.({ type: "aborted", method, code: r.code });
      return new RpcError(r.code, r.message);
    };
    if (!delay) return abort ? Promise.reject(fail()) : undefined;
    onEvent?.({ type: "delayed", method, ms: r.delayMs });
    const signal = signalOf?.();
    return new Promise<void>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const timer = clock.setTimeout(() => {
        if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
        if (abort) reject(fail());
        else resolve();
      }, r.delayMs);
      if (signal !== undefined) {
        onAbort = () => {
          clock.clearTimeout(timer);
          reject(RpcError.from(signal.reason, Code.CANCELLED));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  };

  const apply = (method: string, signal?: AbortSignal) => applyWith(method, signal === undefined ? undefined : () => signal);

  return {
    setFaults(faults) {
      state = compile(faults);
    },
    clear() {
      state = compile({});
    },
    apply,
    client: (next) => (req) => {
      const p = applyWith(req.path, () => req.signal);
      return p === undefined ? next(req) : p.then(() => next(req));
    },
    server: (next) => (req) => {
      const p = applyWith(methodPath(req.method), () => req.ctx.signal);
      return p === undefined ? next(req) : p.then(() => next(req));
    },
  };
}
