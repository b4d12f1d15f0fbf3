/**
 * Deadline budgets across hops.
 *
 * Core's client already gives a call made inside a handler the parent's deadline and links the
 * parent's cancellation (`CallOptions.parent`, default `currentHandlerContext()`). This
 * interceptor builds on that: it keeps a safety margin for the reply to travel back (so the child
 * fails before the parent's own deadline, and the parent still has time to answer), fails fast
 * with DEADLINE_EXCEEDED when the budget is already spent — no doomed request hits the wire — and
 * links the parent's signal when core did not (a client created before any storage existed).
 *
 * Outgoing deadline = min(own deadline, parent.deadline - margin), with
 * margin = max(marginMs, marginFraction * parent's remaining time).
 */
import { Code, type HandlerContext, type Interceptor, RpcError, currentHandlerContext } from "@petrel/core";

/** Options of {@link createDeadlineInterceptor}. */
export interface DeadlineInterceptorOptions {
  /** Fixed margin kept for the way back, ms. Default 5. */
  marginMs?: number;
  /** Margin as a fraction of the parent's remaining time, in [0, 1). Default 0. */
  marginFraction?: number;
  /** Where the parent call comes from. Default `currentHandlerContext` (core). */
  parent?: () => HandlerContext | undefined;
  /** Wall-clock ms, as deadlines are epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Observes shortened and rejected calls. */
  onEvent?: (e: DeadlineEvent) => void;
}

/** Events of the deadline interceptor. */
export type DeadlineEvent =
  | { type: "deadline-budget"; path: string; remainingMs: number; deadline: number }
  | { type: "deadline-spent"; path: string; remainingMs: number };

/** Creates the deadline propagation interceptor. Without a parent it does nothing. */
export function createDeadlineInterceptor(options: DeadlineInterceptorOptions = {}): Interceptor {
  const marginMs = options.marginMs ?? 5;
  const fraction = options.marginFraction ?? 0;
  if (!(Number.isFinite(marginMs) && marginMs >= 0)) throw new RangeError(`marginMs must be a finite number >= 0, got ${marginMs}`);
  if (!(Number.isFinite(fraction) && fraction >= 0 && fraction < 1))
    throw new RangeError(`marginFraction must be in [0, 1), got ${fraction}`);
  const getParent = options.parent ?? currentHandlerContext;
  const now = options.now ?? Date.now;
  const onEvent = options.onEvent;
  return (next) => (req) => {
    const parent = getParent();
    if (parent === undefined) return next(req);
    if (parent.signal.aborted)
      return Promise.reject(RpcError.from(parent.signal.reason ?? new RpcError(Code.CANCELLED, "parent call cancelled")));
    if (req.signal === undefined) req.signal = parent.signal;
    if (parent.deadline === undefined) return next(req);
    const remaining = parent.deadline - now();
    const budget = parent.deadline - Math.max(marginMs, fraction * remaining);
    const deadline = req.deadline === undefined ? budget : Math.min(req.deadline, budget);
    const left = deadline - now();
    if (left <= 0) {
      onEvent?.({ type: "deadline-spent", path: req.path, remainingMs: remaining });
      return Promise.reject(
        new RpcError(
          Code.DEADLINE_EXCEEDED,
          `deadline budget spent before calling ${req.path} (${Math.round(remaining)} ms left in the parent call)`,
        ),
      );
    }
    req.deadline = deadline;
    onEvent?.({ type: "deadline-budget", path: req.path, remainingMs: left, deadline });
    return next(req);
  };
}

/** Sets a per-method timeout (a service config's `timeout`): deadline = min(own, now + ms). */
export function createTimeoutInterceptor(timeoutMs: number, now: () => number = Date.now): Interceptor {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError(`timeout must be a finite number > 0, got ${timeoutMs}`);
  return (next) => (req) => {
    const d = now() + timeoutMs;
    if (req.deadline === undefined || d < req.deadline) req.deadline = d;
    return next(req);
  };
}
