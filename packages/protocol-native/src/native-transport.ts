import {
  Code,
  RpcError,
  createDefaultCodecRegistry,
  type CodecRegistry,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
  type UnarySettle,
  settleFailure,
} from "@petrel/core";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { systemClock, type Dialer } from "./channel.js";
import { ClientConnection, type ClientConnectionListener } from "./client-connection.js";
import type { ConnectionOptions } from "./connection-base.js";

/** Options of a petrel/1 client transport. */
export interface NativeTransportOptions extends ConnectionOptions {
  /** `host:port` of the server. */
  address: string;
  /** Opens byte channels (the runtime adapter's job; `@petrel/node` passes a TCP dialer). */
  dial: Dialer;
  /** Connections kept to the address; calls are spread round-robin. Default 1. */
  poolSize?: number;
  /** Codec used when a call names none. Default `proto`. */
  defaultCodec?: string;
  /** Codecs this client can use. Default: `proto` and `json`. */
  codecs?: CodecRegistry;
  /** Largest request message. Default 4 MiB. The receive limit is `settings.maxMessageSize` (default 4 MiB). */
  maxSendMessageSize?: number;
  /** Reconnect backoff (gRPC's algorithm and defaults). */
  backoff?: BackoffOptions;
  /** Give up a connection attempt after this long. Default 20000 ms. */
  connectTimeoutMs?: number;
}

/** A Transport that owns connections; close it when done. */
export interface ClosableTransport extends Transport {
  /** Stops taking calls; resolves once the calls in progress ended and the connections closed. */
  close(): Promise<void>;
}

/** A transport that can also be told to connect ahead of calls (what `@petrel/channel` uses for CONNECTING -> READY). */
export interface ConnectableTransport extends ClosableTransport {
  /**
   * Connects now if no connection is ready; resolves once one is ready, rejects with an UNAVAILABLE
   * RpcError when connecting fails (or at once while the address is in transient failure).
   */
  connect(): Promise<void>;
}

type SlotState = "idle" | "connecting" | "ready" | "transient_failure";

/** One pooled connection and its connectivity state (gRPC's idle/connecting/ready/transient-failure). */
interface Slot {
  state: SlotState;
  conn: ClientConnection | undefined;
  backoff: Backoff;
  waiters: Array<{ resolve: (c: ClientConnection) => void; reject: (e: RpcError) => void }>;
  lastError: RpcError | undefined;
  timer: unknown;
}

/**
 * A petrel/1 client: a pool of multiplexed connections to one address with lazy connect,
 * reconnect with exponential backoff and jitter, and fail-fast UNAVAILABLE while the address is
 * in transient failure (as gRPC does for calls without wait-for-ready).
 */
