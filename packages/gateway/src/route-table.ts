// Finds the route for a request: by path template first, then by HTTP method, so a known path
// with the wrong method can be told apart (405 with Allow) from an unknown one (404).
import type { Route } from "./http-rules.js";
import { matchPathTemplate, type PathBindings, type TemplateSegment } from "./path-template.js";

/** The outcome of a lookup. */
export type RouteMatch =
  | { t: "found"; route: Route; bindings: PathBindings }
  | { t: "method"; allow: string[] }
  | { t: "none" }
  | { t: "badescape" };

function rank(s: TemplateSegment | undefined): number {
  if (s === undefined) return 3;
  return s.t === "literal" ? 0 : s.t === "any" ? 1 : 2;
}

/**
 * Envoy-like precedence: segment by segment a literal beats `*`, which beats `**`; then the
 * longer template. Ties keep declaration order (the sort is stable).
 */
function compareRoutes(a: Route, b: Route): number {
  const sa = a.template.segments;
  const sb = b.template.segments;
  const n = Math.max(sa.length, sb.length);
  for (let i = 0; i < n; i++) {
    const d = rank(sa[i]) - rank(sb[i]);
    if (d !== 0) return d;
  }
  return 0;
}

/** An immutable lookup table over routes. */
export class RouteTable {
  /** Routes with a custom verb, tried first: `/x/{id}:cancel` must not be read as id `y:cancel`. */
  private readonly verbRoutes: Route[];
  private readonly plainRoutes: Route[];

  constructor(routes: readonly Route[]) {
    const sorted = [...routes].sort(compareRoutes);
    this.verbRoutes = sorted.filter((r) => r.template.verb !== undefined);
    this.plainRoutes = sorted.filter((r) => r.template.verb === undefined);
  }

  /** Every route, verb routes first. */
  all(): Route[] {
    return [...this.verbRoutes, ...this.plainRoutes];
  }

  /** Looks up `httpMethod` (upper case) and `path` (no query string). */
  find(httpMethod: string, path: string): RouteMatch {
    for (const group of [this.verbRoutes, this.plainRoutes]) {
      let allow: string[] | undefined;
      for (const route of group) {
        const m = matchPathTemplate(route.template, path);
        if (m.t === "badescape") return m;
        if (m.t !== "match") continue;
        if (route.httpMethod === httpMethod) return { t: "found", route, bindings: m.bindings };
        allow ??= [];
        if (!allow.includes(route.httpMethod)) allow.push(route.httpMethod);
      }
      if (allow !== undefined) return { t: "method", allow };
    }
    return { t: "none" };
  }
}
