// Registers instances as ephemeral znodes; re-creates them on a new session after expiry.
import type { Endpoint, Registrar, Registration } from "@petrel/discovery";
import zookeeper, { type Stat } from "node-zookeeper-client";
import { checkConnect, checkEndpoint, checkName, encodeEndpoint, normalizeRoot, providersPath } from "./zk-endpoint.js";
import { ZK_NO_NODE, ZK_NODE_EXISTS, ZK_SESSION_EXPIRED, ZK_TRANSIENT_CODES, ZkSession, zkCode } from "./zk-session.js";

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
  /**
   * How long `register`/`deregister` wait for ZooKeeper before they reject. `register` keeps trying
   * through lost connections and session expiry until then. Default 30 000 ms.
   */
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
        wakeAll();
      },
      onDisconnected: () => {},
      onExpired: () => opts.onError(new Error(`zk: session expired (${opts.connect}); registering again`)),
    },
  );

  /** One request; it waits `requestTimeoutMs`, or until `deadline` (epoch ms) when given. */
  const call = <T>(fn: Parameters<typeof session.call<T>>[0], deadline?: number) =>
    session.call<T>(fn, deadline === undefined ? opts.requestTimeoutMs : Math.max(1, deadline - Date.now()));

  // Pending register() calls waiting before their next attempt: woken early by a (re)connect,
  // a deregister or close().
  const sleepers = new Set<() => void>();
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }
  function wakeAll(): void {
    for (const wake of [...sleepers]) wake();
  }

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

  function ensure(e: Entry, deadline?: number): Promise<void> {
    const run = e.chain.then(() => write(e, deadline));
    e.chain = run.catch(() => {});
    return run;
  }

  /**
   * register()'s write. A write cut off by a lost connection or an expired session is only a
   * delay, not a failure: the registrar re-creates every znode on the next connection or session
   * anyway (onConnected). So try again, on the next (re)connect or after a backoff, until
   * `requestTimeoutMs` is spent, and only then reject, naming the path and the last cause. A
   * refusal by ZooKeeper (ACL, bad data), a deregister or close() ends it at once.
   */
  async function ensureUntil(e: Entry, deadline: number): Promise<void> {
    let delay = RETRY_FIRST_MS;
    for (;;) {
      let ok = true;
      let cause: unknown;
      try {
        await ensure(e, deadline);
      } catch (err) {
        ok = false;
        cause = err;
      }
      if (closed) throw new Error(`zk: registrar closed while registering ${e.path}`);
      if (entries.get(e.path) !== e) throw new Error(`zk: ${e.path} was deregistered while register() was pending`);
      if (ok) return;
      const code = zkCode(cause);
      if (code === undefined || !ZK_TRANSIENT_CODES.has(code)) throw cause;
      const left = deadline - Date.now();
      if (left <= 0) {
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new Error(`zk: could not register ${e.path} within ${opts.requestTimeoutMs} ms: ${why}`, { cause });
      }
      await pause(Math.min(delay, left));
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async function write(e: Entry, deadline?: number): Promise<void> {
    if (entries.get(e.path) !== e) return; // deregistered meanwhile
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await call<string>((c, done) => c.create(e.path, e.data, zookeeper.CreateMode.EPHEMERAL, done), deadline);
        return;
      } catch (err) {
        const code = zkCode(err);
        if (code === ZK_NO_NODE) {
          const parent = e.path.slice(0, e.path.lastIndexOf("/"));
          await call<string>((c, done) => c.mkdirp(parent, zookeeper.CreateMode.PERSISTENT, done), deadline);
          continue;
        }
        if (code !== ZK_NODE_EXISTS) throw err;
      }
      const found = await call<[Buffer | undefined, Stat] | null>(
        (c, done) => c.getData(e.path, (err, data, stat) => (zkCode(err) === ZK_NO_NODE ? done(null, null) : done(err, [data, stat]))),
        deadline,
      );
      if (!found) continue; // vanished meanwhile
      const [data, stat] = found;
      if (stat.ephemeralOwner.equals(session.sessionId())) {
        // Ours already (a reconnect within the session): write only what changed.
        if (!data?.equals(e.data)) await call<Stat>((c, done) => c.setData(e.path, e.data, -1, done), deadline);
        return;
      }
      // Owned by another (dead or previous) session of this instance id: replace it.
      await call<void>((c, done) => c.remove(e.path, stat.version, done), deadline).catch((err) => {
        if (zkCode(err) !== ZK_NO_NODE && zkCode(err) !== zookeeper.Exception.BAD_VERSION) throw err;
      });
    }
    throw new Error(`zk: could not create ${e.path}: it keeps changing`);
  }

  async function remove(e: Entry): Promise<void> {
    if (entries.get(e.path) === e) entries.delete(e.path);
    wakeAll(); // a register() pending on `e` gives up now
    const run = e.chain.then(async () => {
      // Like register(), ride out a lost connection until requestTimeoutMs: a deregister that lost
      // to it could leave the znode on a session that lives on. An expired session took it along.
      const deadline = Date.now() + opts.requestTimeoutMs;
      for (let delay = RETRY_FIRST_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
        try {
          await call<void>((c, done) => c.remove(e.path, -1, done), deadline);
          return;
        } catch (err) {
          const code = zkCode(err);
          if (code === ZK_NO_NODE || code === ZK_SESSION_EXPIRED) return;
          const left = deadline - Date.now();
          if (closed || code === undefined || !ZK_TRANSIENT_CODES.has(code) || left <= 0) throw err;
          await pause(Math.min(delay, left));
        }
      }
    });
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
        await ensureUntil(entry, Date.now() + opts.requestTimeoutMs);
      } catch (err) {
        // Forget it, and undo a write that may still land (unless a deregister or close() did).
        if (entries.get(entry.path) === entry) remove(entry).catch(() => {});
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
      wakeAll();
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
