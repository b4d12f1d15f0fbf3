import { Code, type HandlerContext } from "@petrel/core";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type KeyObject,
  jwtVerify,
  type CryptoKey,
} from "jose";
import type { JwtAuth } from "./auth-info.js";
import { type AuthResult, type AuthScheme, type CredentialSummary, fail, isTokenChars } from "./auth-scheme.js";

/** Signature algorithms accepted when `algorithms` is not given: asymmetric only, never `none` or HMAC. */
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];

/** Options of {@link createJwtScheme} (and `authenticate({ jwt })`). Exactly one key source is required. */
export interface JwtOptions {
  /**
   * URL of a JSON Web Key Set (e.g. `https://issuer/.well-known/jwks.json`). Keys are cached;
   * a token with an unknown `kid` refetches the set (at most once per `jwksCooldownMs`), which is
   * how key rotation is picked up. Must be `https:` unless the host is a loopback address.
   */
  jwksUrl?: string | URL;
  /** A local JSON Web Key Set `{ keys: [...] }`. */
  jwks?: JSONWebKeySet;
  /** One verification key: a public key (CryptoKey, KeyObject, JWK) or an HMAC secret (Uint8Array). */
  key?: CryptoKey | KeyObject | JWK | Uint8Array;
  /** Accepted `iss` value(s). Required: a token from another issuer must not pass. */
  issuer: string | readonly string[];
  /** Accepted `aud` value(s). Required: a token minted for another service must not pass. */
  audience: string | readonly string[];
  /**
   * Allowed signature algorithms. Default {@link DEFAULT_JWT_ALGORITHMS} (asymmetric only); an
   * HMAC `key` needs `HS256`/`HS384`/`HS512` listed explicitly.
   */
  algorithms?: readonly string[];
  /** Tolerated clock skew for `exp`/`nbf`/`iat`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /** Claims that must be present besides `exp`. Default none. */
  requiredClaims?: readonly string[];
  /** Whether tokens without `exp` are refused. Default true (a token without expiry is valid forever). */
  requireExpiry?: boolean;
  /** Refuse tokens whose `iat` is older than this many seconds. Default: no limit. */
  maxTokenAgeSec?: number;
  /** Required `typ` header (e.g. `at+jwt`). Default: not checked. */
  typ?: string;
  /** Dotted path of the claim holding the caller's roles (e.g. `realm_access.roles`). Default `roles`. */
  rolesClaim?: string;
  /** How long fetched keys are trusted before a refetch, ms. Default 600000 (10 min). */
  jwksCacheMaxAgeMs?: number;
  /** Least time between two fetches triggered by unknown `kid`s, ms. Default 30000. */
  jwksCooldownMs?: number;
  /** Timeout of one JWKS fetch, ms. Default 5000. */
  jwksTimeoutMs?: number;
  /** Extra headers for the JWKS request. */
  jwksHeaders?: Record<string, string>;
  /** Longer tokens are refused before parsing. Default 8192 characters. */
  maxTokenLength?: number;
  /** The current time in epoch ms (for tests). Default `Date.now`. */
  clock?: () => number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Checks {@link JwtOptions} and fills in defaults. @internal */
export function validateJwtOptions(o: JwtOptions) {
  if (typeof o !== "object" || o === null) throw new TypeError("jwt: options must be an object");
  const sources = [o.jwksUrl, o.jwks, o.key].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new TypeError("jwt: give exactly one of jwksUrl, jwks or key");
  const nonEmpty = (v: unknown, name: string): string[] => {
    const list = typeof v === "string" ? [v] : Array.isArray(v) ? [...v] : [];
    if (list.length === 0 || list.some((s) => typeof s !== "string" || s === "")) {
      throw new TypeError(`jwt: ${name} must be a non-empty string or list of strings`);
    }
    return list;
  };
  const issuer = nonEmpty(o.issuer, "issuer");
  const audience = nonEmpty(o.audience, "audience");
  const algorithms = o.algorithms === undefined ? [...DEFAULT_JWT_ALGORITHMS] : nonEmpty(o.algorithms, "algorithms");
  if (algorithms.some((a) => a.toLowerCase() === "none")) throw new TypeError('jwt: algorithm "none" is never allowed');
  if (o.key instanceof Uint8Array) {
    if (o.key.length < 32) throw new TypeError("jwt: an HMAC secret must be at least 32 bytes");
    if (!algorithms.every((a) => /^HS(256|384|512)$/.test(a))) {
      throw new TypeError("jwt: an HMAC secret key needs algorithms limited to HS256/HS384/HS512");
    }
  }
  const num = (v: number | undefined, def: number, name: string, min = 0): number => {
    if (v === undefined) return def;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) throw new TypeError(`jwt: ${name} must be a number >= ${min}`);
    return v;
  };
  let getKey: JWTVerifyGetKey | CryptoKey | KeyObject | JWK | Uint8Array;
  let remote = false;
  if (o.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(String(o.jwksUrl));
    } catch {
      throw new TypeError("jwt: jwksUrl is not a valid URL");
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
      throw new TypeError("jwt: jwksUrl must use https: (plain http: only for loopback hosts)");
    }
    getKey = createRemoteJWKSet(url, {
      cacheMaxAge: num(o.jwksCacheMaxAgeMs, 600_000, "jwksCacheMaxAgeMs"),
      cooldownDuration: num(o.jwksCooldownMs, 30_000, "jwksCooldownMs"),
      timeoutDuration: Math.round(num(o.jwksTimeoutMs, 5_000, "jwksTimeoutMs", 1)),
      headers: o.jwksHeaders,
    });
    remote = true;
  } else if (o.jwks !== undefined) {
    if (typeof o.jwks !== "object" || o.jwks === null || !Array.isArray(o.jwks.keys))
      throw new TypeError("jwt: jwks must be { keys: [...] }");
    getKey = createLocalJWKSet(o.jwks);
  } else {
    getKey = o.key as CryptoKey | KeyObject | JWK | Uint8Array;
  }
  const requiredClaims = [...(o.requiredClaims ?? [])];
  if (o.requireExpiry !== false && !requiredClaims.includes("exp")) requiredClaims.push("exp");
  const clock = o.clock ?? Date.now;
  if (typeof clock !== "function") throw new TypeError("jwt: clock must be a function");
  return {
    getKey,
    remote,
    verify: {
      issuer,
      audience,
      algorithms,
      clockTolerance: num(o.clockToleranceSec, 30, "clockToleranceSec"),
      requiredClaims,
      maxTokenAge: o.maxTokenAgeSec === undefined ? undefined : num(o.maxTokenAgeSec, 0, "maxTokenAgeSec"),
      typ: o.typ,
    } satisfies JWTVerifyOptions,
    rolesClaim: o.rolesClaim ?? "roles",
    maxTokenLength: num(o.maxTokenLength, 8192, "maxTokenLength", 1),
    clock,
  };
}

