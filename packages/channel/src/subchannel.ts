import { Code, RpcError, createClient, type Transport } from "@petrel/core";
import { EndpointStats, type LoadGroup, type SubchannelInfo } from "@petrel/balancer";
import type { Clock, Endpoint } from "@petrel/discovery";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@petrel/health";
import { ConnectBackoff, type ConnectBackoffConfig } from "./connect-backoff.js";
import { OutlierState } from "./outlier-detection.js";

/** gRPC's connectivity states. */
export type ConnectivityState = "IDLE" | "CONNECTING" | "READY" | "TRANSIENT_FAILURE" | "SHUTDOWN";

/** What the health watch last said: `UNKNOWN` until its first message (not pickable, as in gRPC). */
export type HealthState = "SERVING" | "NOT_SERVING" | "UNKNOWN";

/**
 * The transport a channel opens per endpoint. With `connect()` the subchannel moves
 * CONNECTING -> READY when it resolves; without, READY is assumed and an UNAVAILABLE call failure
 * counts as a connection failure.
 */
export type ChannelTransport = Transport & { close(): Promise<void>; connect?(): Promise<void> };

/** @internal What a subchannel needs from its channel. */
export interface SubchannelHost {
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: ConnectBackoffConfig;
  /** Service name to watch with grpc.health.v1, or undefined for no active health checking. */
  readonly healthService: string | undefined;
  readonly group: LoadGroup;
  stateChanged(sub: Subchannel, from: ConnectivityState, error: RpcError | undefined): void;
  healthChanged(sub: Subchannel, reason: string): void;
}

/**
 * @internal One endpoint's connection: gRPC's state machine IDLE -> CONNECTING -> READY ->
 * TRANSIENT_FAILURE -> (backoff) -> CONNECTING …, SHUTDOWN; an optional grpc.health.v1 Watch; the
 * stats the picker reads; outlier-detection bookkeeping.
 */
