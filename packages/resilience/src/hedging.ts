/**
 * The hedging interceptor: gRFC A6 hedging for unary calls (streaming calls pass through, since
 * a stream cannot be answered by whichever copy comes first without buffering both directions).
 *
 * - The first attempt is sent at once; another every `hedgingDelayMs` while none succeeded, up to
 *   `maxAttempts` (capped at `maxAttemptsCap`, default 5). Each attempt has its own AbortSignal.
 * - The first success wins; a fatal error (a code not in `nonFatalStatusCodes`, or an error with
 *   the COMMITTED mark) wins too. Either way every other attempt is aborted (CANCELLED).
 * - A non-fatal failure sends the next attempt at once; later ones resume at `hedgingDelayMs`.
 * - Pushback: a delay sends the next attempt after exactly that delay; "do not retry" sends no
 *   more. When nothing more will be sent and none is in flight, the last error is returned.
 * - Throttling (shared with retries): hedges after the first are sent only while the throttle
 *   allows; non-fatal failures take tokens, successes give `tokenRatio` back.
 * - UNPROCESSED failures count as non-fatal but take no tokens.
 */
import { type AnyFn, type AnyRequest, type AnyResponse, Code, type Interceptor, RpcError } from "@petrel/core";
import { type Clock, systemClock } from "./clock.js";
import { type AttemptInfo, COMMITTED, UNPROCESSED, attemptRequest, hasMark, readPushback } from "./retry-signals.js";
import type { RetryThrottle } from "./retry-throttle.js";

/** `hedgingPolicy` of a service config, durations in ms. */
export interface HedgingPolicy {
  /** Attempts including the first; >= 2; values above the cap count as the cap. */
  maxAttempts: number;
  /** Delay between attempts, ms; >= 0 (0 sends all at once). */
  hedgingDelayMs: number;
  /** Codes after which hedging continues; any other code ends the call. Default: none. */
  nonFatalStatusCodes?: readonly Code[];
}

/** Options of {@link createHedgingInterceptor}. */
export interface HedgingInterceptorOptions {
  policy: HedgingPolicy;
  /** The throttle of the target (shared with retries). Default: none. */
  throttle?: RetryThrottle;
  /** Timers for the hedging delay. Default {@link systemClock}. */
  clock?: Clock;
  /** Client-side cap of maxAttempts (A6 default 5). */
  maxAttemptsCap?: number;
  /** Observes hedges and outcomes. */
  onEvent?: (e: HedgingEvent) => void;
}

/** Events of the hedging interceptor. */
export type HedgingEvent =
  | { type: "hedge"; path: string; attempt: number }
  | { type: "hedge-won"; path: string; attempt: number; ok: boolean; cancelled: number };

/** Throws a RangeError naming the bad field. */
export function validateHedgingPolicy(p: HedgingPolicy): void {
  if (!(Number.isInteger(p.maxAttempts) && p.maxAttempts >= 2))
    throw new RangeError(`hedgingPolicy.maxAttempts must be an integer >= 2, got ${p.maxAttempts}`);
  if (!(Number.isFinite(p.hedgingDelayMs) && p.hedgingDelayMs >= 0))
    throw new RangeError(`hedgingPolicy.hedgingDelayMs must be a finite number >= 0, got ${p.hedgingDelayMs}`);
  if (p.nonFatalStatusCodes !== undefined && !Array.isArray(p.nonFatalStatusCodes))
    throw new RangeError("hedgingPolicy.nonFatalStatusCodes must be a list of codes");
}

/** Creates the hedging interceptor. See the file header for the rules. */
export function createHedgingInterceptor(options: HedgingInterceptorOptions): Interceptor {
  validateHedgingPolicy(options.policy);
  const cap = options.maxAttemptsCap ?? 5;
  if (!(Number.isInteger(cap) && cap >= 1)) throw new RangeError(`maxAttemptsCap must be an integer >= 1, got ${cap}`);
  const cfg: HedgeConfig = {
    maxAttempts: Math.min(options.policy.maxAttempts, cap),
    delay: options.policy.hedgingDelayMs,
    nonFatal: new Set(options.policy.nonFatalStatusCodes ?? []),
    throttle: options.throttle,
    clock: options.clock ?? systemClock,
    onEvent: options.onEvent,
  };
  return (next) => (req) => (req.stream ? next(req) : hedge(cfg, next, req));
}

