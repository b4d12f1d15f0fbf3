// Registers instances as ephemeral znodes; re-creates them on a new session after expiry.
import type { Endpoint, Registrar, Registration } from "@petrel/discovery";
import zookeeper, { type Stat } from "node-zookeeper-client";
import { checkConnect, checkEndpoint, checkName, encodeEndpoint, normalizeRoot, providersPath } from "./zk-endpoint.js";
import { ZK_NO_NODE, ZK_NODE_EXISTS, ZkSession, zkCode } from "./zk-session.js";

/** Options of {@link createZkRegistrar}. */
export interface ZkRegistrarOptions {
  /** ZooKeeper servers, `host:port[,host:port]`. */
  connect: string;
  /** Znode root; instances live at `<root>/<service>/providers/<id>`. Default `/petrel`. */
  root?: string;
  /**
   * Requested session timeout: a killed process's znodes vanish this long after it stopped
   * answering. The server clamps it to [2, 20] x its tickTime. Default 10 000 ms.
   */
  sessionTimeoutMs?: number;
  /** How long `register`/`deregister` wait for ZooKeeper before they reject. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Upper bound of the random pause between rounds of connection attempts. Default 1 000 ms. */
  spinDelayMs?: number;
  /** Failures in the background (re-registration after a reconnect or expiry). Default: ignored. */
  onError?: (error: Error) => void;
}

/** A ZooKeeper registration; `update` rewrites the instance's data in place. */
export interface ZkRegistration extends Registration {
  update(endpoint: Endpoint): Promise<void>;
}

/** A {@link Registrar} whose registrations can be updated in place. */
export interface ZkRegistrar extends Registrar {
  /** Registers (or, for a known service + id, updates) an instance; `ttlMs` is ignored (see the session timeout). */
  register(service: string, endpoint: Endpoint, options?: { ttlMs?: number }): Promise<ZkRegistration>;
}

interface Entry {
  readonly service: string;
  readonly path: string;
  endpoint: Endpoint;
  data: Buffer;
  /** Serializes writes to this znode. */
  chain: Promise<void>;
}

/** First and longest wait before re-registering an instance whose write failed after a (re)connect. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * A {@link Registrar} on ZooKeeper: one session per registrar, one ephemeral znode per instance
 * holding its JSON endpoint, parents created as persistent nodes. After the session expires
 * (process paused, network cut longer than the timeout) it opens a new session and re-creates
 * every znode. `ttlMs` of `register` is ignored: the session timeout is the TTL.
 */
