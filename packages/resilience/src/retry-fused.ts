/**
 * One client interceptor doing the work of three: a client concurrency limiter (outermost: it
 * bounds calls in flight, retries included), the retry policy, and a circuit breaker around every
 * attempt. {@link createResilienceInterceptors} builds it for a method whose config has a
 * `retryPolicy` and, besides it, at most a `circuitBreaker` (plus the `limiter` option).
 *
 * Behaviour is exactly that of the composed chain
 * `[createConcurrencyLimitClientInterceptor(limiter), createRetryInterceptor(…), createCircuitBreakerInterceptor(registry)]`
 * (the composed chain still serves streaming calls and calls that find the bulkhead full, which
 * queue or are rejected there); only the cost differs. The happy path of a unary call is
 * synchronous up to one `next(req)`: a bulkhead slot by `enter()` (a counter; other limiters
 * `admit()` a permit), breaker `tryAcquire()`, the first attempt sent as the caller's own request
 * (see `retryUnary` in retry.ts), then one continuation records the outcome on the breaker, the
 * retry throttle and the slot. Directly above a transport with `unarySettled` (petrel/1, gRPC),
 * that continuation is the transport's settle hook, so the call has no promise of its own either
 * (with AsyncLocalStorage on, every promise costs a hook call), and the header is snapshotted for
 * a retry only after the first attempt failed (the transport leaves it alone). Call durations for
 * the breaker come from its clock, by default `turnClock` (one clock read per event-loop turn).
 * Each async interceptor layer it replaces costs a promise, an `await` and a few hundred ns per
 * call (bench/src/micro/resilience-overhead.ts). Only a failed or rejected first attempt enters
 * the async retry loop, whose attempts go through the breaker interceptor.
 */
import {
  type AnyFn,
  type AnyRequest,
  type AnyResponse,
  Code,
  type Interceptor,
  RpcError,
  type UnaryRequest,
  type UnaryResponse,
  type UnarySettle,
  applyInterceptors,
  unarySettledOf,
} from "@petrel/core";
import type { CircuitBreaker } from "./breaker.js";
import { type BreakerRegistry, createCircuitBreakerInterceptor, settleBreaker } from "./breaker-registry.js";
import type { Bulkhead, ConcurrencyLimiter, Permit } from "./concurrency.js";
import { overloadError } from "./concurrency.js";
import { createConcurrencyLimitClientInterceptor, outcomeOf } from "./concurrency-interceptor.js";
import { type RetryInterceptorOptions, createRetryInterceptor, fillRetryOptions, headerSnapshot, retryAfterFirst } from "./retry.js";

/** Options of {@link createFusedRetryInterceptor}. @internal */
export interface FusedRetryOptions {
  /** The retry policy and its options. */
  retry: RetryInterceptorOptions;
  /** Client concurrency limiter, outermost. Default: none. */
  limiter?: ConcurrencyLimiter | Bulkhead;
  /**
   * Per-attempt breakers: the breaker of ("", method). The registry must be private to this
   * interceptor (its breakers are looked up once per method and kept). Default: none.
   */
  breakers?: BreakerRegistry;
}

