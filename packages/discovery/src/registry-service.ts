import { create } from "@bufbuild/protobuf";
import { Code, RpcError, type HandlerContext, type ServiceImpl } from "@petrel/core";
import { parseHostPort } from "./address.js";
import {
  type Instance,
  InstanceSchema,
  type Registry,
  type WatchResponse,
  WatchResponseSchema,
} from "./gen/petrel/registry/v1/registry_pb.js";
import { sameEndpoint, toEndpoint } from "./registry-instance.js";
import { systemClock, type Clock, type Endpoint } from "./types.js";

/** Options of `createRegistryService`. */
export interface RegistryServiceOptions {
  /** Time source for leases and the warm-up. Default: `systemClock`. */
  clock?: Clock;
  /** TTL of a Register that asks for none. Default 10000 ms. */
  defaultTtlMs?: number;
  /** Requested TTLs are raised to this. Default 500 ms. */
  minTtlMs?: number;
  /** Requested TTLs are lowered to this. Default 300000 ms. */
  maxTtlMs?: number;
  /**
   * After creation, snapshots are marked incomplete for this long: a restarted in-memory registry
   * has forgotten everything until registrants notice (their next heartbeat) and register again,
   * so watchers must not drop instances they knew meanwhile. Default 10000 ms (registrants
   * heartbeat every TTL/3, so those with TTLs up to 30 s are back by then); 0 = none.
   */
  warmupMs?: number;
}

/** The embedded registry: mount `impl` on any router (`createRouter().service(Registry, r.impl)`). */
export interface RegistryService {
  readonly impl: ServiceImpl<typeof Registry>;
  /** The live instances of `service`, sorted by id. */
  list(service: string): Endpoint[];
  /** Live leases (for tests and metrics). */
  readonly leases: number;
  /** Open Watch calls (for tests and metrics). */
  readonly watchers: number;
  /** Whether the warm-up is over (snapshots are complete). */
  readonly complete: boolean;
  /** Ends every Watch call (so a server can shut down without waiting for them) and stops all timers. */
  close(): void;
}

interface Lease {
  readonly id: string;
  readonly service: string;
  readonly instanceId: string;
  readonly ttlMs: number;
  timer: unknown;
}

interface Entry {
  readonly instance: Instance;
  readonly lease: Lease;
}

/**
 * Creates the embedded registry service: instances register under a TTL lease that heartbeats
 * keep alive; an instance whose process died disappears when its lease expires. Watchers get the
 * full list at once and after every change (snapshots coalesce: a slow watcher gets the latest).
 */
