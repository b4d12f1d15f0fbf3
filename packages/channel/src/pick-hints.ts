import type { StreamRequest, UnaryRequest } from "@petrel/core";
import type { Endpoint } from "@petrel/discovery";

/**
 * Request header naming endpoint ids (comma-separated) the channel should not pick for this
 * attempt, e.g. the one a retry interceptor saw fail. Best effort: when only avoided endpoints
 * are ready, one of them is used. The channel removes the header before sending.
 */
export const AVOID_HEADER = "x-petrel-avoid";

/** Request header `1`/`true` = queue this call while every endpoint is in TRANSIENT_FAILURE (gRPC's wait-for-ready). Removed before sending. */
export const WAIT_FOR_READY_HEADER = "x-petrel-wait-for-ready";

type AnyReq = UnaryRequest | StreamRequest;

const picked = new WeakMap<object, Endpoint>();
const avoided = new WeakMap<object, ReadonlySet<string>>();

/**
 * The endpoint the channel sent `req` to (its latest attempt), or undefined. Interceptors read it
 * after `next(req)` settles (also when it threw) to prefer another endpoint on a retry.
 */
export function pickedEndpoint(req: object): Endpoint | undefined {
  return picked.get(req);
}

/** Asks the channel not to pick these endpoint ids for `req` (same effect as `x-petrel-avoid`). */
export function avoidEndpoints(req: object, ids: Iterable<string>): void {
  avoided.set(req, new Set(ids));
}

/** @internal */
export function notePicked(req: object, endpoint: Endpoint): void {
  picked.set(req, endpoint);
}

/** @internal The avoid set of a call (WeakMap hint and header merged); strips the header. */
export function takeAvoid(req: AnyReq): ReadonlySet<string> | undefined {
  let set = avoided.get(req);
  const h = req.header.getString(AVOID_HEADER);
  if (h !== undefined) {
    req.header.delete(AVOID_HEADER);
    const s = new Set(set);
    for (const id of h.split(",")) if (id.trim() !== "") s.add(id.trim());
    set = s;
  }
  return set;
}

/** @internal Whether the call asked for wait-for-ready; strips the header. */
export function takeWaitForReady(req: AnyReq): boolean {
  const h = req.header.getString(WAIT_FOR_READY_HEADER);
  if (h === undefined) return false;
  req.header.delete(WAIT_FOR_READY_HEADER);
  return h === "1" || h.toLowerCase() === "true";
}
