import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, codeName, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createNativeServer, createNativeTransport, type NativeServer } from "@petrel/node";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { FakeClock } from "./clock.js";
import { createSlidingWindowLimiter, createTokenBucket } from "./rate-limit.js";
import {
  createRateLimitInterceptor,
  createRateLimitServerInterceptor,
  keyByHeader,
  keyByPeerHost,
  LruMap,
} from "./rate-limit-interceptor.js";
import { retryDelayOf, retryInfoSchema } from "./rate-limit-retry-info.js";
import { readPushback } from "./retry-signals.js";

describe("token bucket", () => {
  it("admits a burst of capacity, then refills continuously and reports the wait", () => {
    const clock = new FakeClock();
    const b = createTokenBucket({ capacity: 3, refillPerSecond: 2, clock });
    assert.equal(b.tryAcquire(), 0);
    assert.equal(b.tryAcquire(), 0);
    assert.equal(b.tryAcquire(), 0);
    assert.equal(b.tryAcquire(), 500, "one token per 500 ms");
    clock.advance(499);
    assert.equal(b.tryAcquire(), 1);
    clock.advance(1);
    assert.equal(b.tryAcquire(), 0);
    clock.advance(10_000);
    assert.equal(b.tokens(), 3, "never above capacity");
  });

  it("starts from initialTokens and rejects bad options", () => {
    const b = createTokenBucket({ capacity: 5, refillPerSecond: 1, initialTokens: 0, clock: new FakeClock() });
    assert.equal(b.tryAcquire(), 1000);
    assert.throws(() => createTokenBucket({ capacity: 0, refillPerSecond: 1 }), /capacity/);
    assert.throws(() => createTokenBucket({ capacity: 1, refillPerSecond: 0 }), /refillPerSecond/);
  });
});

describe("sliding window (counter approximation)", () => {
  it("limits within one window and weighs the previous window by its overlap", () => {
    const clock = new FakeClock(0);
    const w = createSlidingWindowLimiter({ limit: 10, windowMs: 1000, clock });
    for (let i = 0; i < 10; i++) assert.equal(w.tryAcquire(), 0);
    const wait = w.tryAcquire();
    // Next window at 1000; then the estimate is 10 x (1 - t/1000) + 1 <= 10 from t = 100.
    assert.equal(wait, 1100);
    clock.advance(1000);
    assert.equal(w.estimate(), 10, "the full previous window counts at its start");
    assert.equal(w.tryAcquire(), 100);
    clock.advance(99);
    assert.ok(w.tryAcquire() > 0);
    clock.advance(1);
    assert.equal(w.tryAcquire(), 0);
    assert.equal(w.tryAcquire(), 100, "9 x 1 + 1: wait until the previous weight drops by one more call");
    clock.advance(100);
    assert.equal(w.tryAcquire(), 0);
  });

  it("forgets a window that is two windows old", () => {
    const clock = new FakeClock(0);
    const w = createSlidingWindowLimiter({ limit: 2, windowMs: 100, clock });
    w.tryAcquire();
    w.tryAcquire();
    clock.advance(250);
    assert.equal(w.estimate(), 0);
    assert.equal(w.tryAcquire(), 0);
    assert.throws(() => createSlidingWindowLimiter({ limit: 0, windowMs: 1 }), /limit/);
  });
});