export function createNativeClientTransport(options: NativeTransportOptions): ConnectableTransport {
  const clock = options.clock ?? systemClock;
  const codecs = options.codecs ?? createDefaultCodecRegistry();
  const connOptions = {
    ...options,
    defaultCodec: options.defaultCodec ?? "proto",
    codecs: (name: string) => codecs.get(name),
    maxSendMessageSize: options.maxSendMessageSize ?? 4 * 1024 * 1024,
  };
  const size = Math.max(1, options.poolSize ?? 1);
  const slots: Slot[] = [];
  for (let i = 0; i < size; i++) {
    slots.push({
      state: "idle",
      conn: undefined,
      backoff: new Backoff(options.backoff),
      waiters: [],
      lastError: undefined,
      timer: undefined,
    });
  }
  const draining = new Set<ClientConnection>();
  let next = 0;
  let closed = false;
  let closeWaiter: (() => void) | undefined;

  const slotOf = (conn: ClientConnection) => slots.find((s) => s.conn === conn);

  const listener: ClientConnectionListener = {
    onReady(conn) {
      const slot = slotOf(conn);
      if (slot === undefined) return;
      if (slot.timer !== undefined) clock.clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.state = "ready";
      slot.backoff.reset();
      for (const w of slot.waiters.splice(0)) w.resolve(conn);
    },
    onDraining(conn) {
      const slot = slotOf(conn);
      if (slot === undefined) return;
      // A draining connection finishes its calls; new calls get a fresh connection.
      draining.add(conn);
      slot.conn = undefined;
      slot.state = "idle";
    },
    onClosed(conn, error, wasOpen) {
      draining.delete(conn);
      const slot = slotOf(conn);
      if (slot !== undefined) {
        slot.conn = undefined;
        if (slot.timer !== undefined) clock.clearTimeout(slot.timer);
        slot.timer = undefined;
        if (wasOpen || closed) {
          // A connection that worked and then closed is not a failure: reconnect on demand.
          slot.state = "idle";
        } else {
          slot.state = "transient_failure";
          slot.lastError = new RpcError(Code.UNAVAILABLE, `cannot connect to ${options.address}: ${error.rawMessage}`);
          const delay = slot.backoff.next();
          slot.timer = clock.setTimeout(() => {
            slot.timer = undefined;
            if (slot.state === "transient_failure") slot.state = "idle";
          }, delay);
        }
        const err = slot.lastError ?? error;
        for (const w of slot.waiters.splice(0)) w.reject(err);
      }
      maybeClosed();
    },
  };

  function maybeClosed(): void {
    if (closed && closeWaiter !== undefined && draining.size === 0 && slots.every((s) => s.conn === undefined)) closeWaiter();
  }

  function connect(slot: Slot): void {
    slot.state = "connecting";
    slot.conn = new ClientConnection(options.dial, options.address, connOptions, listener);
    const conn = slot.conn;
    const timeout = options.connectTimeoutMs ?? 20_000;
    slot.timer = clock.setTimeout(() => {
      slot.timer = undefined;
      if (slot.conn === conn && slot.state === "connecting") conn.destroy(`connect timeout after ${timeout} ms`);
    }, timeout);
  }

  /** Picks a ready connection (round-robin), or waits for one that is connecting. */
  function pick(): ClientConnection | Promise<ClientConnection> {
    if (closed) throw new RpcError(Code.UNAVAILABLE, "transport is closed");
    for (let i = 0; i < size; i++) {
      const slot = slots[(next + i) % size] as Slot;
      if (slot.state === "ready" && slot.conn !== undefined && slot.conn.ready) {
        next = (next + i + 1) % size;
        return slot.conn;
      }
    }
    let waitOn: Slot | undefined;
    let failed: Slot | undefined;
    for (const slot of slots) {
      if (slot.state === "idle") connect(slot);
      if (slot.state === "connecting") waitOn ??= slot;
      else if (slot.state === "transient_failure") failed ??= slot;
    }
    if (waitOn === undefined) throw failed?.lastError ?? new RpcError(Code.UNAVAILABLE, `no connection to ${options.address}`);
    const slot = waitOn;
    return new Promise((resolve, reject) => slot.waiters.push({ resolve, reject }));
  }

  return {
    unary<I extends import("@bufbuild/protobuf").DescMessage, O extends import("@bufbuild/protobuf").DescMessage>(
      req: UnaryRequest<I>,
    ): Promise<UnaryResponse<O>> {
      let c: ClientConnection | Promise<ClientConnection>;
      try {
        c = pick();
      } catch (e) {
        return Promise.reject(e);
      }
      if (c instanceof ClientConnection) return c.unary(req as UnaryRequest) as Promise<UnaryResponse<O>>;
      return c.then((conn) => conn.unary(req as UnaryRequest)) as Promise<UnaryResponse<O>>;
    },
    unarySettled(req: UnaryRequest, settle: UnarySettle): Promise<UnaryResponse> {
      let c: ClientConnection | Promise<ClientConnection>;
      try {
        c = pick();
      } catch (e) {
        return settleFailure(settle, e);
      }
      if (c instanceof ClientConnection) return c.unary(req, settle);
      return c.then(
        (conn) => conn.unary(req, settle),
        (e: unknown) => settleFailure(settle, e),
      );
    },
    async stream<I extends import("@bufbuild/protobuf").DescMessage, O extends import("@bufbuild/protobuf").DescMessage>(
      req: StreamRequest<I>,
    ): Promise<StreamResponse<O>> {
      const conn = await pick();
      return (await conn.stream(req as StreamRequest)) as StreamResponse<O>;
    },
    async connect() {
      // Established means the server's SETTINGS arrived: its limits apply to the first call.
      await (await pick()).whenSettled();
    },
    close() {
      if (!closed) closed = true;
      return new Promise<void>((resolve) => {
        closeWaiter = resolve;
        for (const slot of slots) {
          if (slot.timer !== undefined) clock.clearTimeout(slot.timer);
          slot.timer = undefined;
          for (const w of slot.waiters.splice(0)) w.reject(new RpcError(Code.UNAVAILABLE, "transport is closed"));
          slot.conn?.closeWhenIdle();
          if (slot.state === "connecting") slot.conn?.destroy("transport closed");
        }
        for (const c of draining) c.closeWhenIdle();
        maybeClosed();
      });
    },
  };
}
