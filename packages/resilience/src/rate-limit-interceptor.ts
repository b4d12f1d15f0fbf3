import { type AnyFn, type HandlerContext, type Interceptor, methodPath, type ServerFn, type ServerInterceptor } from "@petrel/core";
import type { RateLimiter } from "./rate-limit.js";
import { retryableRejection } from "./rate-limit-retry-info.js";

/** Makes the limiter of one (method, caller key); called the first time the pair is seen. */
export type RateLimiterFactory = (method: string, key: string) => RateLimiter;

/**
 * The caller key of a call; `undefined` means "not limited per caller" (the call shares the
 * method's limiter under the key `""`).
 */
export type CallerKeyFn = (ctx: HandlerContext) => string | undefined;

/** Caller key: the peer's host (the port is dropped: one client opens many connections). */
export const keyByPeerHost: CallerKeyFn = (ctx) => {
  const a = ctx.peer.address;
  if (a.startsWith("[")) return a.slice(0, a.indexOf("]") + 1);
  const i = a.lastIndexOf(":");
  return i > 0 && a.indexOf(":") === i ? a.slice(0, i) : a;
};

/** Caller key: the value of a request header, e.g. `keyByHeader("x-api-key")`. */
export function keyByHeader(name: string): CallerKeyFn {
  const key = name.toLowerCase();
  return (ctx) => ctx.requestHeader.getString(key);
}

/** Options of {@link createRateLimitServerInterceptor}. */
export interface RateLimitServerOptions {
  /**
   * Limiter factory for methods without their own entry in `methods`. Default: none (such methods
   * are not limited).
   */
  limiter?: RateLimiterFactory;
  /** Per-method limiter factories, keyed by `/pkg.Service/Method`. */
  methods?: Record<string, RateLimiterFactory>;
  /** The caller key. Default: none (one limiter per method). */
  key?: CallerKeyFn;
  /**
   * Most (method, key) limiters kept; the least recently used is dropped beyond it. Default 10000.
   * A dropped key starts again with a fresh limiter (a full bucket), so the bound trades a little
   * leniency towards rarely seen callers for memory that a flood of distinct keys cannot grow.
   */
  maxKeys?: number;
  /** The error message of a rejection. Default "rate limit exceeded". */
  message?: string;
}

/**
 * A bounded LRU map: a JS Map keeps insertion order, so re-inserting on access makes the first
 * key the least recently used. @internal
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxKeys must be a positive integer, got ${max}`);
  }
  get size(): number {
    return this.map.size;
  }
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
  has(k: K): boolean {
    return this.map.has(k);
  }
}

/**
 * A server interceptor limiting calls per method and per caller key. A rejected call fails with
 * RESOURCE_EXHAUSTED (the gRPC code for quota and rate limits) carrying a `google.rpc.RetryInfo`
 * detail and `grpc-retry-pushback-ms` metadata with the limiter's wait.
 */
export function createRateLimitServerInterceptor(options: RateLimitServerOptions): ServerInterceptor & {
  /** Number of (method, key) limiters held. */
  readonly size: number;
} {
  const lru = new LruMap<string, RateLimiter>(options.maxKeys ?? 10_000);
  const methods = options.methods ?? {};
  for (const [path, f] of Object.entries(methods)) {
    if (typeof f !== "function") throw new TypeError(`rate limit: methods["${path}"] must be a limiter factory`);
  }
  const fallback = options.limiter;
  const keyFn = options.key;
  const message = options.message ?? "rate limit exceeded";
  const interceptor = (next: ServerFn): ServerFn => {
    return (req) => {
      const path = methodPath(req.method);
      const factory = methods[path] ?? fallback;
      if (factory === undefined) return next(req);
      const key = (keyFn === undefined ? undefined : keyFn(req.ctx)) ?? "";
      const id = `${path}\n${key}`;
      let limiter = lru.get(id);
      if (limiter === undefined) {
        limiter = factory(path, key);
        lru.set(id, limiter);
      }
      const wait = limiter.tryAcquire();
      if (wait > 0) return Promise.reject(retryableRejection(message, wait));
      return next(req);
    };
  };
  return Object.defineProperty(interceptor, "size", { get: () => lru.size }) as ServerInterceptor & { readonly size: number };
}

/** Options of {@link createRateLimitInterceptor}. */
export interface RateLimitClientOptions {
  /** The limiter of a method (called once per method path). */
  limiter: (method: string) => RateLimiter;
  /** One limiter for all methods (true) or one per method (false). Default true. */
  shared?: boolean;
}

/**
 * A client interceptor that keeps a client under a rate. Over the rate, a call fails locally,
 * before reaching the wire, with the same RESOURCE_EXHAUSTED + RetryInfo + pushback a server
 * would send, so the retry interceptor treats both alike.
 */
export function createRateLimitInterceptor(options: RateLimitClientOptions): Interceptor {
  const shared = options.shared ?? true;
  const limiters = new Map<string, RateLimiter>();
  return (next: AnyFn) => (req) => {
    const id = shared ? "" : req.path;
    let limiter = limiters.get(id);
    if (limiter === undefined) {
      limiter = options.limiter(req.path);
      limiters.set(id, limiter);
    }
    const wait = limiter.tryAcquire();
    if (wait > 0) return Promise.reject(retryableRejection("client rate limit exceeded", wait));
    return next(req);
  };
}
