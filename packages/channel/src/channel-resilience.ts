/**
 * Glue between a channel and @petrel/resilience, in one place:
 *
 * - per-endpoint circuit breakers: each endpoint's transport is guarded by its own breakers
 *   (one per method by default), and an endpoint whose breakers are all open is kept out of the
 *   balancer's picker (`endpointGate`), re-checked on every breaker state change and when an
 *   open state's wait ends;
 * - "a retry prefers a different endpoint": the innermost interceptor records where each attempt
 *   of a retried or hedged call went (`noteAttemptEndpoint`) and asks the channel to avoid those
 *   endpoints on the next attempt (`avoidEndpoints`);
 * - the service config's retries, hedging and timeouts (`createResilienceInterceptors`).
 *
 * The dependency runs channel -> resilience only; @petrel/resilience knows nothing of channels.
 */
import { type AnyFn, type AnyRequest, type Interceptor, RpcError, applyInterceptors } from "@petrel/core";
import type { Endpoint } from "@petrel/discovery";
import {
  type BreakerEvent,
  type BreakerRegistry,
  type BreakerRegistryOptions,
  type Clock,
  type ResilienceInterceptorsOptions,
  type ServiceConfig,
  UNPROCESSED,
  attemptInfo,
  createBreakerRegistry,
  createCircuitBreakerInterceptor,
  createResilienceInterceptors,
  markError,
  noteAttemptEndpoint,
  systemClock,
  validateCircuitBreakerOptions,
} from "@petrel/resilience";
import { type Channel, createChannel } from "./channel.js";
import type { ChannelOptions } from "./channel-options.js";
import { avoidEndpoints, pickedEndpoint } from "./pick-hints.js";
import type { ChannelTransport } from "./subchannel.js";

/** Options of {@link createResilientChannel}. */
export interface ResilientChannelOptions {
  /** The channel's options; `endpointGate` must be left unset (this helper owns it). */
  channel: ChannelOptions;
  /** Service config (parsed or raw JSON) for retries, hedging and timeouts. Default: none (only the hint interceptor). */
  serviceConfig?: ServiceConfig | string | object;
  /** Options of `createResilienceInterceptors` (clock, random, onEvent, …). */
  resilience?: ResilienceInterceptorsOptions;
  /**
   * Per-endpoint circuit breakers (resilience4j defaults; `perMethod` default true), or false for
   * none. Default `{}`. Its `onEvent` sees every breaker event (names are `endpoint method`).
   */
  breakers?: BreakerRegistryOptions | false;
  /** Timers that put an endpoint back into the picker when its open wait ends. Default the system clock (unref'd timers). */
  clock?: Clock;
}

/** What {@link createResilientChannel} returns. */
export interface ResilientChannel {
  /** The channel; use it as the client's transport. */
  readonly channel: Channel;
  /** The client interceptors to pass to `createClient`, in order: service config chain, then the endpoint-hint interceptor (innermost). */
  readonly interceptors: Interceptor[];
  /** The per-endpoint breakers, or undefined when `breakers: false`. */
  readonly breakers: BreakerRegistry | undefined;
  /** Cancels pending re-check timers and closes the channel. */
  close(): Promise<void>;
}

/**
 * Creates a channel with per-endpoint breakers that gate the balancer, plus the client
 * interceptors that make retries avoid endpoints already tried:
 *
 * ```ts
 * const rc = createResilientChannel({ channel: { target, transportFactory, balancer: { name: "p2c_peak_ewma" } },
 *   serviceConfig, breakers: { minimumNumberOfCalls: 10, waitDurationInOpenStateMs: 500 } });
 * const client = createClient(Svc, rc.channel, { interceptors: rc.interceptors });
 * ```
 *
 * A call rejected by an open breaker fails with UNAVAILABLE "circuit open" marked UNPROCESSED (it
 * never left the client), so the retry interceptor retries it transparently on another endpoint.
 */
