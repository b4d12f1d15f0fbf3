import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  Code,
  RpcError,
  createClient,
  createInMemoryTransport,
  createRouter,
  type Client,
  type Router,
  type Transport,
} from "@petrel/core";
import { createGrpcServer, createGrpcTransport, type GrpcServer } from "@petrel/node";
import { Health, HealthCheckResponse_ServingStatus as S, createHealthService, type HealthService } from "./index.js";

const PROTO = fileURLToPath(new URL("../proto/grpc/health/v1/health.proto", import.meta.url));
const APP = "petrel.example.v1.AppService";

async function eventually(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function expectCode(p: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** Reads the next message of a Watch, failing after a timeout instead of hanging the suite. */
async function nextStatus(it: AsyncIterator<{ status: S }>, timeoutMs = 5_000): Promise<S> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out waiting for a Watch message")), timeoutMs);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    assert.equal(r.done, false, "Watch ended");
    return r.value.status;
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the next message arrives within `ms` (it must not: statuses are sent only on change). */
async function nothingWithin(it: AsyncIterator<unknown>, ms: number): Promise<{ pending: Promise<IteratorResult<unknown>> }> {
  const pending = it.next();
  const r = await Promise.race([pending.then(() => "message" as const), new Promise((res) => setTimeout(() => res("quiet"), ms))]);
  assert.equal(r, "quiet", "Watch sent a message without a status change");
  return { pending };
}

/** Every Watch a test opened: cancelled after each test, so a failed assertion cannot leave a call open. */
const openWatches: AbortController[] = [];

function watch(client: Client<typeof Health>, service: string) {
  const ac = new AbortController();
  openWatches.push(ac);
  const it = client.watch({ service }, { signal: ac.signal })[Symbol.asyncIterator]();
  return { it, ac };
}

describe("createHealthService (unit)", () => {
  it("defaults the server status to SERVING and knows nothing else", () => {
    const h = createHealthService();
    assert.equal(h.getStatus(""), "SERVING");
    assert.equal(h.getStatus(APP), "SERVICE_UNKNOWN");
  });

  it("takes initial statuses, including the server's", () => {
    const h = createHealthService({ statuses: { "": "NOT_SERVING", [APP]: "SERVING" } });
    assert.equal(h.getStatus(""), "NOT_SERVING");
    assert.equal(h.getStatus(APP), "SERVING");
  });

  it("rejects an invalid status", () => {
    const h = createHealthService();
    assert.throws(() => h.setStatus(APP, "UP" as never), TypeError);
    assert.throws(() => h.setStatus(APP, "toString" as never), TypeError);
  });

  it("shutdown reports NOT_SERVING for every known service and remembers statuses for resume", () => {
    const h = createHealthService({ statuses: { [APP]: "SERVING", other: "NOT_SERVING" } });
    h.shutdown();
    assert.equal(h.isShutdown, true);
    assert.equal(h.getStatus(""), "NOT_SERVING");
    assert.equal(h.getStatus(APP), "NOT_SERVING");
    assert.equal(h.getStatus("unknown"), "SERVICE_UNKNOWN");
    h.setStatus("late", "SERVING");
    assert.equal(h.getStatus("late"), "NOT_SERVING");
    h.resume();
    assert.equal(h.getStatus(""), "SERVING");
    assert.equal(h.getStatus(APP), "SERVING");
    assert.equal(h.getStatus("other"), "NOT_SERVING");
    assert.equal(h.getStatus("late"), "SERVING");
  });
});

/** The same behaviour over every Petrel transport. */
function suite(name: string, setup: (router: Router) => Promise<{ transport: Transport; close(): Promise<void> }>): void {
  describe(`health service over ${name}`, () => {
    let client: Client<typeof Health>;
    let close: () => Promise<void>;
    /** One server for the suite; each test swaps in a fresh health service behind the router's impl. */
    let current = createHealthService();

    before(async () => {
      const impl: HealthService["impl"] = {
        check: (req, ctx) => current.impl.check(req, ctx),
        watch: (req, ctx) => current.impl.watch(req, ctx),
      };
      const env = await setup(createRouter().service(Health, impl));
      client = createClient(Health, env.transport);
      close = env.close;
    });

    afterEach(() => {
      for (const ac of openWatches.splice(0)) ac.abort();
    });

    after(async () => {
      await close();
    });

    const fresh = (options?: Parameters<typeof createHealthService>[0]): HealthService => {
      current = createHealthService(options);
      return current;
    };

    it("Check: the server is SERVING by default", async () => {
      fresh();
      assert.equal((await client.check({ service: "" })).status, S.SERVING);
    });

    it("Check: serving, not serving, unknown -> NOT_FOUND", async () => {
      const h = fresh();
      h.setStatus(APP, "SERVING");
      assert.equal((await client.check({ service: APP })).status, S.SERVING);
      h.setStatus(APP, "NOT_SERVING");
      assert.equal((await client.check({ service: APP })).status, S.NOT_SERVING);
      await expectCode(client.check({ service: "no.such.Service" }), Code.NOT_FOUND);
      h.setStatus(APP, "SERVICE_UNKNOWN");
      await expectCode(client.check({ service: APP }), Code.NOT_FOUND);
    });

    it("Watch: the current status first, then each change, only on change", async () => {
      const h = fresh({ statuses: { [APP]: "SERVING" } });
      const { it: w, ac } = watch(client, APP);
      assert.equal(await nextStatus(w), S.SERVING);
      await eventually(() => h.watchers === 1, "the watcher to register");
      h.setStatus(APP, "SERVING"); // no change: nothing is sent
      const { pending } = await nothingWithin(w, 50);
      h.setStatus(APP, "NOT_SERVING");
      const r = await pending;
      assert.equal(r.done, false);
      assert.deepEqual((r.value as { status: S }).status, S.NOT_SERVING);
      h.setStatus(APP, "SERVING");
      assert.equal(await nextStatus(w), S.SERVING);
      ac.abort();
      await eventually(() => h.watchers === 0, "the watcher to be removed after cancel");
    });

    it("Watch: SERVICE_UNKNOWN for an unknown service, then SERVING when it is registered, without ending the call", async () => {
      const h = fresh();
      const { it: w, ac } = watch(client, APP);
      assert.equal(await nextStatus(w), S.SERVICE_UNKNOWN);
      await eventually(() => h.watchers === 1, "the watcher to register");
      h.setStatus(APP, "SERVING");
      assert.equal(await nextStatus(w), S.SERVING);
      h.setStatus(APP, "SERVICE_UNKNOWN");
      assert.equal(await nextStatus(w), S.SERVICE_UNKNOWN);
      ac.abort();
      await eventually(() => h.watchers === 0, "the watcher to be removed after cancel");
    });

    it("shutdown(): every watcher sees NOT_SERVING; Check too; resume() restores", async () => {
      const h = fresh({ statuses: { [APP]: "SERVING" } });
      const server = watch(client, "");
      const app = watch(client, APP);
      const unknown = watch(client, "no.such.Service");
      assert.equal(await nextStatus(server.it), S.SERVING);
      assert.equal(await nextStatus(app.it), S.SERVING);
      assert.equal(await nextStatus(unknown.it), S.SERVICE_UNKNOWN);
      await eventually(() => h.watchers === 3, "three watchers");
      h.shutdown();
      assert.equal(await nextStatus(server.it), S.NOT_SERVING);
      assert.equal(await nextStatus(app.it), S.NOT_SERVING);
      assert.equal((await client.check({ service: "" })).status, S.NOT_SERVING);
      assert.equal((await client.check({ service: APP })).status, S.NOT_SERVING);
      await expectCode(client.check({ service: "no.such.Service" }), Code.NOT_FOUND);
      // An unknown service stays unknown: its watcher got nothing.
      const { pending } = await nothingWithin(unknown.it, 30);
      h.resume();
      assert.equal(await nextStatus(server.it), S.SERVING);
      assert.equal(await nextStatus(app.it), S.SERVING);
      for (const x of [server, app, unknown]) x.ac.abort();
      await pending.catch(() => undefined);
      await eventually(() => h.watchers === 0, "all watchers removed");
    });

    it("cancelling a Watch removes its listener; so does breaking out of the loop", async () => {
      const h = fresh();
      const { it: w, ac } = watch(client, "");
      assert.equal(await nextStatus(w), S.SERVING);
      await eventually(() => h.watchers === 1, "the watcher to register");
      const pending = w.next(); // a read in flight while the call is cancelled
      ac.abort();
      await assert.rejects(pending, (e: unknown) => e instanceof RpcError && e.code === Code.CANCELLED);
      await eventually(() => h.watchers === 0, "the watcher to be removed after cancel");

      const ac2 = new AbortController();
      openWatches.push(ac2);
      for await (const m of client.watch({ service: "" }, { signal: ac2.signal })) {
        assert.equal(m.status, S.SERVING);
        await eventually(() => h.watchers === 1, "the second watcher to register");
        break;
      }
      await eventually(() => h.watchers === 0, "the watcher to be removed after break");
      h.setStatus("", "NOT_SERVING"); // no listener left to notify
      assert.equal(h.watchers, 0);
    });
  });
}

suite("the in-memory transport", async (router) => {
  const transport = createInMemoryTransport(router);
  return { transport, close: async () => undefined };
});

suite("gRPC (HTTP/2 sockets)", async (router) => {
  const server = createGrpcServer({ router });
  const { host, port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const transport = createGrpcTransport({ baseUrl: `http://${host}:${port}` });
  return {
    transport,
    close: async () => {
      await transport.close();
      await server.close({ graceMs: 1_000 });
    },
  };
});

// ---------------------------------------------------------------------------------------------
// A non-Petrel client: @grpc/grpc-js with the vendored health.proto.

interface GrpcJsHealthClient extends grpc.Client {
  Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): grpc.ClientUnaryCall;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

describe("health service: @grpc/grpc-js client -> Petrel gRPC server", () => {
  let server: GrpcServer;
  let client: GrpcJsHealthClient;
  const health = createHealthService({ statuses: { [APP]: "SERVING" } });

  before(async () => {
    server = createGrpcServer({ router: createRouter().service(Health, health.impl) });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const def = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    client = new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as GrpcJsHealthClient;
  });

  after(async () => {
    client?.close();
    await server?.close({ graceMs: 1_000 });
  });

  const check = (service: string) =>
    new Promise<{ err: grpc.ServiceError | null; res?: { status: string } }>((resolve) =>
      client.Check({ service }, (err, res) => resolve({ err, res })),
    );

  it("Check: SERVING, NOT_SERVING and NOT_FOUND", async () => {
    assert.deepEqual((await check("")).res, { status: "SERVING" });
    assert.deepEqual((await check(APP)).res, { status: "SERVING" });
    health.setStatus(APP, "NOT_SERVING");
    assert.deepEqual((await check(APP)).res, { status: "NOT_SERVING" });
    health.setStatus(APP, "SERVING");
    const unknown = await check("no.such.Service");
    assert.equal(unknown.err?.code, grpc.status.NOT_FOUND);
  });

  it("Watch: current status, changes, cancel", async () => {
    const call = client.Watch({ service: "later.Service" });
    const seen: string[] = [];
    call.on("data", (m: { status: string }) => seen.push(m.status));
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    call.on("error", () => undefined); // CANCELLED after cancel()
    const waitFor = (n: number) => eventually(() => seen.length >= n, `Watch message ${n}`);
    try {
      await waitFor(1);
      assert.deepEqual(seen, ["SERVICE_UNKNOWN"]);
      await eventually(() => health.watchers === 1, "the watcher to register");
      health.setStatus("later.Service", "SERVING");
      await waitFor(2);
      health.shutdown();
      await waitFor(3);
      assert.deepEqual(seen, ["SERVICE_UNKNOWN", "SERVING", "NOT_SERVING"]);
      health.resume();
      await waitFor(4);
      assert.deepEqual(seen, ["SERVICE_UNKNOWN", "SERVING", "NOT_SERVING", "SERVING"]);
    } finally {
      call.cancel(); // idempotent; also ends the call when an assertion above failed
    }
    assert.equal((await ended).code, grpc.status.CANCELLED);
    await eventually(() => health.watchers === 0, "the watcher to be removed after the grpc-js client cancelled");
  });
});
