import { type Clock, type Endpoint, type Registrar, type Registration, systemClock } from "@petrel/discovery";
import type { Etcd3, Lease } from "etcd3";
import { backoffDelay } from "./backoff.js";
import { type EtcdConnectionOptions, createEtcdClient } from "./etcd-client.js";
import { checkEndpoint, checkName, encodeEndpoint, normalizePrefix } from "./endpoint-codec.js";

/** Options for {@link createEtcdRegistrar}. */
export interface EtcdRegistrarOptions extends EtcdConnectionOptions {
  /** Key prefix; keys are `<prefix>/<service>/<instance-id>`. Default `/petrel/services`. */
  prefix?: string;
  /** Default lease TTL in ms, rounded up to whole seconds (etcd's unit), at least 1 s. Default 10 000. */
  ttlMs?: number;
  /** Timers for re-registration backoff. Default: the system clock. */
  clock?: Clock;
  /**
   * Background failures: a lost lease, a failed re-registration attempt (it is retried with
   * backoff until it succeeds or the registration is deregistered). Default: ignored.
   */
  onError?: (error: Error) => void;
}

/** An etcd registration; `update` rewrites the stored endpoint under the same lease. */
export interface EtcdRegistration extends Registration {
  /** The etcd key, `<prefix>/<service>/<instance-id>`. */
  readonly key: string;
  /** Replaces the stored endpoint (same `id`), e.g. new metadata or weight. */
  update(endpoint: Endpoint): Promise<void>;
}

/** A registrar backed by etcd leases. */
export interface EtcdRegistrar extends Registrar {
  register(service: string, endpoint: Endpoint, options?: { ttlMs?: number }): Promise<EtcdRegistration>;
}

/**
 * Registers endpoints in etcd under a lease kept alive by etcd3's keepalive stream. When the lease
 * is lost (etcd says it expired, or etcd was unreachable for longer than 2 x TTL) a new lease is
 * granted and the key re-put, with backoff until etcd answers. `register` rejects if the first
 * write fails, so a caller knows at start-up that etcd is unreachable.
 */
export function createEtcdRegistrar(options: EtcdRegistrarOptions): EtcdRegistrar {
  const prefix = normalizePrefix(options.prefix);
  const defaultTtlMs = checkTtl(options.ttlMs ?? 10_000);
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? (() => {});
  const client = createEtcdClient(options);
  const live = new Set<EtcdLeaseRegistration>();
  let closed = false;

  return {
    async register(service, endpoint, opts) {
      if (closed) throw new Error("etcd registrar is closed");
      checkName("service", service);
      checkEndpoint(endpoint);
      const ttlMs = checkTtl(opts?.ttlMs ?? defaultTtlMs);
      const key = `${prefix}/${service}/${endpoint.id}`;
      const reg = new EtcdLeaseRegistration(client, service, endpoint, key, Math.ceil(ttlMs / 1000), clock, onError, () =>
        live.delete(reg),
      );
      await reg.establish();
      live.add(reg);
      return reg;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...live].map((r) => r.deregister()));
      client.close();
    },
  };
}

function checkTtl(ttlMs: number): number {
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`etcd: ttlMs must be a positive number, got ${String(ttlMs)}`);
  }
  return Math.max(1_000, ttlMs);
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

class EtcdLeaseRegistration implements EtcdRegistration {
  private lease: Lease | undefined;
  private timer: unknown;
  private attempt = 0;
  /** While an establish() is in flight its own failure schedules the retry, not the `lost` event. */
  private establishing = false;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    readonly service: string,
    private current: Endpoint,
    readonly key: string,
    private readonly ttlSec: number,
    private readonly clock: Clock,
    private readonly onError: (error: Error) => void,
    private readonly onClosed: () => void,
  ) {}

  get endpoint(): Endpoint {
    return this.current;
  }

  /** Grants a fresh lease and puts the key under it. @internal */
  async establish(): Promise<void> {
    const lease = this.client.lease(this.ttlSec);
    lease.on("lost", (err) => this.lost(lease, err));
    this.lease = lease;
    this.establishing = true;
    try {
      await lease.put(this.key).value(encodeEndpoint(this.current)).exec();
    } catch (e) {
      if (this.lease === lease) this.lease = undefined;
      lease.release();
      throw new Error(`etcd: registering ${this.key} failed: ${asError(e).message}`, { cause: e });
    } finally {
      this.establishing = false;
    }
    if (this.closed) {
      await lease.revoke().catch(() => {});
      return;
    }
    this.attempt = 0;
  }

  private lost(lease: Lease, err: Error): void {
    if (this.closed || this.establishing || lease !== this.lease) return;
    this.lease = undefined;
    this.onError(new Error(`etcd: lease for ${this.key} lost, re-registering: ${err.message}`, { cause: err }));
    this.retryLater();
  }

  private retryLater(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        if (this.closed) return;
        this.establish().catch((e) => {
          if (this.closed) return;
          this.onError(asError(e));
          this.retryLater();
        });
      },
      backoffDelay(this.attempt++),
    );
  }

  async update(endpoint: Endpoint): Promise<void> {
    checkEndpoint(endpoint);
    if (endpoint.id !== this.current.id) {
      throw new TypeError(`etcd: update must keep the instance id "${this.current.id}" (got "${endpoint.id}")`);
    }
    if (this.closed) throw new Error(`etcd: ${this.key} is deregistered`);
    this.current = endpoint;
    // Without a live lease the pending re-registration writes the new value.
    if (this.lease && !this.establishing) await this.lease.put(this.key).value(encodeEndpoint(endpoint)).exec();
  }

  /**
   * Revokes the lease, which deletes the key. If etcd is unreachable the keepalive still stops,
   * so the key expires within its TTL; the error is reported.
   */
  async deregister(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const lease = this.lease;
    this.lease = undefined;
    if (!lease) return;
    try {
      await lease.revoke();
    } catch (e) {
      lease.release();
      throw new Error(`etcd: deregistering ${this.key} failed (it expires within its TTL): ${asError(e).message}`, { cause: e });
    }
  }
}