export function createZkRegistrar(options: ZkRegistrarOptions): ZkRegistrar {
  const opts = validateZkRegistrarOptions(options);
  const entries = new Map<string, Entry>();
  let closed = false;

  const session = new ZkSession(
    { connect: opts.connect, sessionTimeoutMs: opts.sessionTimeoutMs, spinDelayMs: opts.spinDelayMs },
    {
      // On every (re)connect make sure each znode exists and is ours: after expiry they are gone,
      // and a znode left by a previous process with the same instance id must be taken over.
      onConnected: () => {
        for (const e of entries.values()) reensure(e, RETRY_FIRST_MS);
      },
      onDisconnected: () => {},
      onExpired: () => opts.onError(new Error(`zk: session expired (${opts.connect}); registering again`)),
    },
  );

  const call = <T>(fn: Parameters<typeof session.call<T>>[0]) => session.call<T>(fn, opts.requestTimeoutMs);

  // Re-registrations that failed and wait to be tried again (cleared by close()).
  const retryTimers = new Set<ReturnType<typeof setTimeout>>();

  /**
   * Makes sure `e` exists after a (re)connect, trying again with backoff while it fails: right
   * after a server restart or on a flapping link the first write can fail (no answer, connection
   * lost), and without a retry the instance would stay unregistered until the next reconnect.
   */
  function reensure(e: Entry, delayMs: number): void {
    ensure(e).catch((err: unknown) => {
      opts.onError(err instanceof Error ? err : new Error(String(err)));
      if (closed || entries.get(e.path) !== e) return;
      const t = setTimeout(() => {
        retryTimers.delete(t);
        // Not connected: the next onConnected tries again.
        if (!closed && session.connected && entries.get(e.path) === e) reensure(e, Math.min(delayMs * 2, RETRY_MAX_MS));
      }, delayMs);
      (t as { unref?: () => void }).unref?.();
      retryTimers.add(t);
    });
  }

  function ensure(e: Entry): Promise<void> {
    const run = e.chain.then(() => write(e));
    e.chain = run.catch(() => {});
    return run;
  }

  async function write(e: Entry): Promise<void> {
    if (entries.get(e.path) !== e) return; // deregistered meanwhile
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await call<string>((c, done) => c.create(e.path, e.data, zookeeper.CreateMode.EPHEMERAL, done));
        return;
      } catch (err) {
        const code = zkCode(err);
        if (code === ZK_NO_NODE) {
          const parent = e.path.slice(0, e.path.lastIndexOf("/"));
          await call<string>((c, done) => c.mkdirp(parent, zookeeper.CreateMode.PERSISTENT, done));
          continue;
        }
        if (code !== ZK_NODE_EXISTS) throw err;
      }
      const found = await call<[Buffer | undefined, Stat] | null>((c, done) =>
        c.getData(e.path, (err, data, stat) => (zkCode(err) === ZK_NO_NODE ? done(null, null) : done(err, [data, stat]))),
      );
      if (!found) continue; // vanished meanwhile
      const [data, stat] = found;
      if (stat.ephemeralOwner.equals(session.sessionId())) {
        // Ours already (a reconnect within the session): write only what changed.
        if (!data?.equals(e.data)) await call<Stat>((c, done) => c.setData(e.path, e.data, -1, done));
        return;
      }
      // Owned by another (dead or previous) session of this instance id: replace it.
      await call<void>((c, done) => c.remove(e.path, stat.version, done)).catch((err) => {
        if (zkCode(err) !== ZK_NO_NODE && zkCode(err) !== zookeeper.Exception.BAD_VERSION) throw err;
      });
    }
    throw new Error(`zk: could not create ${e.path}: it keeps changing`);
  }

  async function remove(e: Entry): Promise<void> {
    if (entries.get(e.path) === e) entries.delete(e.path);
    const run = e.chain.then(() =>
      call<void>((c, done) => c.remove(e.path, -1, done)).catch((err) => {
        if (zkCode(err) !== ZK_NO_NODE) throw err;
      }),
    );
    e.chain = run.catch(() => {});
    await run;
  }

  return {
    async register(service, endpoint) {
      if (closed) throw new Error("zk: registrar is closed");
      checkEndpoint(endpoint);
      const path = `${providersPath(opts.root, checkName("service", service))}/${endpoint.id}`;
      let e = entries.get(path);
      if (e) {
        e.endpoint = endpoint;
        e.data = encodeEndpoint(endpoint);
      } else {
        e = { service, path, endpoint, data: encodeEndpoint(endpoint), chain: Promise.resolve() };
        entries.set(path, e);
      }
      const entry = e;
      try {
        await ensure(entry);
      } catch (err) {
        // Forget it, and undo a write that may still land.
        remove(entry).catch(() => {});
        throw err;
      }
      const reg: ZkRegistration = {
        service,
        get endpoint() {
          return entry.endpoint;
        },
        async update(next) {
          checkEndpoint(next);
          if (next.id !== entry.endpoint.id) throw new TypeError(`zk: update cannot change the instance id (${entry.endpoint.id})`);
          if (entries.get(entry.path) !== entry) throw new Error(`zk: ${entry.path} is not registered`);
          entry.endpoint = next;
          entry.data = encodeEndpoint(next);
          await ensure(entry);
        },
        deregister: () => remove(entry),
      };
      return reg;
    },
    async close() {
      if (closed) return;
      closed = true;
      entries.clear();
      for (const t of retryTimers) clearTimeout(t);
      retryTimers.clear();
      // Closing the session deletes its ephemeral znodes on the server at once.
      await session.close();
    },
  };
}

/** Fills in the defaults of {@link ZkRegistrarOptions}; throws a TypeError on bad input. @internal */
export function validateZkRegistrarOptions(o: ZkRegistrarOptions): Required<ZkRegistrarOptions> {
  if (o === null || typeof o !== "object") throw new TypeError("zk: registrar options must be an object");
  const positive = (name: string, v: number | undefined, def: number) => {
    const x = v ?? def;
    if (!Number.isFinite(x) || x <= 0) throw new TypeError(`zk: ${name} must be a positive number, got ${String(v)}`);
    return x;
  };
  return {
    connect: checkConnect(o.connect),
    root: normalizeRoot(o.root),
    sessionTimeoutMs: positive("sessionTimeoutMs", o.sessionTimeoutMs, 10_000),
    requestTimeoutMs: positive("requestTimeoutMs", o.requestTimeoutMs, 30_000),
    spinDelayMs: positive("spinDelayMs", o.spinDelayMs, 1_000),
    onError: o.onError ?? (() => {}),
  };
}
