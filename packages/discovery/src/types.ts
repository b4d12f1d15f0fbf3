// The service-discovery contract every resolver, registrar and balancer agrees on. Runtime-neutral.

/** One instance of a service, as a registry knows it. */
export interface Endpoint {
  /** Stable instance id, unique within its service (e.g. `host:port` or a UUID). */
  readonly id: string;
  /** Where to connect: `host:port`, `[v6]:port`. */
  readonly address: string;
  /** Protocols it serves, e.g. `["petrel/1", "grpc"]`; absent = unknown (the client's choice). */
  readonly protocols?: readonly string[];
  /** Relative weight for weighted policies; default 1. */
  readonly weight?: number;
  readonly zone?: string;
  readonly version?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A parsed target URL: `scheme://authority/service`, e.g. `etcd://127.0.0.1:2379/inventory`. */
export interface ResolverTarget {
  readonly scheme: string;
  /** Registry address(es), e.g. `127.0.0.1:2379` or `h1:p1,h2:p2`; may be empty (`dns:///name:port`). */
  readonly authority: string;
  /** What to resolve: a service name, or for static/dns the address list / `name:port`. */
  readonly path: string;
  /** The target as given. */
  readonly raw: string;
}

/**
 * What a resolver tells its owner. `onUpdate` always carries the complete current list. A
 * resolver never reports an empty list because its registry is unreachable: it calls `onError`
 * and the owner keeps the last good list. An empty list means the registry says there are none.
 */
export interface ResolverListener {
  onUpdate(endpoints: readonly Endpoint[]): void;
  onError(error: Error): void;
}

/** A running resolution; `close` stops watches and timers. */
export interface Resolver {
  /** Re-resolve now (e.g. after connection failures); a hint, may be ignored. */
  resolveNow?(): void;
  close(): void;
}

/** Injectable time, so leases, TTLs and re-resolution run on a fake clock in tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; timers are unref'd where the runtime supports it. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms) as unknown as { unref?: () => void };
    t.unref?.();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
};

export interface ResolverOptions {
  clock?: Clock;
}

/** Builds resolvers for one URL scheme; registered with `registerResolver`. */
export interface ResolverFactory {
  readonly scheme: string;
  build(target: ResolverTarget, listener: ResolverListener, options?: ResolverOptions): Resolver;
}

/** A registered instance; `deregister` removes it (graceful shutdown). */
export interface Registration {
  readonly service: string;
  readonly endpoint: Endpoint;
  deregister(): Promise<void>;
}

/** Registers instances in a registry (etcd, ZooKeeper, the embedded one). */
export interface Registrar {
  /**
   * Registers `endpoint` under `service`, alive while this process keeps it alive (a lease with
   * keepalive, an ephemeral node, a TTL refreshed by heartbeats): a killed process disappears
   * within `ttlMs`. Re-registers by itself after a lost lease/session or a registry restart.
   */
  register(service: string, endpoint: Endpoint, options?: { ttlMs?: number }): Promise<Registration>;
  /** Deregisters everything and releases connections. */
  close(): Promise<void>;
}
