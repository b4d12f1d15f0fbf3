// Which headers an access log must not show. Header names are dynamic (`*-token`), so pino's
// own `redact` (fixed paths) cannot express this; the access log redacts before pino sees a value.

/** What replaces a redacted value. */
export const REDACTED = "[REDACTED]";

/**
 * Headers redacted by default: credentials and session state. A string matches a header name
 * case-insensitively, `*` matching any run of characters; a RegExp is tested against the
 * lower-case name.
 */
export const DEFAULT_REDACTED_HEADERS: readonly (string | RegExp)[] = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "api-key",
  "*-token",
  "*-secret",
  "*-password",
];

/** A compiled redaction list: `matches(name)` says whether a header's value must be hidden. */
export interface HeaderRedactor {
  matches(name: string): boolean;
  /** Replaces every occurrence of each secret in `text` (e.g. an error message that echoes a header). */
  scrub(text: string, secrets: readonly string[]): string;
}

/** Compiles a list of names, `*` globs and RegExps. Throws a TypeError on an entry of another type. */
export function createHeaderRedactor(patterns: readonly (string | RegExp)[]): HeaderRedactor {
  const exact = new Set<string>();
  const res: RegExp[] = [];
  for (const p of patterns) {
    if (p instanceof RegExp) res.push(p);
    else if (typeof p === "string") {
      const name = p.toLowerCase();
      if (!name.includes("*")) exact.add(name);
      else res.push(new RegExp(`^${name.split("*").map(escapeRegExp).join(".*")}$`));
    } else throw new TypeError(`redact: expected header names or RegExps, got ${typeof p}`);
  }
  const cache = new Map<string, boolean>();
  return {
    matches(name) {
      const n = name.toLowerCase();
      let hit = cache.get(n);
      if (hit === undefined) {
        hit = exact.has(n) || res.some((r) => r.test(n));
        // Header names repeat: remember answers, within reason (names come from peers).
        if (cache.size < 1024) cache.set(n, hit);
      }
      return hit;
    },
    scrub(text, secrets) {
      let out = text;
      // Very short values would replace innocent substrings; they also carry little secret.
      for (const s of secrets) if (s.length >= 4) out = out.split(s).join(REDACTED);
      return out;
    },
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
