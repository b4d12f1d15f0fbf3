import { parseTarget } from "./target.js";
import type { Resolver, ResolverFactory, ResolverListener, ResolverOptions, ResolverTarget } from "./types.js";

/** The scheme table (grpc-go's resolver registry): one factory per URL scheme, last registration wins. */
const factories = new Map<string, ResolverFactory>();

/**
 * Registers a resolver factory for its `scheme` (case-insensitive), replacing any earlier one.
 * `static` and `dns` are registered when the package loads.
 */
export function registerResolver(factory: ResolverFactory): void {
  if (factory === null || typeof factory !== "object" || typeof factory.build !== "function") {
    throw new TypeError("registerResolver: expected a ResolverFactory { scheme, build }");
  }
  if (typeof factory.scheme !== "string" || !/^[a-z][a-z0-9+.-]*$/i.test(factory.scheme)) {
    throw new TypeError(`registerResolver: invalid scheme ${JSON.stringify(factory.scheme)}`);
  }
  factories.set(factory.scheme.toLowerCase(), factory);
}

/** The factory registered for `scheme`, or undefined. */
export function getResolver(scheme: string): ResolverFactory | undefined {
  return factories.get(scheme.toLowerCase());
}

/** Schemes with a registered factory, sorted. */
export function registeredSchemes(): string[] {
  return [...factories.keys()].sort();
}

/**
 * Starts resolving `target` (a string is parsed with `parseTarget`) with the factory registered
 * for its scheme. Throws a TypeError for a bad target and an Error for an unknown scheme.
 */
export function resolve(target: string | ResolverTarget, listener: ResolverListener, options?: ResolverOptions): Resolver {
  const t = typeof target === "string" ? parseTarget(target) : target;
  const factory = getResolver(t.scheme);
  if (factory === undefined) {
    throw new Error(`no resolver for scheme "${t.scheme}" in target "${t.raw}" (registered: ${registeredSchemes().join(", ") || "none"})`);
  }
  return factory.build(t, listener, options);
}
