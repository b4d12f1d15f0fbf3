// One logical ZooKeeper session that outlives expiry: a node-zookeeper-client Client, replaced by a
// fresh one when the server expires the session (the library's client is dead after that).
import zookeeper, { type Client } from "node-zookeeper-client";

/** Events of a {@link ZkSession}. @internal */
export interface ZkSessionEvents {
  /** Connected; `fresh` = a new session (the first, or one after expiry): ephemerals and watches are gone. */
  onConnected(fresh: boolean): void;
  /** The connection dropped; the library reconnects by itself, the session may survive. */
  onDisconnected(): void;
  /** The server expired the session; a new one is being opened. */
  onExpired(): void;
}

/** @internal */
export interface ZkSessionOptions {
  /** `host:port[,host:port]`. */
  connect: string;
  sessionTimeoutMs: number;
  /** Upper bound of the random pause between rounds of connection attempts. */
  spinDelayMs: number;
}

// The parts of the library's ConnectionManager we must reach to shut a client down for good:
// `close()` alone keeps reconnecting while the server is down and can leave a socket behind.
interface ConnectionManagerInternals {
  socket?: { destroy(): void };
  connectTimeoutHandler?: ReturnType<typeof setTimeout> | null;
  /** sessionTimeout / number of servers: how long one connection attempt may take. */
  connectTimeout: number;
  connect(): void;
  onSocketConnected(): void;
  setState(state: number): void;
}
const CM_CLOSED = -2;

/** @internal */
export class ZkSession {
  #client!: Client;
  #fresh = true;
  #closed = false;
  readonly #pending = new Set<(e: Error) => void>();
  readonly #opts: ZkSessionOptions;
  readonly #events: ZkSessionEvents;

  constructor(opts: ZkSessionOptions, events: ZkSessionEvents) {
    this.#opts = opts;
    this.#events = events;
    this.#open();
  }

