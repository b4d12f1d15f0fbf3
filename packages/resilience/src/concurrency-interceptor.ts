import { Code, type Interceptor, RpcError, type ServerInterceptor, type ServerResponse } from "@petrel/core";
import { type Bulkhead, type ConcurrencyLimiter, type Permit, type PermitOutcome, overloadError } from "./concurrency.js";

/**
 * A server interceptor shedding calls over a {@link ConcurrencyLimiter} (a bulkhead or the
 * adaptive limiter) with RESOURCE_EXHAUSTED and `grpc-retry-pushback-ms`. RESOURCE_EXHAUSTED is
 * the gRPC convention for "the server is out of a resource right now" (gRPC's own servers use it
 * for max-concurrent-streams and message-size limits); with pushback the client's retry waits,
 * and Petrel's retry prefers another endpoint.
 *
 * Core's server interceptors run after the request message was decoded; to shed before that,
 * a protocol calls the same limiter's `admit()` at stream open (see the package README) and this
 * interceptor is then not needed. A bulkhead with a queue waits here (`acquire`) instead of
 * rejecting at once.
 *
 * The permit is released when the call ends: a unary call when its handler settles, a streaming
 * call when its response stream ends. DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED from the handler
 * release as `dropped`, CANCELLED as `ignore`, everything else as `success`.
 */
export function createConcurrencyLimitInterceptor(limiter: ConcurrencyLimiter | Bulkhead): ServerInterceptor {
  const queueing = "acquire" in limiter && "queued" in limiter;
  return (next) => async (req) => {
    let permit: Permit | undefined;
    if (queueing) permit = await (limiter as Bulkhead).acquire(req.ctx.signal);
    else {
      permit = limiter.admit();
      if (permit === undefined) throw overloadError("server overloaded: concurrency limit reached", limiter.pushbackMs);
    }
    let res: ServerResponse;
    try {
      res = await next(req);
    } catch (e) {
      permit.release(outcomeOf(e));
      throw e;
    }
    if (!res.stream) {
      permit.release("success");
      return res;
    }
    return { stream: true, message: releaseAtEnd(res.message, permit) };
  };
}

/**
 * The client-side counterpart: at most `limiter.limit` calls of this client in flight (a
 * bulkhead with a queue waits). Rejections are the same RESOURCE_EXHAUSTED, raised locally.
 */
export function createConcurrencyLimitClientInterceptor(limiter: ConcurrencyLimiter | Bulkhead): Interceptor {
  const queueing = "acquire" in limiter && "queued" in limiter;
  return (next) => async (req) => {
    let permit: Permit | undefined;
    if (queueing) permit = await (limiter as Bulkhead).acquire(req.signal);
    else {
      permit = limiter.admit();
      if (permit === undefined) throw overloadError("client concurrency limit reached", limiter.pushbackMs);
    }
    try {
      const res = await next(req);
      if (!res.stream) {
        permit.release("success");
        return res;
      }
      return { ...res, message: releaseAtEnd(res.message, permit) };
    } catch (e) {
      permit.release(outcomeOf(e));
      throw e;
    }
  };
}

/** The permit outcome of a failed call. @internal */
export function outcomeOf(e: unknown): PermitOutcome {
  const code = e instanceof RpcError ? e.code : Code.UNKNOWN;
  if (code === Code.CANCELLED) return "ignore";
  if (code === Code.DEADLINE_EXCEEDED || code === Code.RESOURCE_EXHAUSTED) return "dropped";
  return "success";
}

async function* releaseAtEnd<T>(it: AsyncIterable<T>, permit: Permit): AsyncGenerator<T> {
  let outcome: PermitOutcome = "ignore";
  try {
    for await (const m of it) yield m;
    outcome = "success";
  } catch (e) {
    outcome = outcomeOf(e);
    throw e;
  } finally {
    permit.release(outcome);
  }
}
