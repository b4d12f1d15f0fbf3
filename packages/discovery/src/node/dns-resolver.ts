// The Node.js part of the DNS resolver: lookups through `node:dns`. Everything else in
// @petrel/discovery is runtime-neutral; this file is why the package needs Node for `dns:`.
import { Resolver as DnsServerResolver } from "node:dns/promises";
import { formatHostPort, parseHostPort } from "../address.js";
import { createDnsResolverFactory, type DnsLookup, type DnsResolverOptions } from "../dns-resolver.js";

/** Options of `nodeDnsLookup`. */
export interface NodeDnsLookupOptions {
  /** Per-query timeout. Default 5000 ms (c-ares' own default is longer). */
  timeoutMs?: number;
  /** Attempts per server. Default 2. */
  tries?: number;
}

/**
 * DNS lookups through a `node:dns` Resolver: the system's servers, or only `server`
 * (`host[:port]`, port 53 by default) when given.
 */
export function nodeDnsLookup(server?: string, options: NodeDnsLookupOptions = {}): DnsLookup {
  const r = new DnsServerResolver({ timeout: options.timeoutMs ?? 5_000, tries: options.tries ?? 2 });
  if (server !== undefined) {
    const { host, port } = parseHostPort(server, 53);
    r.setServers([formatHostPort(host, port)]);
  }
  return {
    resolve4: (name) => r.resolve4(name),
    resolve6: (name) => r.resolve6(name),
    resolveSrv: (name) => r.resolveSrv(name),
  };
}

/**
 * The `dns:` resolver over `node:dns` (registered by default). Pass options to build one with
 * other intervals, or inject `lookup` for tests.
 */
export function createNodeDnsResolverFactory(options: Partial<DnsResolverOptions> = {}) {
  return createDnsResolverFactory({ ...options, lookup: options.lookup ?? ((server) => nodeDnsLookup(server)) });
}
