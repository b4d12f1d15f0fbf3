import { Code } from "@petrel/core";
import { getBalancer, type BalancerPolicy } from "@petrel/balancer";
import { systemClock, type Clock, type Endpoint, type ResolverFactory, type ResolverTarget } from "@petrel/discovery";
import { validateConnectBackoff, type ConnectBackoffConfig, type ConnectBackoffOptions } from "./connect-backoff.js";
import { validateOutlierDetection, type OutlierConfig, type OutlierDetectionOptions } from "./outlier-detection.js";
import type { ChannelTransport } from "./subchannel.js";

/** Options of `createChannel`. */
export interface ChannelOptions {
  /**
   * What to resolve: a resolver URL (`static:///h1:p1,h2:p2`, `dns:///name:port`,
   * `petrel://registry:port/service`, `etcd://…`, `zk://…`; the scheme picks a factory registered
   * with `registerResolver`) or a parsed target.
   */
  target: string | ResolverTarget;
  /** Resolver to use instead of the scheme table's (e.g. `createRegistryResolverFactory({ transport })`). */
  resolver?: ResolverFactory;
  /** Opens the transport of one endpoint; the protocol choice lives here. Called once per subchannel. */
  transportFactory: (endpoint: Endpoint) => ChannelTransport;
  /** Load-balancing policy by name (see @petrel/balancer) and its JSON config. Default `{ name: "round_robin" }`. */
  balancer?: { name: string; config?: unknown };
  /**
   * Active health checking with grpc.health.v1 Watch on every READY subchannel; `service` is the
   * name to watch (default `""`, the whole server). Off by default.
   */
  healthCheck?: { service?: string };
  /** Passive outlier detection (ejection); off by default, `{}` turns it on with the defaults. */
  outlierDetection?: OutlierDetectionOptions;
  /** Connection backoff (gRPC's algorithm); defaults 1 s x1.6 ±20 % up to 120 s, connect timeout >= 20 s. */
  connectBackoff?: ConnectBackoffOptions;
  /** Connect every endpoint as soon as it is known instead of on the first call. Default false (lazy, as gRPC). */
  eagerConnect?: boolean;
  /**
   * Queue calls while every endpoint is in TRANSIENT_FAILURE instead of failing them fast
   * (gRPC's wait-for-ready). Default false; a call can ask with header `x-petrel-wait-for-ready: 1`.
   */
  waitForReady?: boolean;
  /**
   * Status codes that count as a failure of the endpoint (picker feedback, outlier detection).
   * Default UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, DATA_LOSS: server or network faults,
   * not application answers such as NOT_FOUND or a CANCELLED by the caller.
   */
  failureCodes?: readonly Code[];
  /**
   * Keeps endpoints out of the picker while it returns false (e.g. an open circuit breaker:
   * `(id) => !breakers.isOpen(id)`). Consulted for every pickable endpoint whenever a picker is
   * built, never per call, so `pick()` stays a plain snapshot read; call `channel.refreshPicker()`
   * when its answer may have changed (a breaker state event, a timer). If it would leave no
   * endpoint, it is ignored for that picker (Envoy's panic mode): calls then reach an endpoint and
   * fail or succeed there instead of queueing. A throwing gate counts as `true`. Default: none.
   */
  endpointGate?: (endpointId: string) => boolean;
  /** Time source for backoff, deadlines of queued calls and ejections. Default the system clock. */
  clock?: Clock;
  /** Uniform in [0, 1) for jitter, pickers and enforcement. Default `Math.random`. */
  random?: () => number;
}

/** @internal The filled-in options. */
export interface ChannelConfig {
  target: string | ResolverTarget;
  resolver: ResolverFactory | undefined;
  transportFactory: (endpoint: Endpoint) => ChannelTransport;
  policy: BalancerPolicy;
  policyConfig: unknown;
  healthService: string | undefined;
  outlier: OutlierConfig | undefined;
  backoff: ConnectBackoffConfig;
  eagerConnect: boolean;
  waitForReady: boolean;
  failureCodes: ReadonlySet<Code>;
  endpointGate: ((endpointId: string) => boolean) | undefined;
  clock: Clock;
  random: () => number;
}

const DEFAULT_FAILURE_CODES = [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.INTERNAL, Code.UNKNOWN, Code.DATA_LOSS];

/** @internal Validates the options (TypeError naming the field) and fills in the defaults. */
export function validateChannelOptions(o: ChannelOptions): ChannelConfig {
  if (o === null || typeof o !== "object") throw new TypeError("createChannel: options must be an object");
  if (typeof o.target !== "string" && (o.target === null || typeof o.target !== "object")) {
    throw new TypeError("createChannel: target must be a resolver URL or a ResolverTarget");
  }
  if (typeof o.transportFactory !== "function") throw new TypeError("createChannel: transportFactory must be a function");
  const name = o.balancer?.name ?? "round_robin";
  const policy = getBalancer(name);
  if (policy === undefined) throw new TypeError(`createChannel: unknown balancer "${name}"`);
  // Validates the config now rather than on the first ready endpoint.
  policy.build([], o.balancer?.config);
  if (o.healthCheck !== undefined && (o.healthCheck === null || typeof o.healthCheck !== "object")) {
    throw new TypeError("createChannel: healthCheck must be an object");
  }
  const hs = o.healthCheck?.service ?? "";
  if (typeof hs !== "string") throw new TypeError("createChannel: healthCheck.service must be a string");
  if (o.endpointGate !== undefined && typeof o.endpointGate !== "function") {
    throw new TypeError("createChannel: endpointGate must be a function");
  }
  const random = o.random ?? Math.random;
  if (typeof random !== "function") throw new TypeError("createChannel: random must be a function");
  return {
    target: o.target,
    resolver: o.resolver,
    transportFactory: o.transportFactory,
    policy,
    policyConfig: o.balancer?.config,
    healthService: o.healthCheck === undefined ? undefined : hs,
    outlier: o.outlierDetection === undefined ? undefined : validateOutlierDetection(o.outlierDetection),
    backoff: validateConnectBackoff(o.connectBackoff),
    eagerConnect: o.eagerConnect === true,
    waitForReady: o.waitForReady === true,
    failureCodes: new Set(o.failureCodes ?? DEFAULT_FAILURE_CODES),
    endpointGate: o.endpointGate,
    clock: o.clock ?? systemClock,
    random,
  };
}
