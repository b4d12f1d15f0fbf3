/**
 * What retries and hedging read from a failed attempt, and what they tell the layers below.
 *
 * Transports mark errors with well-known `Symbol.for` keys, so a transport package can set them
 * without depending on @petrel/resilience (and marks survive two copies of the package):
 *
 * - `Symbol.for("petrel.rpc.unprocessed")` = true: the server application never saw the call
 *   (the request never left the client, HTTP/2 REFUSED_STREAM, a GOAWAY whose last-stream-id is
 *   below the stream, a petrel/1 connection that closed before the request frame was written or
 *   acknowledged). Such a call is retried transparently — regardless of the retry policy, without
 *   spending maxAttempts or throttle tokens — up to `maxTransparentRetries` times (A6 retries case
 *   2 once; Petrel treats case 1 the same way because it cannot tell them apart across transports).
 * - `Symbol.for("petrel.rpc.committed")` = true: response headers had arrived before the call
 *   failed (a unary call whose server sent headers, then failed). A6: a committed call is never
 *   retried, because the caller may already have acted on those headers. Transports that deliver
 *   errors in a Trailers-Only form (no headers before the status) leave it unset.
 *
 * Server pushback travels in the error's metadata (trailers) under `grpc-retry-pushback-ms`
 * on every protocol. Note: the gRPC transport treats `grpc-*` keys as reserved and must surface
 * this one key from trailers into `RpcError.metadata` for pushback to work over gRPC.
 */
import { type AnyRequest, Metadata } from "@petrel/core";

/** Mark: the server application never saw this call. */
export const UNPROCESSED = Symbol.for("petrel.rpc.unprocessed");
/** Mark: response headers were received before the call failed. */
export const COMMITTED = Symbol.for("petrel.rpc.committed");
/** The A6 pushback metadata key, used on every protocol. */
export const PUSHBACK_KEY = "grpc-retry-pushback-ms";
/** A6 header telling the server how many attempts preceded this one (absent on the first). */
export const PREVIOUS_ATTEMPTS_KEY = "grpc-previous-rpc-attempts";

/** Sets a mark on an error (any object) and returns it. For transports and tests. */
export function markError<E extends object>(err: E, mark: typeof UNPROCESSED | typeof COMMITTED): E {
  (err as Record<symbol, unknown>)[mark] = true;
  return err;
}

/** Whether an error carries a mark. */
export function hasMark(err: unknown, mark: typeof UNPROCESSED | typeof COMMITTED): boolean {
  return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[mark] === true;
}

/** Server pushback: none, wait `ms` before the next attempt, or do not retry at all. */
export type Pushback = { t: "none" } | { t: "delay"; ms: number } | { t: "stop" };

const NONE: Pushback = { t: "none" };
const STOP: Pushback = { t: "stop" };

/**
 * Reads `grpc-retry-pushback-ms` from an error's metadata. A6: a signed 32-bit decimal integer;
 * negative or unparsable means "do not retry". The first value wins if the key repeats.
 */
export function readPushback(err: unknown): Pushback {
  const md = (err as { metadata?: { getString?(k: string): string | undefined } } | null)?.metadata;
  const v = typeof md?.getString === "function" ? md.getString(PUSHBACK_KEY) : undefined;
  if (v === undefined) return NONE;
  const s = v.trim();
  if (!/^-?\d{1,10}$/.test(s)) return STOP;
  const n = Number(s);
  if (n < 0 || n > 0x7fff_ffff) return STOP;
  return { t: "delay", ms: n };
}

/**
 * What one attempt of a retried or hedged call knows about the call, for the balancer: pick an
 * endpoint not in `previousEndpoints` when there is one. Shared by all attempts of one call, so a
 * transport's {@link noteAttemptEndpoint} is visible to the next attempt.
 */
export interface AttemptInfo {
  /** 1 for the first attempt, 2 for the first retry or hedge, … (transparent retries included). */
  readonly attempt: number;
  /** Whether this attempt is a transparent retry. */
  readonly transparent: boolean;
  /** Endpoints earlier attempts of this call used, in order (filled by transports/balancers). */
  readonly previousEndpoints: string[];
}

// A WeakMap keyed by the per-attempt request object: nothing leaks into the wire, and the hint
// dies with the request.
const attempts = new WeakMap<object, AttemptInfo>();

/** The attempt hint of a request sent by a retry (attempt 2 on) or hedging interceptor. */
export function attemptInfo(req: AnyRequest): AttemptInfo | undefined {
  return attempts.get(req);
}

/**
 * Records the endpoint an attempt went to, so later attempts of the call can avoid it. A retried
 * call's first attempt is the caller's own request, with no hint (nothing to pay for on the happy
 * path): where it went reaches the retry through the error instead (core's `setErrorEndpoint`,
 * set by the channel).
 */
export function noteAttemptEndpoint(req: AnyRequest, endpoint: string): void {
  attemptInfo(req)?.previousEndpoints.push(endpoint);
}

/**
 * A copy of `req` for one attempt: its own header (downstream interceptors may change it), the
 * given signal (hedging: one per attempt; retries: the caller's), and the attempt hint. `grpc-previous-rpc-attempts` is set from the second attempt on.
 * @internal
 */
export function attemptRequest<R extends AnyRequest>(
  req: R,
  signal: AbortSignal | undefined,
  info: AttemptInfo,
  message: R["message"] = req.message,
  header: Metadata = new Metadata(req.header),
): R {
  if (info.attempt > 1) header.set(PREVIOUS_ATTEMPTS_KEY, String(info.attempt - 1));
  const copy = { ...req, header, signal, message } as R;
  attempts.set(copy, info);
  return copy;
}