/** Reads a dotted claim path (`realm_access.roles`) as a list of strings. @internal */
export function claimStrings(claims: Record<string, unknown>, path: string): string[] {
  let v: unknown = claims;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return [];
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === "string") return v.split(" ").filter((s) => s !== "");
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === "string");
  return [];
}

/** The bearer token of a call: undefined without an `authorization: Bearer …` header, "" when malformed. */
function bearerOf(ctx: HandlerContext): string | undefined {
  const values = ctx.requestHeader.getAll("authorization");
  let token: string | undefined;
  for (const v of values) {
    if (typeof v !== "string" || !/^bearer(\s|$)/i.test(v)) continue;
    // Two bearer tokens are ambiguous: refuse rather than pick one.
    if (token !== undefined) return "";
    token = v.slice(6).trim();
  }
  return token;
}

/** Header fields that are safe to report: `alg`, and `kid` when it looks like an identifier. */
function summarize(token: string): CredentialSummary {
  try {
    const h = decodeProtectedHeader(token);
    const alg = typeof h.alg === "string" && /^[A-Za-z0-9]{1,16}$/.test(h.alg) ? h.alg : undefined;
    const kid = typeof h.kid === "string" && /^[\w.:-]{1,64}$/.test(h.kid) ? h.kid : undefined;
    return { scheme: "jwt", length: token.length, alg, kid };
  } catch {
    return { scheme: "jwt", length: token.length };
  }
}

/** Maps a jose failure to a generic message and a reason; never looks at the token. */
function classify(e: unknown, remote: boolean): { code: Code; message: string; reason: string } {
  const invalid = (reason: string) => ({ code: Code.UNAUTHENTICATED, message: "invalid token", reason });
  const unavailable = { code: Code.UNAVAILABLE, message: "authentication temporarily unavailable", reason: "jwks_unavailable" };
  if (e instanceof errors.JWTExpired) return { code: Code.UNAUTHENTICATED, message: "token expired", reason: "expired" };
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf") return { code: Code.UNAUTHENTICATED, message: "token not yet valid", reason: "not_yet_valid" };
    return invalid(`claim:${e.claim}`);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return invalid("bad_signature");
  if (e instanceof errors.JOSEAlgNotAllowed) return invalid("alg_not_allowed");
  if (e instanceof errors.JWKSNoMatchingKey) return invalid("unknown_key");
  if (e instanceof errors.JWKSMultipleMatchingKeys) return invalid("ambiguous_key");
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return invalid("malformed");
  if (e instanceof errors.JOSENotSupported) return invalid("unsupported");
  // The JWKS endpoint failed (timeout, non-200, not a key set, network): not the caller's fault.
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) return unavailable;
  if (e instanceof errors.JOSEError) return e.code === "ERR_JOSE_GENERIC" && remote ? unavailable : invalid("invalid");
  return remote ? unavailable : invalid("invalid");
}

/**
 * Bearer JWT authentication with jose: the token from `authorization: Bearer <jwt>`, checked
 * against the key source, issuer, audience, algorithm allow-list and time claims (with skew
 * tolerance). Errors say only "invalid token", "token expired" or "token not yet valid".
 */
export function createJwtScheme(options: JwtOptions): AuthScheme {
  const o = validateJwtOptions(options);
  return {
    name: "jwt",
    authenticate(ctx) {
      const token = bearerOf(ctx);
      if (token === undefined) return undefined;
      return verify(token);
    },
  };
  async function verify(token: string): Promise<AuthResult> {
    if (token === "" || token.length > o.maxTokenLength || !isTokenChars(token)) {
      return fail(Code.UNAUTHENTICATED, "invalid token", "malformed", { scheme: "jwt", length: token.length });
    }
    const credential = summarize(token);
    try {
      const r = await jwtVerify(token, o.getKey as JWTVerifyGetKey, {
        ...o.verify,
        algorithms: o.verify.algorithms,
        currentDate: new Date(o.clock()),
      });
      const claims = r.payload as Record<string, unknown>;
      const scopes = claims.scope !== undefined ? claimStrings(claims, "scope") : claimStrings(claims, "scp");
      const info: JwtAuth = {
        kind: "jwt",
        subject: typeof claims.sub === "string" ? claims.sub : "",
        roles: claimStrings(claims, o.rolesClaim),
        scopes,
        claims,
        header: { alg: r.protectedHeader.alg, kid: r.protectedHeader.kid },
      };
      return { ok: true, info, credential };
    } catch (e) {
      const c = classify(e, o.remote);
      return fail(c.code, c.message, c.reason, credential);
    }
  }
}
