/**
 * Method patterns: `/pkg.Service/Method` (exact), `/pkg.Service/*` (every method of a service)
 * or `*` (everything). The most specific match wins, so the order of rules does not matter.
 */
export type MethodPattern = string;

const EXACT = /^\/[^/\s*]+\/[^/\s*]+$/;
const SERVICE = /^\/[^/\s*]+\/\*$/;

/** Throws a TypeError for a malformed pattern. @internal */
export function validateMethodPattern(p: unknown, where: string): asserts p is MethodPattern {
  if (typeof p !== "string" || !(p === "*" || EXACT.test(p) || SERVICE.test(p))) {
    throw new TypeError(`${where}: method pattern must be "/pkg.Service/Method", "/pkg.Service/*" or "*", got ${JSON.stringify(p)}`);
  }
}

/** A lookup table of patterns to values; `match` returns the most specific entry. @internal */
export class MethodTable<V> {
  private readonly exact = new Map<string, V>();
  private readonly service = new Map<string, V>();
  private any: V | undefined = undefined;
  private hasAny = false;

  /** Adds a pattern; returns false when it was already there. */
  add(pattern: MethodPattern, v: V): boolean {
    if (pattern === "*") {
      if (this.hasAny) return false;
      this.any = v;
      this.hasAny = true;
      return true;
    }
    const map = pattern.endsWith("/*") ? this.service : this.exact;
    const key = pattern.endsWith("/*") ? pattern.slice(0, -1) : pattern;
    if (map.has(key)) return false;
    map.set(key, v);
    return true;
  }

  /** The entry for a method path `/pkg.Service/Method`, with the pattern that matched. */
  match(path: string): { pattern: string; value: V } | undefined {
    const e = this.exact.get(path);
    if (e !== undefined) return { pattern: path, value: e };
    const slash = path.lastIndexOf("/");
    const svc = this.service.get(path.slice(0, slash + 1));
    if (svc !== undefined) return { pattern: `${path.slice(0, slash + 1)}*`, value: svc };
    return this.hasAny ? { pattern: "*", value: this.any as V } : undefined;
  }
}