describe("per-key limiting", () => {
  it("the LRU keeps at most max keys, dropping the least recently used", () => {
    const lru = new LruMap<string, number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    lru.get("a");
    lru.set("c", 3);
    assert.equal(lru.has("b"), false);
    assert.equal(lru.has("a"), true);
    assert.equal(lru.size, 2);
  });

  it("server interceptor: one limiter per (method, caller key), bounded", async () => {
    const clock = new FakeClock();
    let made = 0;
    const rl = createRateLimitServerInterceptor({
      methods: {
        "/petrel.testing.v1.TestService/Echo": () => {
          made++;
          return createTokenBucket({ capacity: 1, refillPerSecond: 1, clock });
        },
      },
      key: keyByHeader("X-Api-Key"),
      maxKeys: 2,
    });
    const router = createRouter({ interceptors: [rl] }).service(TestService, createTestServiceImpl());
    const client = createClient(TestService, createInMemoryTransport(router));
    const call = (key: string) =>
      client.echo({ text: key }, { headers: { "x-api-key": key } }).then(
        () => "ok",
        (e: RpcError) => codeName(e.code),
      );
    assert.equal(await call("a"), "ok");
    assert.equal(await call("a"), "RESOURCE_EXHAUSTED");
    assert.equal(await call("b"), "ok", "another key has its own bucket");
    assert.equal(await call("c"), "ok");
    assert.equal(rl.size, 2, "bounded: a was evicted");
    assert.equal(await call("a"), "ok", "a fresh bucket after eviction");
    assert.equal(made, 4);
    // Methods without a limiter pass.
    for (let i = 0; i < 3; i++) await client.sleep({ sleepMs: 0 });
  });

  it("keyByPeerHost drops the port", () => {
    const ctx = (address: string) => ({ peer: { address, protocol: "x" } }) as never;
    assert.equal(keyByPeerHost(ctx("10.0.0.1:5555")), "10.0.0.1");
    assert.equal(keyByPeerHost(ctx("[::1]:5555")), "[::1]");
    assert.equal(keyByPeerHost(ctx("in-memory")), "in-memory");
  });

  it("client interceptor rejects locally with the same retry info", async () => {
    const clock = new FakeClock();
    let served = 0;
    const impl = createTestServiceImpl();
    const router = createRouter().service(TestService, {
      ...impl,
      echo(req, ctx) {
        served++;
        return impl.echo(req, ctx);
      },
    });
    const client = createClient(TestService, createInMemoryTransport(router), {
      interceptors: [createRateLimitInterceptor({ limiter: () => createTokenBucket({ capacity: 2, refillPerSecond: 4, clock }) })],
    });
    await client.echo({});
    await client.echo({});
    const e = await client.echo({}).catch((x: unknown) => x);
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
    assert.equal(retryDelayOf(e), 250);
    assert.deepEqual(readPushback(e), { t: "delay", ms: 250 });
    assert.equal(served, 2);
  });
});

describe("rate limit over a real petrel/1 server", () => {
  let server: NativeServer;
  let port: number;
  before(async () => {
    const rl = createRateLimitServerInterceptor({
      // A bucket that never refills within the test: the wait is deterministic (1000 s).
      limiter: () => createTokenBucket({ capacity: 2, refillPerSecond: 0.001, clock: new FakeClock() }),
      key: keyByPeerHost,
    });
    const router = createRouter({ interceptors: [rl] }).service(TestService, createTestServiceImpl());
    server = createNativeServer({ router });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
  });
  after(async () => {
    await server.close({ graceMs: 5000 });
  });

  it("the client sees RESOURCE_EXHAUSTED with RetryInfo and grpc-retry-pushback-ms", async () => {
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    try {
      const client = createClient(TestService, transport);
      assert.equal((await client.echo({ text: "1" })).text, "1");
      assert.equal((await client.echo({ text: "2" })).text, "2");
      const e = await client.echo({ text: "3" }).catch((x: unknown) => x);
      assert.ok(e instanceof RpcError, String(e));
      assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
      assert.equal(e.rawMessage, "rate limit exceeded");
      const [info] = e.findDetails(retryInfoSchema) as { retryDelay?: { seconds: bigint; nanos: number } }[];
      assert.deepEqual(info?.retryDelay && { s: info.retryDelay.seconds, n: info.retryDelay.nanos }, { s: 1000n, n: 0 });
      assert.equal(e.metadata.getString("grpc-retry-pushback-ms"), "1000000");
      assert.deepEqual(readPushback(e), { t: "delay", ms: 1_000_000 });
    } finally {
      await transport.close();
    }
  });
});
