import type { DescMessage } from "@bufbuild/protobuf";
import {
  Code,
  RpcError,
  setErrorEndpoint,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@petrel/core";
import { LoadGroup, type PickOk, type Picker } from "@petrel/balancer";
import { parseTarget, resolve, type Endpoint, type Resolver, type ResolverListener } from "@petrel/discovery";
import { validateChannelOptions, type ChannelConfig, type ChannelOptions } from "./channel-options.js";
import type { ChannelEvent } from "./channel-events.js";
import { OutlierDetector, type OutlierHost } from "./outlier-detection.js";
import { takeAvoid, notePicked, takeWaitForReady } from "./pick-hints.js";
import { Subchannel, type ConnectivityState, type HealthState, type SubchannelHost } from "./subchannel.js";

/** A snapshot of one subchannel, for inspection and tests. */
export interface SubchannelSnapshot {
  readonly id: string;
  readonly address: string;
  readonly state: ConnectivityState;
  readonly health: HealthState;
  readonly ejected: boolean;
  readonly inflight: number;
  readonly lastError?: string;
}

/** A client channel: a core `Transport` over every live instance of a service. */
export interface Channel extends Transport {
  /** Aggregate state: READY if any subchannel is, else CONNECTING, IDLE, TRANSIENT_FAILURE (gRPC's rule); SHUTDOWN once closed. */
  readonly state: ConnectivityState;
  /** The current subchannels (draining ones excluded). */
  subchannels(): SubchannelSnapshot[];
  /** Subscribes to events; returns the unsubscribe function. Listener errors are swallowed. */
  onEvent(listener: (event: ChannelEvent) => void): () => void;
  /**
   * Re-evaluates `endpointGate` and publishes a new picker if the pickable set changed. Cheap when
   * nothing changed; call it whenever the gate's answer may have changed.
   */
  refreshPicker(): void;
  /** Leaves IDLE now (connects every endpoint) instead of on the first call. */
  connect(): void;
  /** Stops resolving, fails queued calls with UNAVAILABLE, lets calls in flight finish, closes every transport. */
  close(): Promise<void>;
}

interface Pending {
  readonly req: UnaryRequest | StreamRequest;
  readonly avoid: ReadonlySet<string> | undefined;
  readonly waitForReady: boolean;
  resolve(p: PickOk): void;
  reject(e: RpcError): void;
  timer: unknown;
  onAbort: (() => void) | undefined;
}

/**
 * Creates a channel: resolves `target`, keeps a subchannel per endpoint (gRPC's connectivity state
 * machine and backoff), optionally health-checks and outlier-ejects them, and sends each call to
 * the endpoint the balancer picks. Use it wherever a `Transport` goes: `createClient(Service, channel)`.
 */
export function createChannel(options: ChannelOptions): Channel {
  return new ChannelImpl(validateChannelOptions(options));
}

class ChannelImpl implements Channel, SubchannelHost {
  readonly clock;
  readonly random;
  readonly backoff;
  readonly healthService;
  readonly group = new LoadGroup();
  readonly #c: ChannelConfig;
  readonly #subs = new Map<string, Subchannel>();
  readonly #draining = new Set<Promise<void>>();
  readonly #listeners = new Set<(e: ChannelEvent) => void>();
  readonly #queue = new Set<Pending>();
  readonly #outlier: OutlierDetector | undefined;
  #picker: Picker;
  #readyKey = "";
  #active = false;
  #closed = false;
  #resolved = false;
  #outlierTimer: unknown;
  readonly #resolver: Resolver;

  constructor(c: ChannelConfig) {
    this.#c = c;
    this.clock = c.clock;
    this.random = c.random;
    this.backoff = c.backoff;
    this.healthService = c.healthService;
    this.#active = c.eagerConnect;
    this.#picker = c.policy.build([], c.policyConfig, { random: c.random });
    if (c.outlier !== undefined) {
      this.#outlier = new OutlierDetector(
        c.outlier,
        c.random,
        (h, reason, durationMs) => {
          this.#emit({ t: "eject", id: h.id, reason, durationMs });
          this.#rebuild();
        },
        (h) => {
          this.#emit({ t: "uneject", id: h.id });
          this.#rebuild();
        },
      );
      this.#scheduleSweep();
    }
    const listener: ResolverListener = {
      onUpdate: (eps) => this.#update(eps),
      onError: (error) => this.#emit({ t: "resolver_error", error }),
    };
    // Started last: a resolver may report synchronously from build().
    const target = typeof c.target === "string" && c.resolver !== undefined ? parseTarget(c.target) : c.target;
    this.#resolver =
      c.resolver !== undefined
        ? c.resolver.build(target as Exclude<typeof target, string>, listener, { clock: c.clock })
        : resolve(target, listener, { clock: c.clock });
  }

  get state(): ConnectivityState {
    if (this.#closed) return "SHUTDOWN";
    if (!this.#active) return "IDLE";
    let connecting = false;
    let idle = false;
    for (const s of this.#subs.values()) {
      if (s.state === "READY") return "READY";
      if (s.state === "CONNECTING") connecting = true;
      else if (s.state === "IDLE") idle = true;
    }
    if (connecting || this.#subs.size === 0) return "CONNECTING";
    return idle ? "IDLE" : "TRANSIENT_FAILURE";
  }

  subchannels(): SubchannelSnapshot[] {
    return [...this.#subs.values()].map((s) => ({
      id: s.id,
      address: s.endpoint.address,
      state: s.state,
      health: s.health,
      ejected: s.outlier.ejectedAt !== undefined,
      inflight: s.stats.inflight,
      ...(s.lastError !== undefined ? { lastError: s.lastError.message } : {}),
    }));
  }

  onEvent(listener: (event: ChannelEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  refreshPicker(): void {
    this.#rebuild();
  }

  connect(): void {
    if (this.#closed || this.#active) return;
    this.#active = true;
    for (const s of this.#subs.values()) s.requestConnection();
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#resolver.close();
      if (this.#outlierTimer !== undefined) this.clock.clearTimeout(this.#outlierTimer);
      this.#outlierTimer = undefined;
      for (const p of [...this.#queue]) this.#settle(p, new RpcError(Code.UNAVAILABLE, "channel closed"));
      for (const s of this.#subs.values()) this.#drain(s);
      this.#subs.clear();
    }
    while (this.#draining.size > 0) await Promise.all([...this.#draining]);
  }

  // ---- SubchannelHost ----

  stateChanged(sub: Subchannel, from: ConnectivityState, error: RpcError | undefined): void {
    this.#emit({ t: "state", id: sub.id, from, to: sub.state, ...(error !== undefined ? { error } : {}) });
    if (sub.state === "SHUTDOWN") return;
    this.#rebuild();
    // A queued fail-fast call may now have to fail (every endpoint in TRANSIENT_FAILURE).
    if (sub.state === "TRANSIENT_FAILURE") this.#processQueue();
  }

  healthChanged(sub: Subchannel, reason: string): void {
    this.#emit({ t: "health", id: sub.id, status: sub.health, reason });
    this.#rebuild();
  }

  // ---- resolution ----

  #update(eps: readonly Endpoint[]): void {
    if (this.#closed) return;
    this.#resolved = true;
    const seen = new Set<string>();
    for (const ep of Array.isArray(eps) ? eps : []) {
      if (ep === null || typeof ep !== "object" || typeof ep.id !== "string" || typeof ep.address !== "string" || ep.address === "") {
        this.#emit({ t: "resolver_error", error: new Error(`ignoring an invalid endpoint: ${safeJson(ep)}`) });
        continue;
      }
      if (seen.has(ep.id)) continue;
      seen.add(ep.id);
      const sub = this.#subs.get(ep.id);
      if (sub === undefined) this.#add(ep);
      else if (sub.endpoint.address !== ep.address) {
        // A moved instance is a new connection; the old one drains.
        this.#drain(sub);
        this.#add(ep);
      } else if (safeJson(sub.endpoint) !== safeJson(ep)) sub.setEndpoint(ep);
    }
    for (const [id, sub] of this.#subs) {
      if (!seen.has(id)) {
        this.#subs.delete(id);
        this.#drain(sub);
      }
    }
    this.#emit({ t: "resolved", ids: [...seen] });
    this.#rebuild(true);
  }

  #add(ep: Endpoint): void {
    let transport: ReturnType<ChannelConfig["transportFactory"]>;
    try {
      transport = this.#c.transportFactory(ep);
    } catch (e) {
      this.#emit({ t: "resolver_error", error: new Error(`transportFactory failed for ${ep.id} (${ep.address}): ${String(e)}`) });
      return;
    }
    const sub = new Subchannel(ep, transport, this);
    this.#subs.set(ep.id, sub);
    if (this.#active) sub.requestConnection();
  }

  #drain(sub: Subchannel): void {
    if (this.#subs.get(sub.id) === sub) this.#subs.delete(sub.id);
    const p = sub.shutdown().then(() => {
      this.#draining.delete(p);
    });
    this.#draining.add(p);
  }

  // ---- picking ----

  /** Builds a new picker when the pickable set (or an endpoint in it) changed; then serves the queue. */
  #rebuild(force = false): void {
    if (this.#closed) return;
    let ready = [];
    for (const s of this.#subs.values()) if (s.pickable) ready.push(s.info);
    const gate = this.#c.endpointGate;
    if (gate !== undefined && ready.length > 0) {
      const open = ready.filter((i) => gatePasses(gate, i.endpoint.id));
      // Panic mode: gating every endpoint would queue every call; better let them try.
      if (open.length > 0) ready = open;
    }
    const key = ready.map((i) => `${i.endpoint.id}@${safeJson(i.endpoint)}`).join("|");
    if (!force && key === this.#readyKey) return;
    const changed = key !== this.#readyKey;
    this.#readyKey = key;
    if (changed) {
      this.#picker = this.#c.policy.build(ready, this.#c.policyConfig, { random: this.random, previous: this.#picker });
      this.#emit({ t: "picker", ready: ready.map((i) => i.endpoint.id) });
    }
    this.#processQueue();
  }

  #pick(req: UnaryRequest | StreamRequest, avoid: ReadonlySet<string> | undefined): PickOk | string {
    const info = { method: req.path, headers: req.header };
    let r = this.#picker.pick(info);
    if (r.t === "none") return r.reason;
    if (avoid !== undefined && avoid.size > 0) {
      // Best effort: a few more picks for one not to avoid (round robin moves on; random may repeat).
      for (let i = 0; i < 4 && avoid.has(r.subchannel.endpoint.id); i++) {
        const again = this.#picker.pick(info);
        if (again.t === "none") break;
        r = again;
      }
    }
    return r;
  }

  /** Why a call without wait-for-ready must fail now, or undefined to keep waiting. */
  #failFastReason(): string | undefined {
    if (this.#subs.size === 0) return undefined;
    let last: string | undefined;
    for (const s of this.#subs.values()) {
      if (s.state !== "TRANSIENT_FAILURE") return undefined;
      last = s.lastError?.message;
    }
    return `all ${this.#subs.size} endpoints in TRANSIENT_FAILURE; last error: ${last ?? "unknown"}`;
  }

  #acquire(req: UnaryRequest | StreamRequest): PickOk | Promise<PickOk> {
    if (this.#closed) throw new RpcError(Code.UNAVAILABLE, "channel closed");
    if (req.signal?.aborted) throw new RpcError(Code.CANCELLED, "call cancelled before it started");
    const avoid = takeAvoid(req);
    const waitForReady = takeWaitForReady(req) || this.#c.waitForReady;
    this.connect();
    const r = this.#pick(req, avoid);
    if (typeof r !== "string") return r;
    if (!waitForReady) {
      const reason = this.#failFastReason();
      if (reason !== undefined) throw new RpcError(Code.UNAVAILABLE, reason);
    }
    return new Promise<PickOk>((resolve, reject) => {
      const p: Pending = { req, avoid, waitForReady, resolve, reject, timer: undefined, onAbort: undefined };
      if (req.deadline !== undefined) {
        p.timer = this.clock.setTimeout(
          () => this.#settle(p, new RpcError(Code.UNAVAILABLE, `no endpoint ready before the deadline: ${this.#noneReason(req)}`)),
          Math.max(0, req.deadline - this.clock.now()),
        );
      }
      if (req.signal !== undefined) {
        p.onAbort = () => this.#settle(p, new RpcError(Code.CANCELLED, "call cancelled while waiting for an endpoint"));
        req.signal.addEventListener("abort", p.onAbort, { once: true });
      }
      this.#queue.add(p);
    });
  }

  #noneReason(req: UnaryRequest | StreamRequest): string {
    if (!this.#resolved) return "no endpoints resolved yet";
    if (this.#subs.size === 0) return "no endpoints";
    const r = this.#picker.pick({ method: req.path, headers: req.header });
    return r.t === "none" ? r.reason : "no ready endpoints";
  }

  #settle(p: Pending, outcome: PickOk | RpcError): void {
    if (!this.#queue.delete(p)) return;
    if (p.timer !== undefined) this.clock.clearTimeout(p.timer);
    if (p.onAbort !== undefined) p.req.signal?.removeEventListener("abort", p.onAbort);
    if (outcome instanceof RpcError) p.reject(outcome);
    else p.resolve(outcome);
  }

  #processQueue(): void {
    if (this.#queue.size === 0) return;
    const failFast = this.#failFastReason();
    for (const p of [...this.#queue]) {
      const r = this.#pick(p.req, p.avoid);
      if (typeof r !== "string") this.#settle(p, r);
      else if (failFast !== undefined && !p.waitForReady) this.#settle(p, new RpcError(Code.UNAVAILABLE, failFast));
    }
  }

  // ---- calls ----

  unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>> {
    let got: PickOk | Promise<PickOk>;
    try {
      got = this.#acquire(req as UnaryRequest);
    } catch (e) {
      return Promise.reject(e);
    }
    if (got instanceof Promise) return got.then((p) => this.#runUnary<O>(p, req as UnaryRequest));
    try {
      return this.#runUnary<O>(got, req as UnaryRequest);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #runUnary<O extends DescMessage>(pick: PickOk, req: UnaryRequest): Promise<UnaryResponse<O>> {
    const sub = this.#start(pick, req);
    const t0 = this.clock.now();
    let p: Promise<UnaryResponse<O>>;
    try {
      p = sub.transport.unary<DescMessage, O>(req);
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.then(
      (res) => {
        this.#done(sub, pick, t0, undefined);
        return res;
      },
      (e: unknown) => {
        const err = RpcError.from(e, Code.UNKNOWN);
        this.#done(sub, pick, t0, err);
        throw err;
      },
    );
  }

  async stream<I extends DescMessage, O extends DescMessage>(req: StreamRequest<I>): Promise<StreamResponse<O>> {
    const pick = await this.#acquire(req as StreamRequest);
    const sub = this.#start(pick, req as StreamRequest);
    const t0 = this.clock.now();
    let res: StreamResponse<O>;
    try {
      res = await sub.transport.stream<DescMessage, O>(req as StreamRequest);
    } catch (e) {
      const err = RpcError.from(e, Code.UNKNOWN);
      this.#done(sub, pick, t0, err);
      throw err;
    }
    // The call lasts until its response stream ends: only then does it stop counting as in flight.
    let finished = false;
    const finish = (err: RpcError | undefined) => {
      if (finished) return;
      finished = true;
      this.#done(sub, pick, t0, err);
    };
    const inner = res.message;
    res.message = {
      [Symbol.asyncIterator]() {
        const it = inner[Symbol.asyncIterator]();
        return {
          async next() {
            try {
              const r = await it.next();
              if (r.done === true) finish(undefined);
              return r;
            } catch (e) {
              const err = RpcError.from(e, Code.UNKNOWN);
              finish(err);
              throw err;
            }
          },
          async return(value?: unknown) {
            finish(undefined);
            return (await it.return?.(value)) ?? { done: true as const, value: undefined };
          },
        } as AsyncIterator<never>;
      },
    };
    return res;
  }

  #start(pick: PickOk, req: UnaryRequest | StreamRequest): Subchannel {
    const sub = this.#subOf(pick);
    sub.stats.onStart();
    notePicked(req, sub.endpoint);
    return sub;
  }

  #subOf(pick: PickOk): Subchannel {
    const id = pick.subchannel.endpoint.id;
    const sub = this.#subs.get(id);
    if (sub !== undefined && sub.stats === pick.subchannel.stats) return sub;
    // Picked from a snapshot whose subchannel was replaced meanwhile (queued call): find it among all.
    throw new RpcError(Code.UNAVAILABLE, `endpoint ${id} went away before the call started`);
  }

  #done(sub: Subchannel, pick: PickOk, t0: number, err: RpcError | undefined): void {
    const ok = err === undefined || !this.#c.failureCodes.has(err.code);
    const info = { ok, latencyMs: this.clock.now() - t0 };
    sub.stats.onDone(info);
    try {
      pick.done?.(info);
    } catch {
      // A custom policy's feedback must not fail the call.
    }
    if (err === undefined) sub.callSucceeded();
    else {
      // Lets a retry prefer another endpoint (A6) without per-call bookkeeping on success.
      setErrorEndpoint(err, sub.endpoint.id);
      if (err.code === Code.UNAVAILABLE) sub.callUnavailable(err);
    }
    if (this.#outlier !== undefined && sub.state !== "SHUTDOWN") {
      this.#outlier.record(sub, ok, [...this.#subs.values()] as OutlierHost[], this.clock.now());
    }
    sub.callEnded();
  }

  #scheduleSweep(): void {
    const det = this.#outlier;
    if (det === undefined || this.#closed) return;
    this.#outlierTimer = this.clock.setTimeout(() => {
      this.#outlierTimer = undefined;
      det.sweep([...this.#subs.values()], this.clock.now());
      this.#scheduleSweep();
    }, det.config.intervalMs);
  }

  #emit(e: ChannelEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // Observers must not break the channel.
      }
    }
  }
}

function gatePasses(gate: (id: string) => boolean, id: string): boolean {
  try {
    return gate(id) !== false;
  } catch {
    return true;
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
