import {
  type Clock,
  type Endpoint,
  type Resolver,
  type ResolverFactory,
  type ResolverListener,
  type ResolverOptions,
  type ResolverTarget,
  systemClock,
} from "@petrel/discovery";
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from "etcd3";
import { backoffDelay } from "./backoff.js";
import { type EtcdConnectionOptions, createEtcdClient } from "./etcd-client.js";
import { checkName, decodeEndpoint, normalizePrefix } from "./endpoint-codec.js";

/** Options for {@link createEtcdResolverFactory}. */
export interface EtcdResolverFactoryOptions {
  /** Key prefix the registrars use. Default `/petrel/services`. */
  prefix?: string;
  /** Extra etcd3 client options (credentials, auth, ...). */
  client?: EtcdConnectionOptions["client"];
}

/**
 * Builds resolvers for `etcd://host:port[,host:port]/service`. Each resolver lists
 * `<prefix>/<service>/`, then watches from the revision after that list, and delivers the full
 * list on every change. When the watch breaks or etcd is unreachable it reports `onError`, keeps
 * the last list, and re-lists with backoff (which also covers compacted revisions); after each
 * successful re-list it delivers the current list again, so the owner knows it is fresh.
 */
export function createEtcdResolverFactory(options: EtcdResolverFactoryOptions = {}): ResolverFactory {
  const prefix = normalizePrefix(options.prefix);
  return {
    scheme: "etcd",
    build(target: ResolverTarget, listener: ResolverListener, opts?: ResolverOptions): Resolver {
      if (!target.authority) throw new Error(`etcd resolver: target "${target.raw}" needs etcd hosts (etcd://host:port/service)`);
      const service = checkName("service", target.path.replace(/^\/+/, ""));
      const client = createEtcdClient({ hosts: target.authority, client: options.client });
      return new EtcdResolver(client, `${prefix}/${service}/`, listener, opts?.clock ?? systemClock);
    },
  };
}

/** The `etcd` resolver factory with default options; register it with `registerResolver`. */
export const etcdResolverFactory: ResolverFactory = createEtcdResolverFactory();

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

const noop = () => {};

class EtcdResolver implements Resolver {
  private entries = new Map<string, Endpoint>();
  private watcher: Watcher | undefined;
  private timer: unknown;
  private attempt = 0;
  /** Bumped per sync, so a slow list that lost the race is dropped. */
  private generation = 0;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly dir: string,
    private readonly listener: ResolverListener,
    private readonly clock: Clock,
  ) {
    void this.sync();
  }

  resolveNow(): void {
    // Only meaningful while waiting to retry; a healthy watch is already current.
    if (this.closed || this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    void this.sync();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const cancelled = this.dropWatcher();
    // Let the watch cancel reach etcd before the channels close; bounded in case etcd is gone.
    let t: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((r) => {
      t = setTimeout(r, 2_000);
      t.unref();
    });
    void Promise.race([cancelled, bound]).then(() => {
      clearTimeout(t);
      this.client.close();
    });
  }

  private async sync(): Promise<void> {
    const gen = ++this.generation;
    await this.dropWatcher();
    try {
      const res = await this.client.getAll().prefix(this.dir).exec();
      if (this.closed || gen !== this.generation) return;
      const next = new Map<string, Endpoint>();
      for (const kv of res.kvs) this.apply(next, kv);
      this.entries = next;
      this.attempt = 0;
      this.deliver();
      const w = this.client
        .watch()
        .prefix(this.dir)
        .startRevision((BigInt(res.header.revision) + 1n).toString())
        .watcher();
      this.watcher = w;
      w.on("data", (r) => this.onData(w, r));
      w.on("disconnected", (err) => this.fail(w, err));
      w.on("error", (err) => this.fail(w, err));
    } catch (e) {
      if (this.closed || gen !== this.generation) return;
      this.fail(undefined, e);
    }
  }

  private onData(w: Watcher, res: IWatchResponse): void {
    if (w !== this.watcher || this.closed || res.events.length === 0) return;
    for (const ev of res.events) {
      if (ev.type === "Delete") this.entries.delete(ev.kv.key.toString());
      else this.apply(this.entries, ev.kv);
    }
    this.deliver();
  }

  private apply(into: Map<string, Endpoint>, kv: IKeyValue): void {
    const key = kv.key.toString();
    const e = decodeEndpoint(key, kv.value.toString());
    if (e instanceof Error) {
      // A malformed value is not an outage: skip it (dropping an earlier good value) and say so.
      into.delete(key);
      if (!this.closed) this.listener.onError(e);
      return;
    }
    into.set(key, e);
  }

  private deliver(): void {
    const keys = [...this.entries.keys()].sort();
    this.listener.onUpdate(keys.map((k) => this.entries.get(k) as Endpoint));
  }

  private fail(w: Watcher | undefined, err: unknown): void {
    if (this.closed || (w !== undefined && w !== this.watcher)) return;
    void this.dropWatcher();
    this.listener.onError(new Error(`etcd resolver (${this.dir}): ${asError(err).message}`, { cause: err }));
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        void this.sync();
      },
      backoffDelay(this.attempt++),
    );
  }

  /** Detaches the current watcher; the promise settles when etcd confirmed (or cannot). */
  private dropWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    if (!w) return Promise.resolve();
    w.removeAllListeners("disconnected");
    w.removeAllListeners("error");
    // An 'error' without a listener would throw out of the EventEmitter.
    w.on("error", noop);
    return w.cancel().catch(noop);
  }
}
