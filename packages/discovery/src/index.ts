/**
 * @petrel/discovery: the service-discovery contract, the resolver scheme table
 * (`registerResolver` / `getResolver` / `resolve`), the `static:` and `dns:` resolvers, and the
 * embedded registry (a Petrel service with TTL leases and watches, its `Registrar` and its
 * `petrel:` resolver). Runtime-neutral except the `dns:` lookups, which use `node:dns`.
 */
import { createNodeDnsResolverFactory } from "./node/dns-resolver.js";
import { registerResolver } from "./resolver-table.js";
import { staticResolverFactory } from "./static-resolver.js";

export {
  systemClock,
  type Clock,
  type Endpoint,
  type Registrar,
  type Registration,
  type Resolver,
  type ResolverFactory,
  type ResolverListener,
  type ResolverOptions,
  type ResolverTarget,
} from "./types.js";
export { parseTarget } from "./target.js";
export { decodeEndpoint, encodeEndpoint, validateEndpoint, type DecodedEndpoint } from "./endpoint-json.js";
export { formatHostPort, parseAddressList, parseHostPort, type HostPort } from "./address.js";
export { getResolver, registerResolver, registeredSchemes, resolve } from "./resolver-table.js";
export { staticResolverFactory } from "./static-resolver.js";
export { createDnsResolverFactory, type DnsLookup, type DnsResolverOptions, type SrvRecord } from "./dns-resolver.js";
export { createNodeDnsResolverFactory, nodeDnsLookup, type NodeDnsLookupOptions } from "./node/dns-resolver.js";
export type { RetryBackoffOptions } from "./backoff.js";
export { createRegistryService, type RegistryService, type RegistryServiceOptions } from "./registry-service.js";
export { createRegistryRegistrar, type RegistryRegistrarOptions } from "./registry-registrar.js";
export { createRegistryResolverFactory, type RegistryResolverOptions } from "./registry-resolver.js";
export type { RegistryTransportFactory } from "./registry-client.js";
export {
  Registry,
  InstanceSchema,
  file_petrel_registry_v1_registry,
  type Instance,
  type WatchResponse,
} from "./gen/petrel/registry/v1/registry_pb.js";

// Built-in schemes, as grpc-go registers passthrough/dns. `petrel:` needs a transport:
// `registerResolver(createRegistryResolverFactory({ transport }))`.
registerResolver(staticResolverFactory);
registerResolver(createNodeDnsResolverFactory());