interface HedgeConfig {
  maxAttempts: number;
  delay: number;
  nonFatal: Set<number>;
  throttle: RetryThrottle | undefined;
  clock: Clock;
  onEvent: ((e: HedgingEvent) => void) | undefined;
}

function hedge(cfg: HedgeConfig, next: AnyFn, req: AnyRequest): Promise<AnyResponse> {
  return new Promise<AnyResponse>((resolve, reject) => {
    const endpoints: string[] = [];
    const inFlight = new Map<AbortController, number>();
    let sent = 0;
    let done = false;
    let stopped = false;
    let timer: unknown;
    let lastErr: RpcError | undefined;
    const outer = req.signal;

    const finish = (winner: AbortController | undefined, attempt: number, ok: boolean) => {
      done = true;
      if (timer !== undefined) cfg.clock.clearTimeout(timer);
      outer?.removeEventListener("abort", onOuterAbort);
      if (winner !== undefined) inFlight.delete(winner);
      const cancelled = inFlight.size;
      const reason = new RpcError(Code.CANCELLED, "hedged attempt lost");
      for (const ac of inFlight.keys()) ac.abort(reason);
      inFlight.clear();
      if (attempt > 0) cfg.onEvent?.({ type: "hedge-won", path: req.path, attempt, ok, cancelled });
    };
    const onOuterAbort = () => {
      if (done) return;
      finish(undefined, 0, false);
      reject(RpcError.from(outer?.reason));
    };
    const canSendMore = () => !stopped && sent < cfg.maxAttempts && (sent === 0 || cfg.throttle === undefined || cfg.throttle.allowRetry());
    const failIfIdle = () => {
      if (!done && inFlight.size === 0 && !canSendMore()) {
        finish(undefined, 0, false);
        reject(lastErr);
      }
    };
    const schedule = (ms: number) => {
      if (timer !== undefined) cfg.clock.clearTimeout(timer);
      timer = undefined;
      if (done || stopped || sent >= cfg.maxAttempts) return;
      timer = cfg.clock.setTimeout(() => {
        timer = undefined;
        send();
      }, ms);
    };

    function send(): void {
      if (done) return;
      if (!canSendMore()) {
        failIfIdle();
        return;
      }
      const attempt = ++sent;
      const ac = new AbortController();
      inFlight.set(ac, attempt);
      const info: AttemptInfo = { attempt, transparent: false, previousEndpoints: endpoints };
      if (attempt > 1) cfg.onEvent?.({ type: "hedge", path: req.path, attempt });
      next(attemptRequest(req, ac.signal, info)).then(
        (res) => {
          cfg.throttle?.onSuccess();
          if (done) return;
          finish(ac, attempt, true);
          resolve(res);
        },
        (e) => {
          inFlight.delete(ac);
          if (done) return;
          const err = RpcError.from(e);
          lastErr = err;
          const unprocessed = hasMark(err, UNPROCESSED);
          const nonFatal = (unprocessed || cfg.nonFatal.has(err.code)) && !hasMark(err, COMMITTED);
          const pushback = readPushback(err);
          if (!unprocessed && (cfg.nonFatal.has(err.code) || pushback.t === "stop")) cfg.throttle?.onFailure();
          if (!nonFatal) {
            finish(ac, attempt, false);
            reject(err);
            return;
          }
          if (pushback.t === "stop") stopped = true;
          else if (pushback.t === "delay") schedule(pushback.ms);
          else send(); // A6: a non-fatal failure sends the next hedge at once
          failIfIdle();
        },
      );
      if (!done) schedule(cfg.delay);
    }

    if (outer?.aborted) {
      reject(RpcError.from(outer.reason));
      return;
    }
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    send();
  });
}
