import { Code, type HandlerContext, methodPath, RpcError, type ServerInterceptor } from "@petrel/core";
import { setAuth } from "./auth-info.js";
import { type AuthEvent, type AuthScheme, emitAuthEvent } from "./auth-scheme.js";
import { type ApiKeyOptions, createApiKeyScheme } from "./api-key-scheme.js";
import { createJwtScheme, type JwtOptions } from "./jwt-scheme.js";
import { MethodTable, type MethodPattern, validateMethodPattern } from "./method-pattern.js";
import { createMtlsScheme, type MtlsOptions } from "./mtls-scheme.js";

/** Options of {@link authenticate}. At least one scheme is required. */
export interface AuthenticateOptions {
  /** Bearer JWT (`authorization: Bearer …`). Tried first. */
  jwt?: JwtOptions;
  /** API keys (`x-api-key` or a configured header). Tried second. */
  apiKey?: ApiKeyOptions;
  /** TLS client certificate identity; `true` for the defaults. Tried third. */
  mtls?: MtlsOptions | true;
  /** More schemes (e.g. a shared `createJwtScheme(...)`), tried after the built-in ones, in order. */
  schemes?: readonly AuthScheme[];
  /**
   * Let calls without any credentials through unauthenticated, so that `authorize` decides
   * (UNAUTHENTICATED for non-public methods). Bad credentials are refused either way. Default false.
   */
  optional?: boolean;
  /** Methods callable without credentials (patterns as in `authorize`). Default none. */
  public?: readonly MethodPattern[];
  /** Audit hook: sees every outcome, with the credential redacted. Must not throw (errors are ignored). */
  onAuthEvent?: (event: AuthEvent) => void;
}

/**
 * A server interceptor that authenticates every call, on every protocol. Schemes are tried in
 * order (jwt, apiKey, mtls, then `schemes`); the first one that finds credentials decides, and
 * a bad credential is UNAUTHENTICATED (UNAVAILABLE when the key source is down) even on a public
 * method. No credentials: UNAUTHENTICATED unless the method is public or `optional` is set.
 * Handlers read the identity with `getAuth(ctx)`. Error messages are generic and never contain
 * the credential.
 */
export function authenticate(options: AuthenticateOptions): ServerInterceptor {
  if (typeof options !== "object" || options === null) throw new TypeError("authenticate: options must be an object");
  const schemes: AuthScheme[] = [];
  if (options.jwt !== undefined) schemes.push(createJwtScheme(options.jwt));
  if (options.apiKey !== undefined) schemes.push(createApiKeyScheme(options.apiKey));
  if (options.mtls !== undefined) schemes.push(createMtlsScheme(options.mtls === true ? {} : options.mtls));
  for (const s of options.schemes ?? []) {
    if (typeof s?.authenticate !== "function" || typeof s.name !== "string")
      throw new TypeError("authenticate: schemes must be AuthScheme objects");
    schemes.push(s);
  }
  if (schemes.length === 0) throw new TypeError("authenticate: configure at least one of jwt, apiKey, mtls or schemes");
  const publicTable = new MethodTable<true>();
  for (const p of options.public ?? []) {
    validateMethodPattern(p, "authenticate: public");
    publicTable.add(p, true);
  }
  const optional = options.optional === true;
  const hook = options.onAuthEvent;

  async function check(ctx: HandlerContext, path: string): Promise<void> {
    for (const scheme of schemes) {
      const pending = scheme.authenticate(ctx);
      if (pending === undefined) continue;
      let r: Awaited<typeof pending>;
      try {
        r = await pending;
      } catch {
        // A custom scheme threw: treat as an outage, never echo its message (it may hold the credential).
        r = {
          ok: false,
          code: Code.UNAVAILABLE,
          message: "authentication temporarily unavailable",
          reason: "scheme_failed",
          credential: { scheme: scheme.name },
        };
      }
      if (r.ok) {
        setAuth(ctx, r.info);
        emitAuthEvent(hook, {
          type: "authenticated",
          method: path,
          peer: ctx.peer.address,
          scheme: scheme.name,
          subject: r.info.subject,
          credential: r.credential,
        });
        return;
      }
      emitAuthEvent(hook, {
        type: "rejected",
        method: path,
        peer: ctx.peer.address,
        scheme: scheme.name,
        code: r.code,
        reason: r.reason,
        credential: r.credential,
      });
      throw new RpcError(r.code, r.message);
    }
    if (optional || publicTable.match(path) !== undefined) return;
    emitAuthEvent(hook, {
      type: "rejected",
      method: path,
      peer: ctx.peer.address,
      scheme: undefined,
      code: Code.UNAUTHENTICATED,
      reason: "missing",
      credential: undefined,
    });
    throw new RpcError(Code.UNAUTHENTICATED, "missing credentials");
  }

  return (next) => async (req) => {
    await check(req.ctx, methodPath(req.method));
    return next(req);
  };
}