/** Builds the fused limiter + retry + breaker interceptor. @internal */
export function createFusedRetryInterceptor(options: FusedRetryOptions): Interceptor {
  const f = fillRetryOptions(options.retry);
  const { limiter, breakers } = options;
  const queueing = limiter !== undefined && "acquire" in limiter && "queued" in limiter;
  const bulkhead = queueing && "enter" in limiter ? (limiter as Bulkhead) : undefined;
  const clock = breakers?.clock;
  const parts: Interceptor[] = [];
  if (limiter !== undefined) parts.push(createConcurrencyLimitClientInterceptor(limiter));
  parts.push(createRetryInterceptor(options.retry));
  const breakerIc = breakers === undefined ? undefined : createCircuitBreakerInterceptor(breakers);
  if (breakerIc !== undefined) parts.push(breakerIc);

  return (next: AnyFn): AnyFn => {
    // Streaming calls and calls that wait for a bulkhead slot take the composed chain.
    const composed = applyInterceptors<AnyFn>(next, parts);
    // Retries (attempt 2 on) go through the breaker interceptor.
    const attempt = breakerIc === undefined ? next : breakerIc(next);
    // The registry is private, so a method's breaker is looked up once (the dispatcher of
    // createResilienceInterceptors builds one chain per method: the path never changes here).
    let breakerPath = "";
    let breakerOfPath: CircuitBreaker | undefined;

    const settled = unarySettledOf(next);
    // A bulkhead's slot needs no permit object: every path below releases it exactly once.
    const slot: Permit | undefined = bulkhead === undefined ? undefined : { release: () => bulkhead.leave() };
    const outcome: Outcome = {
      ok(res, permit, breaker, start) {
        if (breaker !== undefined) breaker.onResult(true, (clock as { now(): number }).now() - start);
        f.throttle?.onSuccess();
        permit?.release("success");
        return res;
      },
      fail(e, req, snap, permit, breaker, start) {
        if (breaker !== undefined) settleBreaker(breaker, e, (clock as { now(): number }).now() - start);
        return retry(req, snap, permit, e);
      },
    };

    /** The retry loop after a failed first attempt; the permit is released when it ends. */
    const retry = (req: AnyRequest, snap: Snapshot, permit: Permit | undefined, e: unknown) => {
      const p = retryAfterFirst(f, attempt, req, snap, e);
      if (permit === undefined) return p;
      return p.then(
        (res) => {
          permit.release("success");
          return res;
        },
        (err: unknown) => {
          permit.release(outcomeOf(err));
          throw err;
        },
      );
    };

    return (req: AnyRequest): Promise<AnyResponse> => {
      if (req.stream) return composed(req);
      let permit: Permit | undefined;
      if (bulkhead !== undefined) {
        // No free slot (or a cancelled call): the composed chain queues or rejects (acquire()).
        if (req.signal?.aborted || !bulkhead.enter()) return composed(req);
        permit = slot;
      } else if (limiter !== undefined) {
        if (queueing && (limiter.inFlight >= limiter.limit || req.signal?.aborted)) return composed(req);
        permit = limiter.admit();
        if (permit === undefined) return Promise.reject(overloadError("client concurrency limit reached", limiter.pushbackMs));
      }
      let breaker: CircuitBreaker | undefined;
      if (breakers !== undefined) {
        if (req.path !== breakerPath || breakerOfPath === undefined) {
          breakerOfPath = breakers.get("", req.path);
          breakerPath = req.path;
        }
        breaker = breakerOfPath;
        if (!breaker.tryAcquire()) return retry(req, headerSnapshot(req), permit, new RpcError(Code.UNAVAILABLE, "circuit open"));
      }
      const start = clock === undefined ? 0 : clock.now();
      // Directly above a transport with a settle hook: the outcome goes through one object, and
      // the transport's promise is the call's (no promise of our own, see Transport.unarySettled).
      // The transport leaves req.header as it is, so a retry snapshots it only after a failure.
      if (settled !== undefined) return settled(req as UnaryRequest, new FirstAttempt(outcome, req, permit, breaker, start));
      const snap = headerSnapshot(req);
      let p: Promise<AnyResponse>;
      try {
        p = next(req);
      } catch (e) {
        p = Promise.reject(e);
      }
      // One continuation pair per call (they share one context): the only per-call allocations.
      return p.then(
        (res) => outcome.ok(res as UnaryResponse, permit, breaker, start),
        (e: unknown) => outcome.fail(e, req, snap, permit, breaker, start),
      );
    };
  };
}

/** What happens when a first attempt ends, shared by both ways of observing it. */
interface Outcome {
  ok(res: UnaryResponse, permit: Permit | undefined, breaker: CircuitBreaker | undefined, start: number): UnaryResponse;
  fail(
    e: unknown,
    req: AnyRequest,
    snap: Snapshot,
    permit: Permit | undefined,
    breaker: CircuitBreaker | undefined,
    start: number,
  ): Promise<AnyResponse>;
}

type Snapshot = ReturnType<typeof headerSnapshot>;

/** A first attempt's state, handed to the transport as its settle hook. */
class FirstAttempt implements UnarySettle {
  constructor(
    private readonly outcome: Outcome,
    private readonly req: AnyRequest,
    private readonly permit: Permit | undefined,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly start: number,
  ) {}
  ok(res: UnaryResponse): UnaryResponse {
    return this.outcome.ok(res, this.permit, this.breaker, this.start);
  }
  fail(err: RpcError): Promise<UnaryResponse> {
    const req = this.req;
    return this.outcome.fail(err, req, headerSnapshot(req), this.permit, this.breaker, this.start) as Promise<UnaryResponse>;
  }
}