export class Subchannel {
  state: ConnectivityState = "IDLE";
  health: HealthState;
  info: SubchannelInfo;
  lastError: RpcError | undefined;
  readonly stats: EndpointStats;
  readonly outlier = new OutlierState();
  readonly #backoff: ConnectBackoff;
  #timer: unknown;
  /** Bumped on every attempt so a late answer of an abandoned one is ignored. */
  #attempt = 0;
  #health: HealthWatch | undefined;
  #closed: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(
    endpoint: Endpoint,
    readonly transport: ChannelTransport,
    private readonly host: SubchannelHost,
  ) {
    this.stats = new EndpointStats({ clock: host.clock, group: host.group });
    this.info = { endpoint, stats: this.stats };
    this.health = host.healthService === undefined ? "SERVING" : "UNKNOWN";
    this.#backoff = new ConnectBackoff(host.backoff, host.random);
  }

  get id(): string {
    return this.info.endpoint.id;
  }

  get endpoint(): Endpoint {
    return this.info.endpoint;
  }

  /** Whether the picker may use it: READY, SERVING and not ejected. */
  get pickable(): boolean {
    return this.state === "READY" && this.health === "SERVING" && this.outlier.ejectedAt === undefined;
  }

  /** Same connection, new metadata/weight: a new info object (pickers are snapshots) sharing the stats. */
  setEndpoint(endpoint: Endpoint): void {
    this.info = { endpoint, stats: this.stats };
  }

  /** Leaves IDLE (lazy connect); no-op in any other state. */
  requestConnection(): void {
    if (this.state === "IDLE") this.#connect();
  }

  #connect(): void {
    const attempt = ++this.#attempt;
    const timeoutMs = this.#backoff.startAttempt(this.host.clock.now());
    this.#set("CONNECTING", undefined);
    const connect = this.transport.connect;
    if (connect === undefined) {
      // No way to probe: assume READY, the first call (or the health watch) is the proof.
      this.#set("READY", undefined);
      return;
    }
    this.#timer = this.host.clock.setTimeout(() => {
      this.#timer = undefined;
      if (attempt === this.#attempt && this.state === "CONNECTING") {
        this.#fail(new RpcError(Code.UNAVAILABLE, `connect to ${this.endpoint.address} timed out after ${Math.round(timeoutMs)} ms`));
      }
    }, timeoutMs);
    let p: Promise<void>;
    try {
      p = connect.call(this.transport);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      () => {
        if (attempt !== this.#attempt || this.state !== "CONNECTING") return;
        this.#clearTimer();
        this.#backoff.reset();
        this.#set("READY", undefined);
      },
      (e: unknown) => {
        if (attempt === this.#attempt && this.state === "CONNECTING") this.#fail(RpcError.from(e, Code.UNAVAILABLE));
      },
    );
  }

  /** CONNECTING/READY -> TRANSIENT_FAILURE, and the next attempt after the backoff. */
  #fail(error: RpcError): void {
    this.#clearTimer();
    this.#attempt++;
    this.#set("TRANSIENT_FAILURE", error);
    const delay = this.#backoff.delayAfterFailure(this.host.clock.now());
    this.#timer = this.host.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.state === "TRANSIENT_FAILURE") this.#connect();
    }, delay);
  }

  /**
   * A call on this subchannel failed with UNAVAILABLE: maybe the connection is gone. With
   * `connect()`, ask the transport (cheap when still connected); without, treat it as lost.
   */
  callUnavailable(error: RpcError): void {
    if (this.state !== "READY") return;
    const connect = this.transport.connect;
    if (connect === undefined) {
      this.#fail(error);
      return;
    }
    const attempt = this.#attempt;
    let p: Promise<void>;
    try {
      p = connect.call(this.transport);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.catch((e: unknown) => {
      if (attempt === this.#attempt && this.state === "READY") this.#fail(RpcError.from(e, Code.UNAVAILABLE));
    });
  }

  /** A call succeeded: for transports without `connect()` this is the proof of a connection. */
  callSucceeded(): void {
    if (this.transport.connect === undefined) this.#backoff.reset();
  }

  #set(to: ConnectivityState, error: RpcError | undefined): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    if (error !== undefined) this.lastError = error;
    if (to === "READY") {
      if (this.host.healthService !== undefined) this.#health = new HealthWatch(this, this.host);
    } else if (this.#health !== undefined) {
      this.#health.stop();
      this.#health = undefined;
      if (this.host.healthService !== undefined) this.health = "UNKNOWN";
    }
    this.host.stateChanged(this, from, error);
  }

  /** @internal Called by the health watch. */
  setHealth(h: HealthState, reason: string): void {
    if (this.health === h || this.state !== "READY") return;
    this.health = h;
    this.host.healthChanged(this, reason);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A call picked on it ended (the channel already called `stats.onDone`). */
  callEnded(): void {
    if (this.state === "SHUTDOWN" && this.stats.inflight === 0) this.#drained?.();
  }

  /**
   * SHUTDOWN: no new calls; calls in flight finish (drain), then the transport closes. Resolves
   * once it is closed. Idempotent.
   */
  shutdown(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#clearTimer();
    this.#attempt++;
    this.#set("SHUTDOWN", undefined);
    const drained = this.stats.inflight === 0 ? Promise.resolve() : new Promise<void>((r) => (this.#drained = r));
    this.#closed = drained.then(() => this.transport.close().catch(() => {}));
    return this.#closed;
  }
}

/**
 * grpc.health.v1 Watch over a READY subchannel's transport, re-opened with backoff when it ends.
 * UNIMPLEMENTED means "no health service": the endpoint counts as SERVING (as gRPC does). Another
 * failure keeps the last status while retrying; UNAVAILABLE also makes the subchannel check its connection.
 */
class HealthWatch {
  readonly #abort = new AbortController();
  readonly #backoff: ConnectBackoff;
  #timer: unknown;

  constructor(
    private readonly sub: Subchannel,
    private readonly host: SubchannelHost,
  ) {
    this.#backoff = new ConnectBackoff(host.backoff, host.random);
    void this.#run();
  }

  stop(): void {
    this.#abort.abort();
    if (this.#timer !== undefined) this.host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #run(): Promise<void> {
    const client = createClient(Health, this.sub.transport);
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#backoff.startAttempt(this.host.clock.now());
      try {
        for await (const res of client.watch({ service: this.host.healthService ?? "" }, { signal, parent: null })) {
          this.#backoff.reset();
          const s = res.status === Serving.SERVING ? "SERVING" : "NOT_SERVING";
          this.sub.setHealth(s, `health: ${Serving[res.status] ?? res.status}`);
        }
      } catch (e) {
        if (signal.aborted) return;
        const err = RpcError.from(e, Code.UNKNOWN);
        if (err.code === Code.UNIMPLEMENTED) {
          this.sub.setHealth("SERVING", "health: UNIMPLEMENTED (no health service; treated as SERVING)");
          return;
        }
        if (err.code === Code.UNAVAILABLE) this.sub.callUnavailable(err);
      }
      if (signal.aborted) return;
      const delay = this.#backoff.delayAfterFailure(this.host.clock.now());
      await new Promise<void>((resolve) => {
        this.#timer = this.host.clock.setTimeout(() => {
          this.#timer = undefined;
          resolve();
        }, delay);
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }
}
