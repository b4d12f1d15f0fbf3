// Metrics fed from events rather than calls: breaker states, limiter drops, channel endpoints and
// balancer picks, server connections, gRPC connection events. Each adapter is a small function
// the user wires to the event source (an `onEvent` option, a channel, a server); the event types
// are matched structurally, so this package depends on neither @petrel/resilience nor @petrel/channel.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { type AnyFn, type AnyRequest, type Interceptor, RpcError } from "@petrel/core";
import { Counter, Gauge, type Registry } from "prom-client";
import { statusLabels } from "./metrics-labels.js";

/** Every metric name this package registers (see the README table for the OpenTelemetry names). */
export const METRIC_NAMES = {
  server: {
    duration: "rpc_server_duration_seconds",
    requestsPerRpc: "rpc_server_requests_per_rpc",
    responsesPerRpc: "rpc_server_responses_per_rpc",
    requestSize: "rpc_server_request_size_bytes",
    responseSize: "rpc_server_response_size_bytes",
    active: "petrel_rpc_server_active_calls",
  },
  client: {
    duration: "rpc_client_duration_seconds",
    requestsPerRpc: "rpc_client_requests_per_rpc",
    responsesPerRpc: "rpc_client_responses_per_rpc",
    requestSize: "rpc_client_request_size_bytes",
    responseSize: "rpc_client_response_size_bytes",
    active: "petrel_rpc_client_active_calls",
  },
  breakerState: "petrel_breaker_state",
  breakerTransitions: "petrel_breaker_transitions_total",
  breakerRejected: "petrel_breaker_rejected_calls_total",
  limiterDrops: "petrel_limiter_drops_total",
  limiterLimit: "petrel_limiter_limit",
  limiterQueued: "petrel_limiter_queued",
  channelEndpointState: "petrel_channel_endpoint_state",
  channelReadyEndpoints: "petrel_channel_ready_endpoints",
  channelEjections: "petrel_channel_ejections_total",
  balancerPicks: "petrel_balancer_picks_total",
  serverConnections: "petrel_server_connections_total",
  serverOpenConnections: "petrel_server_open_connections",
  grpcConnectionEvents: "petrel_grpc_connection_events_total",
} as const;

/** A breaker event as @petrel/resilience's `CircuitBreakerOptions.onEvent` reports it. */
export type BreakerEventLike =
  | { readonly type: "state_change"; readonly name: string; readonly from: string; readonly to: string }
  | { readonly type: "not_permitted"; readonly name: string; readonly state: string };

/** Bulkhead, adaptive limiter and adaptive throttle events of @petrel/resilience (others are ignored). */
export type LimiterEventLike = { readonly type: string; readonly reason?: string; readonly to?: number; readonly queued?: number };

/** Anything with `onEvent(listener) => unsubscribe`, like @petrel/channel's `Channel`. */
export interface ChannelLike {
  onEvent(listener: (event: { readonly t: string; readonly [k: string]: unknown }) => void): () => void;
}

/** What the one-port server (`createPetrelServer`) and the Arith example expose. */
export interface ServerLike {
  /** Connections per detected protocol since start. */
  readonly detected: Readonly<Record<string, number>>;
  /** Open connections now, when the server tracks them. */
  readonly connections?: number;
}

/** The adapters, bound to a registry (part of what `createMetrics` returns). */
export interface ObserveAdapters {
  /** An `onEvent` listener for circuit breakers: state gauge (1 = current), transitions, rejected calls. */
  observeBreakers(): (e: BreakerEventLike) => void;
  /** An `onEvent` listener for a bulkhead / adaptive limiter / adaptive throttle named `limiter`. */
  observeLimiter(limiter: string): (e: LimiterEventLike) => void;
  /** Tracks endpoint states, ready endpoints and ejections of a channel; returns an unsubscribe function. */
  observeChannel(channel: ChannelLike, name?: string): () => void;
  /**
   * A client interceptor counting balancer picks per endpoint. Put it outside the channel and pass
   * @petrel/channel's `pickedEndpoint` (read after the call settles, so it counts the last attempt).
   */
  observeBalancerPicks(pickedEndpoint: (req: object) => { readonly id: string } | undefined, name?: string): Interceptor;
  /** Connections per detected protocol (read at scrape time); returns a function that stops it. */
  observeServer(server: ServerLike, name?: string): () => void;
  /** Counts `petrel:grpc:connection` diagnostics events (pings, keepalive timeouts, TLS errors); returns unsubscribe. */
  observeGrpcConnections(): () => void;
}

