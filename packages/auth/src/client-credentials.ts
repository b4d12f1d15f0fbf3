import { Code, type Interceptor, RpcError } from "@petrel/core";
import { decodeJwt } from "jose";
import { isTokenChars } from "./auth-scheme.js";

/** What a token source returns: the token, optionally with its expiry. */
export type TokenResult = string | { readonly token: string; readonly expiresAt?: number | Date };

/** Options of {@link bearerToken}. */
export interface BearerTokenOptions {
  /** Fetch a new token this long before the cached one expires, ms. Default 30000. */
  refreshBeforeMs?: number;
  /** The current time in epoch ms (for tests). Default `Date.now`. */
  clock?: () => number;
}

interface Cached {
  readonly token: string;
  /** Epoch ms; undefined: unknown, so not cached. */
  readonly expiresAt: number | undefined;
}

function expiryOf(r: TokenResult): Cached {
  if (typeof r === "string") {
    let exp: number | undefined;
    try {
      // Only to learn when to refresh: the server verifies the token, the client need not.
      const claims = decodeJwt(r);
      if (typeof claims.exp === "number") exp = claims.exp * 1000;
    } catch {
      exp = undefined;
    }
    return { token: r, expiresAt: exp };
  }
  const e = r.expiresAt;
  return { token: r.token, expiresAt: e instanceof Date ? e.getTime() : e };
}

/**
 * A client interceptor that sends `authorization: Bearer <token>`. `getToken` is a fixed token or
 * a (possibly async) source; its token is cached until shortly before expiry (`expiresAt`, or
 * the JWT's `exp`), concurrent calls share one fetch, and a call that fails UNAUTHENTICATED drops
 * the cached token. A token without a known expiry is fetched for every call. A failing source
 * fails the call UNAUTHENTICATED (the cause is kept locally, never sent).
 */
export function bearerToken(getToken: string | (() => TokenResult | Promise<TokenResult>), options: BearerTokenOptions = {}): Interceptor {
  const refreshBefore = options.refreshBeforeMs ?? 30_000;
  const clock = options.clock ?? Date.now;
  if (typeof refreshBefore !== "number" || !(refreshBefore >= 0)) throw new TypeError("bearerToken: refreshBeforeMs must be a number >= 0");
  if (typeof getToken === "string") {
    if (!isTokenChars(getToken)) throw new TypeError("bearerToken: the token must be printable ASCII without spaces");
    const value = `Bearer ${getToken}`;
    return (next) => (req) => {
      req.header.set("authorization", value);
      return next(req);
    };
  }
  if (typeof getToken !== "function") throw new TypeError("bearerToken: getToken must be a string or a function");
  let cached: Cached | undefined;
  let pending: Promise<Cached> | undefined;

  const fresh = (c: Cached | undefined): c is Cached =>
    c !== undefined && c.expiresAt !== undefined && clock() < c.expiresAt - refreshBefore;
  const fetchToken = (): Promise<Cached> => {
    if (pending === undefined) {
      const p = (async () => {
        let c: Cached;
        try {
          c = expiryOf(await getToken());
        } catch (e) {
          throw new RpcError(Code.UNAUTHENTICATED, "could not obtain a token", { cause: e });
        }
        if (typeof c.token !== "string" || !isTokenChars(c.token))
          throw new RpcError(Code.UNAUTHENTICATED, "the token source returned an invalid token");
        cached = c;
        return c;
      })();
      pending = p;
      const clear = () => {
        if (pending === p) pending = undefined;
      };
      p.then(clear, clear);
    }
    return pending;
  };

  return (next) => async (req) => {
    const c = fresh(cached) ? cached : await fetchToken();
    req.header.set("authorization", `Bearer ${c.token}`);
    try {
      return await next(req);
    } catch (e) {
      // The server refused this token (revoked, rotated keys): fetch a new one next time.
      if (e instanceof RpcError && e.code === Code.UNAUTHENTICATED && cached === c) cached = undefined;
      throw e;
    }
  };
}

/** A client interceptor that sends a fixed API key in `x-api-key` (or `options.header`). */
export function apiKey(key: string, options: { header?: string } = {}): Interceptor {
  if (typeof key !== "string" || !isTokenChars(key)) throw new TypeError("apiKey: the key must be printable ASCII without spaces");
  const header = (options.header ?? "x-api-key").toLowerCase();
  if (!/^[0-9a-z_.-]+$/.test(header) || header.endsWith("-bin")) throw new TypeError("apiKey: header must be a valid ASCII metadata key");
  return (next) => (req) => {
    req.header.set(header, key);
    return next(req);
  };
}
