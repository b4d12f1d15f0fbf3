/**
 * The retry interceptor: gRFC A6 retries on every protocol.
 *
 * Rules (each tested in retry.test.ts):
 * - At most `maxAttempts` attempts (A6: >= 2, capped at `maxAttemptsCap`, default 5), retried only
 *   on `retryableStatusCodes`, after `random(0, min(initial * multiplier^(n-1), max))` ms.
 * - Server pushback (`grpc-retry-pushback-ms` in the error metadata): a valid value waits exactly
 *   that long and resets the backoff; a negative or unparsable value stops retrying.
 * - Throttling: with a {@link RetryThrottle}, retries are sent only while its tokens allow.
 * - Committed calls are not retried. Unary: the error carries the COMMITTED mark (response headers
 *   had arrived; set by transports). Streaming: the first response message was received, the
 *   stream ended cleanly, or the client sent more than `maxBufferedMessages` messages.
 * - Transparent retry: an error carrying the UNPROCESSED mark is retried at once, up to
 *   `maxTransparentRetries` times, spending neither attempts nor throttle tokens.
 * - Every attempt shares the call's deadline (never reset) and its cancellation; a retry whose
 *   delay would end past the deadline is not made, and the last error is returned. Cancelling
 *   the call during a backoff ends the wait at once with CANCELLED.
 * - Each attempt is a copy of the request with its own header and an {@link AttemptInfo} for the
 *   balancer. It carries the caller's own AbortSignal: a retry never abandons an attempt that is
 *   still running (the next one starts only after it failed), so a per-attempt AbortController
 *   would only add cost — on Node an AbortController plus the transport's abort listener halves
 *   unary throughput (bench/src/micro/resilience-overhead.ts). Hedging does abandon attempts and
 *   keeps one controller per attempt.
 */
import {
  type AnyFn,
  type AnyRequest,
  type AnyResponse,
  type Code,
  errorEndpoint,
  type Interceptor,
  Metadata,
  type MetadataValue,
  RpcError,
  type StreamRequest,
  type StreamResponse,
} from "@petrel/core";
import { ExponentialBackoff, validateBackoffOptions } from "./backoff.js";
import { type Clock, sleep, systemClock } from "./clock.js";
import { ReplayInput } from "./retry-replay.js";
import { type AttemptInfo, COMMITTED, UNPROCESSED, attemptRequest, hasMark, readPushback } from "./retry-signals.js";
import type { RetryThrottle } from "./retry-throttle.js";

/** `retryPolicy` of a service config, durations in ms. */
export interface RetryPolicy {
  /** Attempts including the first; >= 2; values above the cap count as the cap. */
  maxAttempts: number;
  /** Ceiling of the first backoff, ms; > 0. */
  initialBackoffMs: number;
  /** Largest backoff ceiling, ms; > 0. */
  maxBackoffMs: number;
  /** Ceiling growth per retry; > 0. */
  backoffMultiplier: number;
  /** Codes that are retried; non-empty. */
  retryableStatusCodes: readonly Code[];
}

/** Options of {@link createRetryInterceptor}. */
export interface RetryInterceptorOptions {
  /** The policy. */
  policy: RetryPolicy;
  /** The throttle of the target (shared with hedging). Default: none (never throttled). */
  throttle?: RetryThrottle;
  /** Timers for backoff. Default {@link systemClock}. */
  clock?: Clock;
  /** Wall-clock ms, compared with request deadlines (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** Uniform random in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
  /** Client-side cap of maxAttempts (A6 default 5). */
  maxAttemptsCap?: number;
  /** Transparent retries per call for UNPROCESSED errors. Default 1 (A6). */
  maxTransparentRetries?: number;
  /** Client-stream messages kept for replay; more commits the call. Default 64. */
  maxBufferedMessages?: number;
  /** Retry streaming calls too. Default true. */
  streaming?: boolean;
  /** Observes retries and give-ups. */
  onEvent?: (e: RetryEvent) => void;
}

/** Why a failed attempt was not retried (only emitted for failures the policy could retry). */
export type RetryGiveUpReason = "max-attempts" | "throttled" | "committed" | "pushback" | "deadline";

/** Events of the retry interceptor. */
export type RetryEvent =
  | { type: "retry"; path: string; attempt: number; delayMs: number; code: Code; transparent: boolean; pushback: boolean }
  | { type: "retry-give-up"; path: string; attempt: number; code: Code; reason: RetryGiveUpReason };

/** Throws a RangeError naming the bad field. */
export function validateRetryPolicy(p: RetryPolicy): void {
  if (!(Number.isInteger(p.maxAttempts) && p.maxAttempts >= 2))
    throw new RangeError(`retryPolicy.maxAttempts must be an integer >= 2, got ${p.maxAttempts}`);
  validateBackoffOptions(p);
  if (!Array.isArray(p.retryableStatusCodes) || p.retryableStatusCodes.length === 0)
    throw new RangeError("retryPolicy.retryableStatusCodes must be a non-empty list of codes");
}

