// Resolves `zk://host:port[,host:port]/service` by watching `<root>/<service>/providers`.
import {
  type Clock,
  type Endpoint,
  type Resolver,
  type ResolverFactory,
  type ResolverListener,
  type ResolverTarget,
  systemClock,
} from "@petrel/discovery";
import type { Event, Stat } from "node-zookeeper-client";
import { checkConnect, checkName, decodeEndpoint, normalizeRoot, providersPath } from "./zk-endpoint.js";
import { ZK_NO_NODE, ZkSession, zkCode } from "./zk-session.js";

/** Options of {@link createZkResolverFactory}. */
export interface ZkResolverFactoryOptions {
  /** Znode root, as the registrars use it. Default `/petrel`. */
  root?: string;
  /** Requested session timeout (watches only; no ephemerals). Default 10 000 ms. */
  sessionTimeoutMs?: number;
  /** Report `onError` when no connection is up this long after start. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Upper bound of the random pause between rounds of connection attempts. Default 1 000 ms. */
  spinDelayMs?: number;
}

/** Splits a `zk://` target into connect string and service name; throws a TypeError on bad input. @internal */
export function parseZkTarget(target: ResolverTarget): { connect: string; service: string } {
  if (target.scheme !== "zk") throw new TypeError(`zk: not a zk:// target: ${target.raw}`);
  if (!target.authority) throw new TypeError(`zk: target ${target.raw} needs servers: zk://host:port[,host:port]/service`);
  const service = target.path.replace(/^\/+/, "");
  if (!service) throw new TypeError(`zk: target ${target.raw} needs a service: zk://host:port/service`);
  return { connect: checkConnect(target.authority), service: checkName("service", service) };
}

/**
 * A resolver factory for `zk:` targets. Every resolver keeps its own session and delivers the
 * full list whenever an instance joins, leaves or changes its data.
 */
export function createZkResolverFactory(options: ZkResolverFactoryOptions = {}): ResolverFactory {
  const root = normalizeRoot(options.root);
  const positive = (name: string, v: number | undefined, def: number) => {
    const x = v ?? def;
    if (!Number.isFinite(x) || x <= 0) throw new TypeError(`zk: ${name} must be a positive number, got ${String(v)}`);
    return x;
  };
  const sessionTimeoutMs = positive("sessionTimeoutMs", options.sessionTimeoutMs, 10_000);
  const connectTimeoutMs = positive("connectTimeoutMs", options.connectTimeoutMs, 10_000);
  const spinDelayMs = positive("spinDelayMs", options.spinDelayMs, 1_000);
  return {
    scheme: "zk",
    build(target, listener, buildOptions) {
      const { connect, service } = parseZkTarget(target);
      return new ZkResolver(
        providersPath(root, service),
        connect,
        listener,
        buildOptions?.clock ?? systemClock,
        sessionTimeoutMs,
        connectTimeoutMs,
        spinDelayMs,
      );
    },
  };
}

/** The `zk:` resolver factory with default options; register it with `registerResolver`. */
export const zkResolverFactory: ResolverFactory = createZkResolverFactory();

class ZkResolver implements Resolver {
  readonly #dir: string;
  readonly #listener: ResolverListener;
  readonly #clock: Clock;
  readonly #session: ZkSession;
  /** Known children: endpoint, or null for a znode whose data does not parse. */
  readonly #cache = new Map<string, Endpoint | null>();
  /** Children whose data must be (re-)read. */
  readonly #dirty = new Set<string>();
  #needList = true;
  #running = false;
  #closed = false;
  #last: string | undefined;
  #connectTimer: unknown;