/** Binds the adapters to `registry`. Several calls share one set of metrics per registry. @internal */
export function createObserveAdapters(registry: Registry): ObserveAdapters {
  return {
    observeBreakers: () => observeBreakers(registry),
    observeLimiter: (limiter) => observeLimiter(registry, limiter),
    observeChannel: (channel, name) => observeChannel(registry, channel, name),
    observeBalancerPicks: (picked, name) => observeBalancerPicks(registry, picked, name),
    observeServer: (server, name) => observeServer(registry, server, name),
    observeGrpcConnections: () => observeGrpcConnections(registry),
  };
}

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter<string> {
  const m = registry.getSingleMetric(name);
  if (m instanceof Counter) return m;
  if (m !== undefined) throw new TypeError(`metric ${name} is already registered with another type`);
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge(registry: Registry, name: string, help: string, labelNames: string[]): Gauge<string> {
  const m = registry.getSingleMetric(name);
  if (m instanceof Gauge) return m;
  if (m !== undefined) throw new TypeError(`metric ${name} is already registered with another type`);
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

const BREAKER_STATES = ["closed", "open", "half_open"] as const;

/** See {@link ObserveAdapters.observeBreakers}. */
export function observeBreakers(registry: Registry): (e: BreakerEventLike) => void {
  const state = gauge(registry, METRIC_NAMES.breakerState, "Circuit breaker state: 1 for the current state, 0 for the others", [
    "breaker",
    "state",
  ]);
  const transitions = counter(registry, METRIC_NAMES.breakerTransitions, "Circuit breaker state changes", ["breaker", "from", "to"]);
  const rejected = counter(registry, METRIC_NAMES.breakerRejected, "Calls a circuit breaker refused (not permitted)", ["breaker"]);
  return (e) => {
    if (e.type === "state_change") {
      transitions.inc({ breaker: e.name, from: e.from, to: e.to });
      for (const s of BREAKER_STATES) state.set({ breaker: e.name, state: s }, s === e.to ? 1 : 0);
      if (!(BREAKER_STATES as readonly string[]).includes(e.to)) state.set({ breaker: e.name, state: e.to }, 1);
    } else if (e.type === "not_permitted") {
      rejected.inc({ breaker: e.name });
    }
  };
}

/** See {@link ObserveAdapters.observeLimiter}. */
export function observeLimiter(registry: Registry, limiter: string): (e: LimiterEventLike) => void {
  const drops = counter(registry, METRIC_NAMES.limiterDrops, "Calls a limiter or throttle dropped", ["limiter", "reason"]);
  const limit = gauge(registry, METRIC_NAMES.limiterLimit, "Current limit of an adaptive concurrency limiter", ["limiter"]);
  const queued = gauge(registry, METRIC_NAMES.limiterQueued, "Calls waiting in a bulkhead queue", ["limiter"]);
  return (e) => {
    switch (e.type) {
      case "rejected": // bulkhead: full, queue_full, queue_timeout
        drops.inc({ limiter, reason: e.reason ?? "rejected" });
        return;
      case "dropped": // adaptive throttle
        drops.inc({ limiter, reason: "throttled" });
        return;
      case "limit":
        if (typeof e.to === "number") limit.set({ limiter }, e.to);
        return;
      case "queued":
        if (typeof e.queued === "number") queued.set({ limiter }, e.queued);
        return;
    }
  };
}

const CONNECTIVITY = ["IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN"] as const;

/** See {@link ObserveAdapters.observeChannel}. */
export function observeChannel(registry: Registry, channel: ChannelLike, name = "default"): () => void {
  const state = gauge(registry, METRIC_NAMES.channelEndpointState, "Connectivity state of a channel's endpoints: 1 for the current state", [
    "channel",
    "endpoint",
    "state",
  ]);
  const ready = gauge(registry, METRIC_NAMES.channelReadyEndpoints, "Endpoints in the channel's current picker", ["channel"]);
  const ejections = counter(registry, METRIC_NAMES.channelEjections, "Outlier-detection ejections per endpoint", ["channel", "endpoint"]);
  return channel.onEvent((e) => {
    if (e.t === "state" && typeof e.id === "string" && typeof e.to === "string") {
      if (e.to === "SHUTDOWN") {
        // A removed endpoint: drop its series instead of keeping a stale one forever.
        for (const s of CONNECTIVITY) state.remove({ channel: name, endpoint: e.id, state: s });
        return;
      }
      for (const s of CONNECTIVITY) state.set({ channel: name, endpoint: e.id, state: s }, s === e.to ? 1 : 0);
    } else if (e.t === "picker" && Array.isArray(e.ready)) {
      ready.set({ channel: name }, e.ready.length);
    } else if (e.t === "eject" && typeof e.id === "string") {
      ejections.inc({ channel: name, endpoint: e.id });
    }
  });
}

/** See {@link ObserveAdapters.observeBalancerPicks}. */
export function observeBalancerPicks(
  registry: Registry,
  pickedEndpoint: (req: object) => { readonly id: string } | undefined,
  name = "default",
): Interceptor {
  const picks = counter(registry, METRIC_NAMES.balancerPicks, "Calls per endpoint the balancer picked, by outcome", [
    "channel",
    "endpoint",
    "rpc_status",
  ]);
  const record = (req: AnyRequest, code: number) => {
    const ep = pickedEndpoint(req);
    if (ep !== undefined) picks.inc({ channel: name, endpoint: ep.id, rpc_status: statusLabels(code).name });
  };
  return (next: AnyFn) => async (req) => {
    try {
      const res = await next(req);
      record(req, 0);
      return res;
    } catch (e) {
      record(req, RpcError.from(e).code);
      throw e;
    }
  };
}

// Per registry, the servers whose `detected` counts the collect() callbacks read.
const serverSources = new WeakMap<Registry, Map<string, ServerLike>>();

/** See {@link ObserveAdapters.observeServer}. */
export function observeServer(registry: Registry, server: ServerLike, name = "default"): () => void {
  let sources = serverSources.get(registry);
  if (sources === undefined) {
    const map = new Map<string, ServerLike>();
    sources = map;
    serverSources.set(registry, map);
    if (registry.getSingleMetric(METRIC_NAMES.serverConnections) === undefined) {
      new Counter({
        name: METRIC_NAMES.serverConnections,
        help: "Connections accepted per detected protocol (refused = no protocol matched or it is off)",
        labelNames: ["server", "protocol"],
        registers: [registry],
        collect() {
          // The server keeps monotonic counts; mirror them at scrape time.
          this.reset();
          for (const [server, s] of map) for (const [protocol, n] of Object.entries(s.detected)) this.inc({ server, protocol }, n);
        },
      });
      new Gauge({
        name: METRIC_NAMES.serverOpenConnections,
        help: "Open connections now (servers that track them)",
        labelNames: ["server"],
        registers: [registry],
        collect() {
          this.reset();
          for (const [server, s] of map) if (typeof s.connections === "number") this.set({ server }, s.connections);
        },
      });
    }
  }
  sources.set(name, server);
  const owned = sources;
  return () => {
    if (owned.get(name) === server) owned.delete(name);
  };
}

/** The diagnostics channel of `@petrel/node`'s gRPC connection events (subscribed by name). */
const GRPC_CONNECTION_CHANNEL = "petrel:grpc:connection";

/** See {@link ObserveAdapters.observeGrpcConnections}. */
export function observeGrpcConnections(registry: Registry): () => void {
  const events = counter(
    registry,
    METRIC_NAMES.grpcConnectionEvents,
    "gRPC connection events: too_many_pings, keepalive_timeout, tls_error",
    ["event", "side"],
  );
  const onMessage = (m: unknown) => {
    const e = m as { t?: unknown; side?: unknown };
    if (typeof e?.t !== "string") return;
    events.inc({ event: e.t, side: typeof e.side === "string" ? e.side : "server" });
  };
  subscribe(GRPC_CONNECTION_CHANNEL, onMessage);
  return () => {
    unsubscribe(GRPC_CONNECTION_CHANNEL, onMessage);
  };
}
