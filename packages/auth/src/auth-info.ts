import { Code, type HandlerContext, RpcError } from "@petrel/core";

/** Fields every authenticated identity has, whatever the scheme. */
interface AuthCommon {
  /** Who the caller is: the JWT `sub`, the API key's subject, the certificate's CN (by default). */
  readonly subject: string;
  /** Roles the scheme found (JWT: the `rolesClaim` claim; API key: from the key store). */
  readonly roles: readonly string[];
  /** OAuth-style scopes (JWT: `scope` / `scp`; API key: from the key store). */
  readonly scopes: readonly string[];
}

/** A caller authenticated by a verified bearer JWT. */
export interface JwtAuth extends AuthCommon {
  readonly kind: "jwt";
  /** The verified claims set. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The protected header's `alg` and `kid`. */
  readonly header: { readonly alg: string; readonly kid: string | undefined };
}

/** A caller authenticated by an API key. The key itself is never kept. */
export interface ApiKeyAuth extends AuthCommon {
  readonly kind: "apiKey";
}

/** Subject alternative names of a client certificate, by type. */
export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly uri: readonly string[];
  readonly ip: readonly string[];
  readonly email: readonly string[];
}

/** A caller authenticated by its TLS client certificate. */
export interface MtlsAuth extends AuthCommon {
  readonly kind: "mtls";
  /** The certificate's subject fields (e.g. `CN`, `O`). */
  readonly certificateSubject: Readonly<Record<string, string | string[] | undefined>>;
  readonly subjectAltNames: SubjectAltNames;
  /** SHA-256 fingerprint of the certificate (`AA:BB:…`). */
  readonly fingerprint256: string | undefined;
}

/** A caller authenticated by a custom {@link AuthScheme}. */
export interface CustomAuth extends AuthCommon {
  readonly kind: `custom:${string}`;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/** What `getAuth(ctx)` returns for an authenticated call. */
export type AuthInfo = JwtAuth | ApiKeyAuth | MtlsAuth | CustomAuth;

// A WeakMap, not a field on the context: contexts are protocol-owned objects, and the entry
// disappears with the call.
const byContext = new WeakMap<HandlerContext, AuthInfo>();

/** The authenticated caller of this call, or undefined (no `authenticate` interceptor, or a public call without credentials). */
export function getAuth(ctx: HandlerContext): AuthInfo | undefined {
  return byContext.get(ctx);
}

/** Like {@link getAuth}, but throws UNAUTHENTICATED when the call is not authenticated. */
export function requireAuth(ctx: HandlerContext): AuthInfo {
  const a = byContext.get(ctx);
  if (a === undefined) throw new RpcError(Code.UNAUTHENTICATED, "missing credentials");
  return a;
}

/** Attaches an identity to a call. @internal used by `authenticate`; exported for custom interceptors and tests. */
export function setAuth(ctx: HandlerContext, info: AuthInfo): void {
  byContext.set(ctx, info);
}