  // One function per watch kind: the library dedupes watchers by identity, so re-arming after a
  // reconnect does not pile up callbacks.
  readonly #onChildren = () => this.#kick(true);
  readonly #onData = (ev: Event) => {
    this.#dirty.add(ev.getPath().slice(this.#dir.length + 1));
    this.#kick(false);
  };

  constructor(
    dir: string,
    connect: string,
    listener: ResolverListener,
    clock: Clock,
    sessionTimeoutMs: number,
    connectTimeoutMs: number,
    spinDelayMs: number,
  ) {
    this.#dir = dir;
    this.#listener = listener;
    this.#clock = clock;
    this.#connectTimer = clock.setTimeout(() => {
      if (!this.#closed && !this.#session.connected) this.#error(new Error(`zk: cannot reach ${connect}`));
    }, connectTimeoutMs);
    this.#session = new ZkSession(
      { connect, sessionTimeoutMs, spinDelayMs },
      {
        onConnected: (fresh) => {
          this.#clock.clearTimeout(this.#connectTimer);
          // A new session has no watches; an old one may have missed events: re-read everything.
          if (fresh) this.#cache.clear();
          for (const id of this.#cache.keys()) this.#dirty.add(id);
          this.#kick(true);
        },
        onDisconnected: () => this.#error(new Error(`zk: connection to ${connect} lost; keeping the last endpoints`)),
        onExpired: () => this.#error(new Error(`zk: session with ${connect} expired; keeping the last endpoints`)),
      },
    );
  }

  resolveNow(): void {
    this.#kick(true);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#connectTimer);
    void this.#session.close();
  }

  #error(e: Error): void {
    if (this.#closed) return;
    // The next good list is delivered even if unchanged, so the owner learns the registry is back.
    this.#last = undefined;
    this.#listener.onError(e);
  }

  /** Schedules work; one worker at a time, so bursts of events coalesce. */
  #kick(list: boolean): void {
    if (list) this.#needList = true;
    if (this.#running || this.#closed || !this.#session.connected) return;
    this.#running = true;
    this.#work()
      .then(
        () => this.#publish(),
        (e) => {
          // Lost the connection mid-way: retried on reconnect, and onDisconnected already reported it.
          this.#needList = true;
          if (this.#session.connected) this.#error(e instanceof Error ? e : new Error(String(e)));
        },
      )
      .finally(() => {
        this.#running = false;
        if ((this.#needList || this.#dirty.size > 0) && this.#session.connected) this.#kick(false);
      });
  }

  async #work(): Promise<void> {
    while (!this.#closed && (this.#needList || this.#dirty.size > 0)) {
      if (this.#needList) {
        this.#needList = false;
        const children = await this.#list();
        const now = new Set(children);
        for (const id of this.#cache.keys()) if (!now.has(id)) this.#cache.delete(id);
        for (const id of children) if (!this.#cache.has(id)) this.#dirty.add(id);
      }
      const ids = [...this.#dirty];
      this.#dirty.clear();
      // Read in parallel: one round trip for the whole batch.
      await Promise.all(ids.map((id) => this.#read(id)));
    }
  }

  /** Children of the providers node, watched; a missing node is an empty service, watched until it appears. */
  async #list(): Promise<string[]> {
    try {
      return await this.#session.call<string[]>((c, done) => c.getChildren(this.#dir, this.#onChildren, done));
    } catch (e) {
      if (zkCode(e) !== ZK_NO_NODE) throw e;
    }
    const stat = await this.#session.call<Stat | null>((c, done) => c.exists(this.#dir, this.#onChildren, done));
    if (stat) this.#needList = true; // created in between: list again
    return [];
  }

  async #read(id: string): Promise<void> {
    const path = `${this.#dir}/${id}`;
    let data: Buffer | undefined;
    try {
      data = await this.#session.call<Buffer | undefined>((c, done) => c.getData(path, this.#onData, done));
    } catch (e) {
      if (zkCode(e) !== ZK_NO_NODE) throw e;
      this.#cache.delete(id);
      return;
    }
    const ep = decodeEndpoint(path, data);
    if (ep instanceof Error) {
      if (this.#cache.get(id) !== null) this.#error(ep);
      this.#cache.set(id, null);
    } else {
      this.#cache.set(id, ep);
    }
  }

  #publish(): void {
    if (this.#closed || this.#needList || this.#dirty.size > 0) return; // more work queued: publish after it
    const list: Endpoint[] = [];
    for (const ep of this.#cache.values()) if (ep) list.push(ep);
    list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const key = JSON.stringify(list);
    if (key === this.#last) return;
    this.#last = key;
    this.#listener.onUpdate(list);
  }
}
