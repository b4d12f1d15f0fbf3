import { Code, type HandlerContext, isValidMetadataPair } from "@petrel/core";
import type { ApiKeyAuth } from "./auth-info.js";
import { type AuthResult, type AuthScheme, fail, isTokenChars } from "./auth-scheme.js";

/** Who an API key belongs to. */
export interface ApiKeyIdentity {
  readonly subject: string;
  readonly roles?: readonly string[];
  readonly scopes?: readonly string[];
}

/** A statically configured key. */
export interface StaticApiKey extends ApiKeyIdentity {
  /** The secret key (printable ASCII, no spaces). */
  readonly key: string;
}

/** Options of {@link createApiKeyScheme} (and `authenticate({ apiKey })`). Give `keys`, `lookup`, or both (keys first). */
export interface ApiKeyOptions {
  /** Request header carrying the key. Default `x-api-key`. */
  header?: string;
  /** Static keys, compared in constant time (by SHA-256 digest, against every key). */
  keys?: readonly StaticApiKey[];
  /**
   * A key store: the identity of a key, or undefined for an unknown key. It should compare keys
   * in constant time itself (e.g. look up a hash). A throwing store fails the call UNAVAILABLE.
   */
  lookup?: (key: string, ctx: HandlerContext) => ApiKeyIdentity | undefined | Promise<ApiKeyIdentity | undefined>;
  /** Longer keys are refused without a lookup. Default 1024 characters. */
  maxKeyLength?: number;
}

const encoder = new TextEncoder();

async function sha256(s: string): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", encoder.encode(s)));
}

/**
 * API key authentication from a request header. Static keys are matched by comparing SHA-256
 * digests byte by byte against every configured key, so timing reveals neither which key nor
 * how much of one matched.
 */
export function createApiKeyScheme(options: ApiKeyOptions): AuthScheme {
  if (typeof options !== "object" || options === null) throw new TypeError("apiKey: options must be an object");
  const header = (options.header ?? "x-api-key").toLowerCase();
  if (!isValidMetadataPair(header, "x") || header.endsWith("-bin"))
    throw new TypeError("apiKey: header must be a valid ASCII metadata key");
  const keys = options.keys ?? [];
  if (!Array.isArray(keys)) throw new TypeError("apiKey: keys must be an array");
  if (keys.length === 0 && options.lookup === undefined) throw new TypeError("apiKey: give keys, lookup, or both");
  if (options.lookup !== undefined && typeof options.lookup !== "function") throw new TypeError("apiKey: lookup must be a function");
  const seen = new Set<string>();
  keys.forEach((k, i) => {
    // Messages name the index, never the key.
    if (typeof k?.key !== "string" || !isTokenChars(k.key))
      throw new TypeError(`apiKey: keys[${i}].key must be printable ASCII without spaces`);
    if (typeof k.subject !== "string" || k.subject === "") throw new TypeError(`apiKey: keys[${i}].subject must be a non-empty string`);
    if (seen.has(k.key)) throw new TypeError(`apiKey: keys[${i}] duplicates an earlier key`);
    seen.add(k.key);
  });
  const maxKeyLength = options.maxKeyLength ?? 1024;
  const digests = keys.length === 0 ? Promise.resolve([]) : Promise.all(keys.map((k) => sha256(k.key)));
  const lookup = options.lookup;

  async function staticMatch(key: string): Promise<StaticApiKey | undefined> {
    const d = await sha256(key);
    const all = await digests;
    let found = -1;
    for (let i = 0; i < all.length; i++) {
      const k = all[i] as Uint8Array;
      let diff = 0;
      for (let j = 0; j < 32; j++) diff |= (k[j] as number) ^ (d[j] as number);
      // No early exit: every key is compared whatever matched.
      found = diff === 0 ? i : found;
    }
    return found < 0 ? undefined : keys[found];
  }

  async function verify(key: string, ctx: HandlerContext): Promise<AuthResult> {
    const credential = { scheme: "apiKey", length: key.length };
    if (key === "" || key.length > maxKeyLength || !isTokenChars(key))
      return fail(Code.UNAUTHENTICATED, "invalid API key", "malformed", credential);
    let id: ApiKeyIdentity | undefined = keys.length > 0 ? await staticMatch(key) : undefined;
    if (id === undefined && lookup !== undefined) {
      try {
        id = await lookup(key, ctx);
      } catch {
        return fail(Code.UNAVAILABLE, "authentication temporarily unavailable", "key_store_failed", credential);
      }
    }
    if (id === undefined || typeof id.subject !== "string") return fail(Code.UNAUTHENTICATED, "invalid API key", "unknown_key", credential);
    const info: ApiKeyAuth = { kind: "apiKey", subject: id.subject, roles: [...(id.roles ?? [])], scopes: [...(id.scopes ?? [])] };
    return { ok: true, info, credential };
  }

  return {
    name: "apiKey",
    authenticate(ctx) {
      const values = ctx.requestHeader.getAll(header);
      if (values.length === 0) return undefined;
      // Two keys are ambiguous; refuse rather than pick one.
      const v = values.length === 1 && typeof values[0] === "string" ? values[0].trim() : "";
      return verify(v, ctx);
    },
  };
}