  #open(): void {
    const c = zookeeper.createClient(this.#opts.connect, {
      sessionTimeout: this.#opts.sessionTimeoutMs,
      spinDelay: this.#opts.spinDelayMs,
      retries: 0,
    });
    this.#client = c;
    this.#fresh = true;
    const cm = watchHandshake(c);
    c.on("state", (s: zookeeper.State) => {
      if (s === zookeeper.State.SYNC_CONNECTED && cm.connectTimeoutHandler) clearTimeout(cm.connectTimeoutHandler);
      if (c !== this.#client || this.#closed) return;
      if (s === zookeeper.State.SYNC_CONNECTED) {
        const fresh = this.#fresh;
        this.#fresh = false;
        this.#events.onConnected(fresh);
      } else if (s === zookeeper.State.DISCONNECTED) {
        this.#events.onDisconnected();
      } else if (s === zookeeper.State.EXPIRED) {
        // Requests the library queued for the dead session would never be answered. The code lets
        // callers tell this (worth retrying on the new session) from a ZooKeeper refusal.
        this.#failPending(zkError(`zk: session expired (${this.#opts.connect})`, ZK_SESSION_EXPIRED));
        void shutdownClient(c);
        this.#events.onExpired();
        if (!this.#closed) this.#open();
      }
    });
    c.connect();
  }

  /** Whether the current client is connected. */
  get connected(): boolean {
    return this.#client.getState() === zookeeper.State.SYNC_CONNECTED;
  }

  /** The current session id (8 bytes); all zero before the first connect. */
  sessionId(): Buffer {
    return this.#client.getSessionId();
  }

  /**
   * Runs one request on the current client. Rejects when the session expires or closes before
   * the answer (the library would leave such a request hanging), or after `timeoutMs`.
   */
  call<T>(fn: (c: Client, done: (err: unknown, value?: T) => void) => void, timeoutMs?: number): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("zk: session closed"));
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const fail = (e: Error) => {
        settle();
        reject(e);
      };
      const settle = () => {
        this.#pending.delete(fail);
        if (timer) clearTimeout(timer);
      };
      this.#pending.add(fail);
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => fail(zkError(`zk: no answer from ${this.#opts.connect} within ${timeoutMs} ms`, zookeeper.Exception.OPERATION_TIMEOUT)),
          timeoutMs,
        );
      }
      fn(this.#client, (err, value) => {
        if (!this.#pending.has(fail)) return; // already failed
        settle();
        if (err) reject(err instanceof Error ? err : Object.assign(new Error(String(err)), { code: zkCode(err) }));
        else resolve(value as T);
      });
    });
  }

  #failPending(e: Error): void {
    for (const f of [...this.#pending]) f(e);
  }

  /** Closes the session (the server drops its ephemeral nodes now) and releases every handle. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failPending(new Error("zk: session closed"));
    await shutdownClient(this.#client);
  }
}

/**
 * node-zookeeper-client times a connection attempt only until the TCP connection opens, and has no
 * read timeout: a server that accepts the connection but never answers the handshake (one still
 * starting up after a restart, or a black hole) leaves the client waiting for ever — seen as a
 * resolver that never reconnected after a ZooKeeper restart. This re-arms the library's own
 * connect timeout for the handshake; when it fires the socket is destroyed, and the library
 * counts that as a lost connection and tries the next server (its usual path).
 */
function watchHandshake(c: Client): ConnectionManagerInternals {
  const cm = (c as unknown as { connectionManager: ConnectionManagerInternals }).connectionManager;
  const onTcpConnected = cm.onSocketConnected;
  cm.onSocketConnected = function (this: ConnectionManagerInternals) {
    onTcpConnected.call(this);
    const socket = this.socket;
    // In the library's own slot, so its close and error paths and shutdownClient() clear it.
    const t = setTimeout(() => {
      if (this.socket === socket && c.getState() !== zookeeper.State.SYNC_CONNECTED) socket?.destroy();
    }, this.connectTimeout);
    // The library's next connect() overwrites the slot without clearing it: never hold the
    // process open for a timer that can no longer matter.
    t.unref();
    this.connectTimeoutHandler = t;
  };
  return cm;
}

/**
 * Ends a client for good: a graceful CLOSE_SESSION when connected (bounded wait), then the
 * library's reconnect path is disabled and its socket and connect timer released.
 */
function shutdownClient(c: Client): Promise<void> {
  const cm = (c as unknown as { connectionManager: ConnectionManagerInternals }).connectionManager;
  const finish = () => {
    cm.connect = () => {};
    // A connection attempt already scheduled by the library still opens a socket: drop it at once.
    cm.onSocketConnected = function (this: ConnectionManagerInternals) {
      if (this.connectTimeoutHandler) clearTimeout(this.connectTimeoutHandler);
      this.socket?.destroy();
    };
    if (cm.connectTimeoutHandler) clearTimeout(cm.connectTimeoutHandler);
    cm.setState(CM_CLOSED);
    cm.socket?.destroy();
  };
  if (c.getState() !== zookeeper.State.SYNC_CONNECTED) {
    finish();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const t = setTimeout(done, 3_000);
    t.unref();
    function done() {
      clearTimeout(t);
      finish();
      resolve();
    }
    c.once("disconnected", done);
    c.close();
  });
}

/** An Error carrying a ZooKeeper error code, like the library's own errors. */
function zkError(message: string, code: number): Error {
  return Object.assign(new Error(message), { code });
}

/** ZooKeeper error code of a library error, if any. @internal */
export function zkCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** @internal */
export const ZK_NO_NODE = zookeeper.Exception.NO_NODE;
/** @internal */
export const ZK_NODE_EXISTS = zookeeper.Exception.NODE_EXISTS;
/** @internal */
export const ZK_SESSION_EXPIRED = zookeeper.Exception.SESSION_EXPIRED;

/**
 * Codes after which the same request can succeed on the next connection or session: the
 * connection dropped, no answer in time, or the session expired. @internal
 */
export const ZK_TRANSIENT_CODES: ReadonlySet<number> = new Set([
  zookeeper.Exception.CONNECTION_LOSS,
  zookeeper.Exception.OPERATION_TIMEOUT,
  zookeeper.Exception.SESSION_EXPIRED,
]);
