import { Code, RpcError, type HandlerContext, type ServiceImpl } from "@petrel/core";
import {
  type Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "./gen/grpc/health/v1/health_pb.js";

/** A status an application can set. `SERVICE_UNKNOWN` forgets the service (Check answers NOT_FOUND). */
export type HealthStatus = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

/** Options of `createHealthService`. */
export interface HealthServiceOptions {
  /**
   * Initial statuses by service name (fully-qualified, e.g. `petrel.examples.inventory.v1.InventoryService`).
   * `""` is the overall server status and defaults to `SERVING`.
   */
  statuses?: Record<string, HealthStatus>;
}

/** The health service and the handle the application drives it with. */
export interface HealthService {
  /** The `grpc.health.v1.Health` implementation: `createRouter().service(Health, health.impl)`. */
  readonly impl: ServiceImpl<typeof Health>;
  /**
   * Sets the status of a service (`""` = the whole server). Watchers of it get an update when the
   * status they see changes. While shut down, the status is recorded and applies on `resume()`.
   */
  setStatus(service: string, status: HealthStatus): void;
  /** The status Check/Watch report now (`SERVICE_UNKNOWN` for an unknown service). */
  getStatus(service: string): HealthStatus;
  /**
   * Reports every known service, and the server (`""`), as NOT_SERVING, as on graceful shutdown:
   * load balancers and watchers stop sending new calls while in-flight ones finish.
   */
  shutdown(): void;
  /** Undoes `shutdown()`: every service reports its recorded status again. */
  resume(): void;
  /** Whether `shutdown()` is in effect. */
  readonly isShutdown: boolean;
  /** Number of open Watch calls (for tests and metrics). */
  readonly watchers: number;
}

const STATUSES: Record<HealthStatus, ServingStatus> = {
  SERVING: ServingStatus.SERVING,
  NOT_SERVING: ServingStatus.NOT_SERVING,
  SERVICE_UNKNOWN: ServingStatus.SERVICE_UNKNOWN,
};

/** A watcher that falls this far behind gets only the latest statuses (older updates are dropped). */
const MAX_PENDING = 16;

/**
 * Creates the standard gRPC health service (grpc/doc/health-checking.md): Check answers the
 * current status or NOT_FOUND for an unknown service; Watch sends the current status at once
 * (SERVICE_UNKNOWN for an unknown service, without ending the call), then one message per change,
 * until the client cancels. It is an ordinary Petrel service, so it works on every protocol.
 */
export function createHealthService(options: HealthServiceOptions = {}): HealthService {
  /** The statuses the application set (what applies when not shut down). */
  const desired = new Map<string, ServingStatus>([["", ServingStatus.SERVING]]);
  for (const [name, s] of Object.entries(options.statuses ?? {})) {
    const v = toServingStatus(s);
    if (v === ServingStatus.SERVICE_UNKNOWN) desired.delete(name);
    else desired.set(name, v);
  }
  const watchers = new Map<string, Set<Watcher>>();
  let watcherCount = 0;
  let shut = false;

  const effective = (name: string): ServingStatus => {
    const s = desired.get(name);
    if (s === undefined) return ServingStatus.SERVICE_UNKNOWN;
    return shut ? ServingStatus.NOT_SERVING : s;
  };

  /** Runs `change`, then tells the watchers of every service whose effective status may have changed. */
  const update = (names: Iterable<string> | "all", change: () => void): void => {
    if (names === "all") {
      change();
      for (const [name, set] of watchers) for (const w of set) w.notify(effective(name));
      return;
    }
    change();
    for (const name of names) {
      const set = watchers.get(name);
      if (set === undefined) continue;
      const s = effective(name);
      for (const w of set) w.notify(s);
    }
  };

  const removeWatcher = (name: string, w: Watcher): void => {
    const set = watchers.get(name);
    if (set === undefined || !set.delete(w)) return;
    watcherCount--;
    if (set.size === 0) watchers.delete(name);
  };

  const impl: ServiceImpl<typeof Health> = {
    check(req: HealthCheckRequest): { status: ServingStatus } {
      const status = effective(req.service);
      if (status === ServingStatus.SERVICE_UNKNOWN) throw new RpcError(Code.NOT_FOUND, `unknown service "${req.service}"`);
      return { status };
    },
    watch(req: HealthCheckRequest, ctx: HandlerContext): AsyncIterable<{ status: ServingStatus }> {
      const name = req.service;
      const w = new Watcher(effective(name), ctx.signal, (x) => removeWatcher(name, x));
      if (!w.closed) {
        const set = watchers.get(name) ?? new Set<Watcher>();
        watchers.set(name, set);
        set.add(w);
        watcherCount++;
      }
      return w;
    },
  };

  return {
    impl,
    setStatus(service, status) {
      const v = toServingStatus(status);
      update([service], () => {
        if (v === ServingStatus.SERVICE_UNKNOWN) desired.delete(service);
        else desired.set(service, v);
      });
    },
    getStatus(service) {
      return fromServingStatus(effective(service));
    },
    shutdown() {
      if (!shut) update("all", () => (shut = true));
    },
    resume() {
      if (shut) update("all", () => (shut = false));
    },
    get isShutdown() {
      return shut;
    },
    get watchers() {
      return watcherCount;
    },
  };
}

function toServingStatus(s: HealthStatus): ServingStatus {
  const v = Object.hasOwn(STATUSES, s) ? STATUSES[s] : undefined;
  if (v === undefined) throw new TypeError(`invalid health status ${JSON.stringify(s)}: expected SERVING, NOT_SERVING or SERVICE_UNKNOWN`);
  return v;
}

function fromServingStatus(s: ServingStatus): HealthStatus {
  switch (s) {
    case ServingStatus.SERVING:
      return "SERVING";
    case ServingStatus.NOT_SERVING:
      return "NOT_SERVING";
    default:
      return "SERVICE_UNKNOWN";
  }
}

type Out = Pick<HealthCheckResponse, "status">;

/**
 * One Watch call: a single-consumer stream of status changes. A hand-written iterator rather
 * than an async generator, so that both `return()` and an abort end a pending `next()` at once
 * and unregister the watcher (a generator suspended in `await` would only see `return()` later).
 */
class Watcher implements AsyncIterableIterator<Out> {
  private readonly pending: ServingStatus[];
  /** The last status queued or sent: an update equal to it is not a change. */
  private last: ServingStatus;
  private waiting: ((r: IteratorResult<Out>) => void) | undefined = undefined;
  private done = false;
  private readonly onAbort = (): void => this.close();

  constructor(
    initial: ServingStatus,
    private readonly signal: AbortSignal,
    private readonly onClose: (w: Watcher) => void,
  ) {
    this.pending = [initial];
    this.last = initial;
    if (signal.aborted) this.done = true;
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  get closed(): boolean {
    return this.done;
  }

  /** Queues `status` if it differs from the last one queued. */
  notify(status: ServingStatus): void {
    if (this.done || status === this.last) return;
    this.last = status;
    const resolve = this.waiting;
    if (resolve !== undefined) {
      this.waiting = undefined;
      resolve({ value: { status }, done: false });
      return;
    }
    this.pending.push(status);
    if (this.pending.length > MAX_PENDING) this.pending.shift();
  }

  next(): Promise<IteratorResult<Out>> {
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    const status = this.pending.shift();
    if (status !== undefined) return Promise.resolve({ value: { status }, done: false });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<Out>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the stream and unregisters the watcher (idempotent). */
  private close(): void {
    if (this.done) return;
    this.done = true;
    this.pending.length = 0;
    this.signal.removeEventListener("abort", this.onAbort);
    this.onClose(this);
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.({ value: undefined, done: true });
  }
}
