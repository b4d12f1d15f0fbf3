import { Code, RpcError, createClient, type Client } from "@petrel/core";
import { RetryBackoff, type RetryBackoffOptions } from "./backoff.js";
import { Registry } from "./gen/petrel/registry/v1/registry_pb.js";
import { asError, checkRegistryAddress, type RegistryTransportFactory } from "./registry-client.js";
import { toInstance } from "./registry-instance.js";
import { parseHostPort } from "./address.js";
import { systemClock, type Clock, type Endpoint, type Registrar, type Registration } from "./types.js";

/** Options of `createRegistryRegistrar`. */
export interface RegistryRegistrarOptions {
  /** The registry's `host:port`. */
  address: string;
  /** Makes the transport to the registry (closed by `close()` when it has `close`). */
  transport: RegistryTransportFactory;
  /** Time source for heartbeats and retries. Default: `systemClock`. */
  clock?: Clock;
  /** Per-call timeout. Default 5000 ms. */
  callTimeoutMs?: number;
  /** Delays between re-registration attempts. Default 1 s growing to 30 s. */
  backoff?: RetryBackoffOptions;
  /** Background failures (a missed heartbeat, a failed re-registration). Default: ignored. */
  onError?: (error: Error) => void;
}

/** Lease TTL when `register` is given none. */
const DEFAULT_TTL_MS = 10_000;

/**
 * A `Registrar` for the embedded registry: `register` obtains a lease and heartbeats it every
 * TTL/3 in the background; when the registry answers that the lease is gone (it expired while the
 * registry was unreachable, or the registry restarted and forgot it), it registers again, with
 * backoff while that fails. The first `register` fails if the registry cannot be reached.
 */
export function createRegistryRegistrar(options: RegistryRegistrarOptions): Registrar {
  checkRegistryAddress("createRegistryRegistrar", options.address);
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.callTimeoutMs ?? 5_000;
  const transport = options.transport(options.address);
  const client: Client<typeof Registry> = createClient(Registry, transport);
  const live = new Set<Keeper>();
  let closed = false;
  const report = (e: unknown): void => options.onError?.(asError(e));

  return {
    async register(service, endpoint, opts) {
      if (closed) throw new Error("registrar closed");
      if (typeof service !== "string" || service === "") throw new TypeError("register: service is required");
      if (endpoint === null || typeof endpoint !== "object") throw new TypeError("register: endpoint is required");
      parseHostPort(endpoint.address);
      const ttlMs = opts?.ttlMs ?? DEFAULT_TTL_MS;
      if (!(ttlMs > 0)) throw new TypeError("register: ttlMs must be > 0");
      const ep: Endpoint = { ...endpoint, id: endpoint.id || endpoint.address };
      const keeper = new Keeper(client, clock, timeoutMs, service, ep, ttlMs, new RetryBackoff(options.backoff), report, (k) =>
        live.delete(k),
      );
      await keeper.start();
      live.add(keeper);
      return keeper;
    },
    async close() {
      closed = true;
      await Promise.all([...live].map((k) => k.deregister()));
      await transport.close?.();
    },
  };
}

/** One registration and its keepalive loop. Calls never overlap: one timer, one call at a time. */
class Keeper implements Registration {
  private lease: { id: string; ttlMs: number } | undefined;
  private timer: unknown;
  private inflight: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly client: Client<typeof Registry>,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    readonly service: string,
    readonly endpoint: Endpoint,
    private readonly ttlMs: number,
    private readonly backoff: RetryBackoff,
    private readonly report: (e: unknown) => void,
    private readonly onStop: (k: Keeper) => void,
  ) {}

  async start(): Promise<void> {
    await this.registerOnce();
    this.schedule(this.interval());
  }

  async deregister(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop(this);
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inflight; // a re-registration in progress may hand us a new lease to drop
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return;
    try {
      await this.client.deregister({ leaseId: lease.id }, { timeoutMs: this.timeoutMs });
    } catch (e) {
      // The lease expires by itself; deregistration only makes the removal immediate.
      this.report(e);
    }
  }

  private interval(): number {
    return Math.max(1, Math.floor((this.lease?.ttlMs ?? this.ttlMs) / 3));
  }

  private async registerOnce(): Promise<void> {
    const res = await this.client.register(
      { service: this.service, instance: toInstance(this.endpoint), ttlMs: this.ttlMs },
      { timeoutMs: this.timeoutMs },
    );
    this.lease = { id: res.leaseId, ttlMs: res.ttlMs || this.ttlMs };
    this.backoff.reset();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.inflight = this.tick();
    }, ms);
  }

  /** One step: heartbeat the lease, or register again when it is gone. Never throws. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.lease !== undefined) {
      try {
        await this.client.heartbeat({ leaseId: this.lease.id }, { timeoutMs: this.timeoutMs });
        this.backoff.reset();
        this.schedule(this.interval());
        return;
      } catch (e) {
        this.report(e);
        if (!(e instanceof RpcError && e.code === Code.NOT_FOUND)) {
          // Unreachable: keep heartbeating; if the lease expires meanwhile, NOT_FOUND tells us later.
          this.schedule(Math.min(this.interval(), this.backoff.next()));
          return;
        }
        this.lease = undefined;
      }
    }
    try {
      await this.registerOnce();
      if (this.stopped) return; // deregister() drops the new lease
      this.schedule(this.interval());
    } catch (e) {
      this.report(e);
      this.schedule(this.backoff.next());
    }
  }
}