/** Validated retry options. @internal */
export interface RetryFilled {
  policy: RetryPolicy;
  maxAttempts: number;
  codes: Set<number>;
  throttle: RetryThrottle | undefined;
  clock: Clock;
  now: () => number;
  random: (() => number) | undefined;
  maxTransparent: number;
  maxBuffered: number;
  onEvent: ((e: RetryEvent) => void) | undefined;
  /** The success continuation of a first attempt (shared by every call). */
  ok: (res: AnyResponse) => AnyResponse;
}
type Filled = RetryFilled;

/** Validates the options and fills in defaults. @internal */
export function fillRetryOptions(options: RetryInterceptorOptions): RetryFilled {
  validateRetryPolicy(options.policy);
  const cap = options.maxAttemptsCap ?? 5;
  if (!(Number.isInteger(cap) && cap >= 1)) throw new RangeError(`maxAttemptsCap must be an integer >= 1, got ${cap}`);
  const throttle = options.throttle;
  return {
    policy: options.policy,
    maxAttempts: Math.min(options.policy.maxAttempts, cap),
    codes: new Set(options.policy.retryableStatusCodes),
    throttle,
    clock: options.clock ?? systemClock,
    now: options.now ?? Date.now,
    random: options.random,
    maxTransparent: options.maxTransparentRetries ?? 1,
    maxBuffered: options.maxBufferedMessages ?? 64,
    onEvent: options.onEvent,
    ok:
      throttle === undefined
        ? (res) => res
        : (res) => {
            throttle.onSuccess();
            return res;
          },
  };
}

/** Creates the retry interceptor. See the file header for the rules. */
export function createRetryInterceptor(options: RetryInterceptorOptions): Interceptor {
  const f = fillRetryOptions(options);
  const streaming = options.streaming ?? true;
  return (next) => (req) => {
    if (!req.stream) return retryUnary(f, next, req);
    if (!streaming) return next(req);
    return retryCall(f, next, req, new ReplayInput(req.message, f.maxBuffered));
  };
}

const NO_HEADER: readonly (string | MetadataValue)[] = [];

/**
 * The header of a call as it was before its first attempt: attempt 1 is sent as the caller's own
 * request (no copy), and a layer below may change its header; retries start from this snapshot.
 * @internal
 */
export function headerSnapshot(req: AnyRequest): readonly (string | MetadataValue)[] {
  const flat = req.header.flat;
  return flat.length === 0 ? NO_HEADER : flat.slice();
}

/**
 * A unary call's first attempt, kept free of per-call state: it goes out as the caller's own
 * request, without an {@link AttemptInfo} hint (where it went comes back on its error, see
 * {@link retryAfterFirst}); only a failure enters the
 * retry loop ({@link retryAfterFirst}), which builds attempt copies from then on.
 */
function retryUnary(f: Filled, next: AnyFn, req: AnyRequest): Promise<AnyResponse> {
  const snap = headerSnapshot(req);
  let p: Promise<AnyResponse>;
  try {
    p = next(req);
  } catch (e) {
    p = Promise.reject(e);
  }
  return p.then(f.ok, (e: unknown) => retryAfterFirst(f, next, req, snap, e));
}

/**
 * The retry loop of a unary call whose first attempt (sent as `req` itself) failed with `first`.
 * `snap` is the header before that attempt ({@link headerSnapshot}). @internal
 */
export async function retryAfterFirst(
  f: Filled,
  next: AnyFn,
  req: AnyRequest,
  snap: readonly (string | MetadataValue)[],
  first: unknown,
): Promise<AnyResponse> {
  const s = new CallState(f);
  s.attempt = 1;
  let e = first;
  for (;;) {
    // Where the failed attempt went (set by a channel): the next attempt avoids it. The
    // endpoint-hint interceptor may have noted it already.
    const ep = errorEndpoint(e);
    if (ep !== undefined && !s.endpoints.includes(ep)) s.endpoints.push(ep);
    const err = RpcError.from(e);
    const d = decide(s, req, err, hasMark(err, COMMITTED));
    if (d.t === "fail") throw err;
    if (d.delay > 0) {
      try {
        await sleep(f.clock, d.delay, req.signal);
      } catch (reason) {
        throw RpcError.from(reason);
      }
    }
    s.attempt++;
    const info: AttemptInfo = { attempt: s.attempt, transparent: s.transparentLeft < f.maxTransparent, previousEndpoints: s.endpoints };
    const header = Metadata.fromFlat(snap.slice());
    const areq = attemptRequest(req, req.signal, info, req.message, header);
    try {
      const res = await next(areq);
      f.throttle?.onSuccess();
      return res;
    } catch (x) {
      e = x;
    }
  }
}