export function createRegistryService(options: RegistryServiceOptions = {}): RegistryService {
  const clock = options.clock ?? systemClock;
  const minTtl = options.minTtlMs ?? 500;
  const maxTtl = options.maxTtlMs ?? 300_000;
  const defaultTtl = options.defaultTtlMs ?? 10_000;
  const warmupMs = options.warmupMs ?? 10_000;
  if (!(minTtl > 0 && minTtl <= maxTtl && defaultTtl >= minTtl && defaultTtl <= maxTtl) || !(warmupMs >= 0)) {
    throw new TypeError("createRegistryService: need 0 < minTtlMs <= defaultTtlMs <= maxTtlMs and warmupMs >= 0");
  }
  const services = new Map<string, Map<string, Entry>>();
  const leases = new Map<string, Lease>();
  const watchers = new Map<string, Set<SnapshotStream>>();
  let watcherCount = 0;
  let revision = 0n;
  let complete = warmupMs === 0;
  let closed = false;
  let warmupTimer: unknown =
    warmupMs === 0
      ? undefined
      : clock.setTimeout(() => {
          warmupTimer = undefined;
          complete = true;
          for (const name of watchers.keys()) notify(name);
        }, warmupMs);

  const snapshot = (service: string): WatchResponse => {
    const entries = services.get(service);
    const instances = entries ? [...entries.values()].map((e) => e.instance).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) : [];
    return create(WatchResponseSchema, { instances, revision, complete });
  };

  const notify = (service: string): void => {
    const set = watchers.get(service);
    if (set === undefined) return;
    const snap = snapshot(service);
    for (const w of set) w.push(snap);
  };

  const armLease = (lease: Lease): void => {
    if (lease.timer !== undefined) clock.clearTimeout(lease.timer);
    lease.timer = clock.setTimeout(() => {
      lease.timer = undefined;
      dropLease(lease);
    }, lease.ttlMs);
  };

  /** Removes a lease and its instance (if the instance still belongs to it); notifies on change. */
  const dropLease = (lease: Lease): void => {
    if (leases.get(lease.id) !== lease) return;
    leases.delete(lease.id);
    if (lease.timer !== undefined) clock.clearTimeout(lease.timer);
    lease.timer = undefined;
    const entries = services.get(lease.service);
    const entry = entries?.get(lease.instanceId);
    if (entries === undefined || entry === undefined || entry.lease !== lease) return;
    entries.delete(lease.instanceId);
    if (entries.size === 0) services.delete(lease.service);
    revision++;
    notify(lease.service);
  };

  const leaseOf = (id: string): Lease => {
    const lease = leases.get(id);
    if (lease === undefined) throw new RpcError(Code.NOT_FOUND, `unknown or expired lease "${id}"`);
    return lease;
  };

  const impl: ServiceImpl<typeof Registry> = {
    register(req) {
      if (closed) throw new RpcError(Code.UNAVAILABLE, "registry closed");
      if (req.service === "") throw new RpcError(Code.INVALID_ARGUMENT, "service is required");
      if (req.instance === undefined || req.instance.address === "")
        throw new RpcError(Code.INVALID_ARGUMENT, "instance.address is required");
      try {
        parseHostPort(req.instance.address);
      } catch (e) {
        throw new RpcError(Code.INVALID_ARGUMENT, (e as Error).message);
      }
      const instance = create(InstanceSchema, { ...req.instance, id: req.instance.id || req.instance.address });
      const ttlMs = Math.min(maxTtl, Math.max(minTtl, req.ttlMs === 0 ? defaultTtl : req.ttlMs));
      let entries = services.get(req.service);
      if (entries === undefined) {
        entries = new Map();
        services.set(req.service, entries);
      }
      const old = entries.get(instance.id);
      const lease: Lease = { id: globalThis.crypto.randomUUID(), service: req.service, instanceId: instance.id, ttlMs, timer: undefined };
      leases.set(lease.id, lease);
      armLease(lease);
      entries.set(instance.id, { instance, lease });
      if (old !== undefined) {
        // Same service + id registered again (a restarted process, a re-registration): latest wins.
        leases.delete(old.lease.id);
        if (old.lease.timer !== undefined) clock.clearTimeout(old.lease.timer);
        old.lease.timer = undefined;
      }
      if (old === undefined || !sameEndpoint(toEndpoint(old.instance), toEndpoint(instance))) {
        revision++;
        notify(req.service);
      }
      return { leaseId: lease.id, ttlMs };
    },
    heartbeat(req) {
      const lease = leaseOf(req.leaseId);
      armLease(lease);
      return { ttlMs: lease.ttlMs };
    },
    deregister(req) {
      // Idempotent: an expired or unknown lease is already gone.
      const lease = leases.get(req.leaseId);
      if (lease !== undefined) dropLease(lease);
      return {};
    },
    list(req) {
      const s = snapshot(req.service);
      return { instances: s.instances, revision: s.revision, complete: s.complete };
    },
    watch(req, ctx: HandlerContext) {
      const name = req.service;
      const w = new SnapshotStream(snapshot(name), ctx.signal, (x) => {
        const set = watchers.get(name);
        if (set === undefined || !set.delete(x)) return;
        watcherCount--;
        if (set.size === 0) watchers.delete(name);
      });
      if (closed) w.end();
      if (!w.ended) {
        const set = watchers.get(name) ?? new Set<SnapshotStream>();
        watchers.set(name, set);
        set.add(w);
        watcherCount++;
      }
      return w;
    },
  };

  return {
    impl,
    list(service) {
      return snapshot(service).instances.map(toEndpoint);
    },
    get leases() {
      return leases.size;
    },
    get watchers() {
      return watcherCount;
    },
    get complete() {
      return complete;
    },
    close() {
      closed = true;
      if (warmupTimer !== undefined) clock.clearTimeout(warmupTimer);
      warmupTimer = undefined;
      for (const lease of leases.values()) if (lease.timer !== undefined) clock.clearTimeout(lease.timer);
      for (const set of [...watchers.values()]) for (const w of [...set]) w.end();
    },
  };
}

/**
 * One Watch call: a single-consumer stream holding at most the latest unsent snapshot. A
 * hand-written iterator so that an abort ends a pending `next()` at once (as in @petrel/health).
 */
class SnapshotStream implements AsyncIterableIterator<WatchResponse> {
  private pending: WatchResponse | undefined;
  private waiting: ((r: IteratorResult<WatchResponse>) => void) | undefined;
  private done = false;
  private readonly onAbort = (): void => this.end();

  constructor(
    initial: WatchResponse,
    private readonly signal: AbortSignal,
    private readonly onEnd: (s: SnapshotStream) => void,
  ) {
    this.pending = initial;
    if (signal.aborted) this.done = true;
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  get ended(): boolean {
    return this.done;
  }

  push(snap: WatchResponse): void {
    if (this.done) return;
    const resolve = this.waiting;
    if (resolve !== undefined) {
      this.waiting = undefined;
      resolve({ value: snap, done: false });
    } else {
      this.pending = snap; // coalesce: only the latest full snapshot matters
    }
  }

  next(): Promise<IteratorResult<WatchResponse>> {
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    const snap = this.pending;
    if (snap !== undefined) {
      this.pending = undefined;
      return Promise.resolve({ value: snap, done: false });
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<WatchResponse>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the stream normally (idempotent). */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.pending = undefined;
    this.signal.removeEventListener("abort", this.onAbort);
    this.onEnd(this);
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.({ value: undefined, done: true });
  }
}
