import type { ResolverTarget } from "./types.js";
import { parseAddressList } from "./address.js";

const SCHEME = /^[a-z][a-z0-9+.-]*$/i;

/**
 * Parses a target: `scheme://authority/path` (e.g. `dns:///svc.local:50051`,
 * `petrel://127.0.0.1:7000/inventory`), or a bare `host:port[,host:port]`, which means
 * `static:///host:port[,host:port]`. The scheme is lower-cased. Throws a TypeError naming the
 * problem for anything else.
 */
export function parseTarget(raw: string): ResolverTarget {
  if (typeof raw !== "string") throw new TypeError(`invalid target: expected a string, got ${typeof raw}`);
  const s = raw.trim();
  if (s === "") throw new TypeError("invalid target: empty");
  const sep = s.indexOf("://");
  if (sep < 0) {
    try {
      parseAddressList(s);
    } catch (e) {
      throw new TypeError(
        `invalid target "${raw}": expected "scheme://authority/path" or "host:port[,host:port]" (${(e as Error).message})`,
      );
    }
    return { scheme: "static", authority: "", path: s, raw };
  }
  const scheme = s.slice(0, sep);
  if (!SCHEME.test(scheme)) throw new TypeError(`invalid target "${raw}": bad scheme "${scheme}"`);
  const rest = s.slice(sep + 3);
  const slash = rest.indexOf("/");
  if (slash < 0) throw new TypeError(`invalid target "${raw}": missing "/path" after the authority`);
  const authority = rest.slice(0, slash);
  const path = rest.slice(slash + 1);
  if (path === "") throw new TypeError(`invalid target "${raw}": empty path`);
  return { scheme: scheme.toLowerCase(), authority, path, raw };
}