/** Per-call retry state. */
class CallState {
  attempt = 0;
  policyAttempts = 0;
  transparentLeft: number;
  readonly endpoints: string[] = [];
  #backoff: ExponentialBackoff | undefined;

  constructor(readonly f: Filled) {
    this.transparentLeft = f.maxTransparent;
  }

  /** Created on the first retry: most calls never need one. */
  get backoff(): ExponentialBackoff {
    this.#backoff ??= new ExponentialBackoff({ ...this.f.policy, random: this.f.random });
    return this.#backoff;
  }
}

type Decision = { t: "retry"; delay: number } | { t: "fail" };

/** Applies the A6 rules to a failed attempt. */
function decide(s: CallState, req: AnyRequest, err: RpcError, committed: boolean): Decision {
  const f = s.f;
  const emitGiveUp = (reason: RetryGiveUpReason): Decision => {
    f.onEvent?.({ type: "retry-give-up", path: req.path, attempt: s.attempt, code: err.code, reason });
    return { t: "fail" };
  };
  if (req.signal?.aborted) return { t: "fail" };
  if (hasMark(err, UNPROCESSED) && s.transparentLeft > 0 && !committed) {
    s.transparentLeft--;
    if (req.deadline !== undefined && f.now() >= req.deadline) return emitGiveUp("deadline");
    f.onEvent?.({ type: "retry", path: req.path, attempt: s.attempt + 1, delayMs: 0, code: err.code, transparent: true, pushback: false });
    return { t: "retry", delay: 0 };
  }
  s.policyAttempts++;
  const retryable = f.codes.has(err.code);
  const pushback = readPushback(err);
  // A6: only retryable codes and "do not retry" pushback count as failures for throttling.
  if (retryable || pushback.t === "stop") f.throttle?.onFailure();
  if (!retryable) return { t: "fail" };
  if (committed) return emitGiveUp("committed");
  if (pushback.t === "stop") return emitGiveUp("pushback");
  if (s.policyAttempts >= f.maxAttempts) return emitGiveUp("max-attempts");
  if (f.throttle !== undefined && !f.throttle.allowRetry()) return emitGiveUp("throttled");
  let delay: number;
  if (pushback.t === "delay") {
    delay = pushback.ms;
    s.backoff.reset();
  } else {
    delay = s.backoff.next();
  }
  if (req.deadline !== undefined && f.now() + delay >= req.deadline) return emitGiveUp("deadline");
  f.onEvent?.({
    type: "retry",
    path: req.path,
    attempt: s.attempt + 1,
    delayMs: delay,
    code: err.code,
    transparent: false,
    pushback: pushback.t === "delay",
  });
  return { t: "retry", delay };
}

async function retryCall(f: Filled, next: AnyFn, req: AnyRequest, replay: ReplayInput<unknown> | undefined) {
  const s = new CallState(f);
  for (;;) {
    s.attempt++;
    const info: AttemptInfo = {
      attempt: s.attempt,
      transparent: s.transparentLeft < f.maxTransparent && s.attempt > 1,
      previousEndpoints: s.endpoints,
    };
    const areq = attemptRequest(req, req.signal, info, replay === undefined ? req.message : (replay.attempt() as StreamRequest["message"]));
    let committed = false;
    try {
      const res = await next(areq);
      if (replay === undefined) {
        f.throttle?.onSuccess();
        return res;
      }
      committed = replay.overflowed;
      const out = await commitStream(res as StreamResponse, replay);
      f.throttle?.onSuccess();
      return out;
    } catch (e) {
      const err = RpcError.from(e);
      if (replay !== undefined) committed = committed || replay.overflowed;
      else committed = hasMark(err, COMMITTED);
      const d = decide(s, req, err, committed);
      if (d.t === "fail") {
        replay?.close();
        throw err;
      }
      if (d.delay > 0) {
        try {
          await sleep(f.clock, d.delay, req.signal);
        } catch (reason) {
          replay?.close();
          throw RpcError.from(reason);
        }
      }
    }
  }
}

/**
 * Waits for the first response message (or the clean end) of a stream attempt: from then on the
 * call is committed to it. A failure before that is thrown, so the attempt can be retried.
 */
async function commitStream(res: StreamResponse, replay: ReplayInput<unknown>): Promise<StreamResponse> {
  const it = res.message[Symbol.asyncIterator]();
  const first = await it.next();
  replay.commit();
  async function* rest() {
    try {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      // Stopped early: tell the attempt's iterator (the transport cancels the call).
      void it.return?.()?.catch(() => {});
    }
  }
  return {
    stream: true,
    service: res.service,
    method: res.method,
    get header() {
      return res.header;
    },
    get trailer() {
      return res.trailer;
    },
    message: rest(),
  };
}
