// Test helpers: a manual clock and controllable fake endpoints. Not exported from the package.
import { Code, RpcError, createInMemoryTransport, createRouter, type StreamRequest, type UnaryRequest } from "@petrel/core";
import type { Clock, Endpoint, Resolver, ResolverFactory, ResolverListener } from "@petrel/discovery";
import { createHealthService, Health, type HealthService } from "@petrel/health";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import type { ChannelTransport } from "./subchannel.js";

/** A manual clock starting at the real time (so deadlines agree with in-memory transports). */
export class FakeClock implements Clock {
  t = Date.now();
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** Moves time forward, firing due timers in order and letting the work they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, timer] of this.#timers) {
        if (timer.at < nextAt || (timer.at === nextAt && id < nextId)) {
          nextAt = timer.at;
          nextId = id;
        }
      }
      if (nextId < 0 || nextAt > end) break;
      const timer = this.#timers.get(nextId) as { at: number; fn: () => void };
      this.#timers.delete(nextId);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets queued promise chains run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * One fake server: an in-memory TestService + health service behind a transport whose
 * `connect()` outcome, call failures and call holding the test controls.
 */
export class FakeEndpoint {
  /** `ok`: connect resolves; `fail`: rejects UNAVAILABLE; `manual`: settles by `finishConnect`. */
  connectMode: "ok" | "fail" | "manual" = "ok";
  readonly #pendingConnects: Array<(ok: boolean) => void> = [];
  /** Calls fail with UNAVAILABLE (the server is gone). */
  down = false;
  /** Unary calls fail with this code (application-level failures). */
  failCode: Code | undefined;
  /** Unary calls wait until `release()`. */
  hold = false;
  readonly connectTimes: number[] = [];
  calls = 0;
  closed = false;
  readonly health: HealthService;
  readonly #held: Array<() => void> = [];
  readonly #inner;

  constructor(
    readonly id: string,
    private readonly clock: Clock,
    withHealth = true,
  ) {
    this.health = createHealthService();
    const router = createRouter().service(TestService, createTestServiceImpl());
    if (withHealth) router.service(Health, this.health.impl);
    this.#inner = createInMemoryTransport(router);
  }

  get endpoint(): Endpoint {
    return { id: this.id, address: `${this.id}.test:1` };
  }

  /** Settles the `manual` connects waiting now. */
  finishConnect(ok: boolean): void {
    for (const f of this.#pendingConnects.splice(0)) f(ok);
  }

  release(): void {
    for (const r of this.#held.splice(0)) r();
  }

  get heldCount(): number {
    return this.#held.length;
  }

  /** A transport for this endpoint; `withConnect: false` omits `connect()`. */
  transport(withConnect = true): ChannelTransport {
    const self = this;
    const t: ChannelTransport = {
      async unary(req) {
        if (self.closed) throw new RpcError(Code.UNAVAILABLE, "transport closed");
        self.calls++;
        if (self.hold) await new Promise<void>((r) => self.#held.push(r));
        if (self.down) throw new RpcError(Code.UNAVAILABLE, `${self.id} is down`);
        if (self.failCode !== undefined) throw new RpcError(self.failCode, `${self.id} fails`);
        return self.#inner.unary(req as UnaryRequest) as never;
      },
      async stream(req) {
        if (self.closed) throw new RpcError(Code.UNAVAILABLE, "transport closed");
        if (self.down) throw new RpcError(Code.UNAVAILABLE, `${self.id} is down`);
        return self.#inner.stream(req as StreamRequest) as never;
      },
      async close() {
        self.closed = true;
      },
    };
    if (withConnect) {
      t.connect = () => {
        self.connectTimes.push(self.clock.now());
        if (self.connectMode === "ok") return Promise.resolve();
        if (self.connectMode === "fail") return Promise.reject(new RpcError(Code.UNAVAILABLE, `${self.id} refused`));
        return new Promise<void>((resolve, reject) =>
          self.#pendingConnects.push((ok) => (ok ? resolve() : reject(new RpcError(Code.UNAVAILABLE, `${self.id} refused`)))),
        );
      };
    }
    return t;
  }
}

/** A resolver the test feeds by hand (`push`, `fail`). */
export class ManualResolver implements ResolverFactory {
  readonly scheme = "manual";
  listener: ResolverListener | undefined;
  closed = false;

  build(_t: unknown, listener: ResolverListener): Resolver {
    this.listener = listener;
    return { close: () => (this.closed = true) };
  }
  push(eps: Endpoint[]): void {
    this.listener?.onUpdate(eps);
  }
  fail(message: string): void {
    this.listener?.onError(new Error(message));
  }
}

/** A small deterministic PRNG (mulberry32) so jitter is exercised over its whole range. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