export function createResilientChannel(options: ResilientChannelOptions): ResilientChannel {
  if (options === null || typeof options !== "object") throw new TypeError("createResilientChannel: options must be an object");
  if (options.channel === null || typeof options.channel !== "object") {
    throw new TypeError("createResilientChannel: channel options are required");
  }
  if (options.channel.endpointGate !== undefined) {
    throw new TypeError("createResilientChannel: channel.endpointGate is set by this helper; leave it unset");
  }
  const clock = options.clock ?? systemClock;
  const timers = new Set<unknown>();
  let channel: Channel | undefined;
  let closed = false;
  const refresh = () => {
    if (!closed) channel?.refreshPicker();
  };

  let breakers: BreakerRegistry | undefined;
  const channelOptions: ChannelOptions = { ...options.channel };
  if (options.breakers !== false) {
    const bo = options.breakers ?? {};
    const waitMs = validateCircuitBreakerOptions(bo).waitDurationInOpenStateMs;
    const userOnEvent = bo.onEvent;
    const onEvent = (e: BreakerEvent) => {
      try {
        userOnEvent?.(e);
      } catch {
        // An observer must not break the breaker.
      }
      if (e.type !== "state_change") return;
      refresh();
      // OPEN ends lazily (on the next tryAcquire), but a gated endpoint gets no calls: re-check when the wait is over.
      if (e.to === "open" && !closed) {
        const t = clock.setTimeout(() => {
          timers.delete(t);
          refresh();
        }, waitMs + 1);
        timers.add(t);
      }
    };
    const registry = createBreakerRegistry({ ...bo, onEvent });
    breakers = registry;
    const factory = options.channel.transportFactory;
    channelOptions.transportFactory = (ep: Endpoint) => guardTransport(factory(ep), registry, ep.id);
    channelOptions.endpointGate = (id) => !registry.isOpen(id);
  }
  channel = createChannel(channelOptions);
  if (breakers !== undefined) {
    const registry = breakers;
    const known = new Set<string>();
    channel.onEvent((e) => {
      if (e.t !== "resolved") return;
      // Forget the breakers of endpoints that left the resolver's set.
      const now = new Set(e.ids);
      for (const id of known) if (!now.has(id)) registry.remove(id);
      known.clear();
      for (const id of now) known.add(id);
    });
  }
  const interceptors =
    options.serviceConfig === undefined
      ? [createEndpointHintInterceptor()]
      : [...createResilienceInterceptors(options.serviceConfig, options.resilience), createEndpointHintInterceptor()];
  const ch = channel;
  return {
    channel: ch,
    interceptors,
    breakers,
    close() {
      closed = true;
      for (const t of timers) clock.clearTimeout(t);
      timers.clear();
      return ch.close();
    },
  };
}

/**
 * The innermost client interceptor of a channel client: passes the endpoints earlier attempts of
 * a retried or hedged call used to the channel as avoid hints, and records where this attempt
 * went. Must sit directly above the channel (last in `interceptors`), because both hints are
 * keyed by the request object the channel receives.
 */
export function createEndpointHintInterceptor(): Interceptor {
  return (next: AnyFn) => (req: AnyRequest) => {
    const info = attemptInfo(req);
    if (info === undefined) return next(req);
    if (info.previousEndpoints.length > 0) avoidEndpoints(req, info.previousEndpoints);
    return next(req).then(
      (res) => {
        note(req);
        return res;
      },
      (e: unknown) => {
        note(req);
        throw e;
      },
    );
  };
}

function note(req: AnyRequest): void {
  const ep = pickedEndpoint(req);
  if (ep !== undefined) noteAttemptEndpoint(req, ep.id);
}

/** One endpoint's transport behind its breakers; rejections that never reached the transport are marked UNPROCESSED. */
function guardTransport(t: ChannelTransport, registry: BreakerRegistry, id: string): ChannelTransport {
  // Requests that reached the transport; a WeakSet rather than a per-call closure.
  const sent = new WeakSet<object>();
  const breaker = createCircuitBreakerInterceptor(registry, { endpointOf: () => id });
  const markUnsent: Interceptor = (next) => (req) =>
    next(req).catch((e: unknown) => {
      if (!sent.has(req) && e instanceof RpcError) markError(e, UNPROCESSED);
      throw e;
    });
  const unary = applyInterceptors<AnyFn>(
    (req) => {
      sent.add(req);
      return t.unary(req as never);
    },
    [markUnsent, breaker],
  );
  const stream = applyInterceptors<AnyFn>(
    (req) => {
      sent.add(req);
      return t.stream(req as never);
    },
    [markUnsent, breaker],
  );
  const guarded: ChannelTransport = {
    unary: unary as ChannelTransport["unary"],
    stream: stream as ChannelTransport["stream"],
    close: () => t.close(),
  };
  if (t.connect !== undefined) guarded.connect = () => (t.connect as () => Promise<void>)();
  return guarded;
}
