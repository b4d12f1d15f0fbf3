// createNodeChannel against real petrel/1, gRPC and JSON-RPC servers on loopback, through static:///.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { createClient, createRouter } from "@petrel/core";
import { getResolver, parseTarget, registerResolver, registeredSchemes, type ResolverListener } from "@petrel/discovery";
import { Health, createHealthService, type HealthService } from "@petrel/health";
import { TestService, createTestServiceImpl, eventually } from "@petrel/testing";
import { chainHttpHandlers } from "./http-handler.js";
import { createGrpcServer } from "./grpc-server.js";
import { createJsonRpcHttpHandler } from "./jsonrpc-http.js";
import { createNativeServer } from "./native-server.js";
import { createNodeChannel, registerNodeResolvers, type NodeChannelProtocol } from "./node-channel.js";

const SELF = fileURLToPath(new URL("./node-channel.ts", import.meta.url));

interface Backend {
  readonly address: string;
  readonly health: HealthService;
  calls: number;
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** A server with TestService (counting echo calls) and the health service. */
async function startBackend(protocol: NodeChannelProtocol): Promise<Backend> {
  const impl = createTestServiceImpl();
  const health = createHealthService();
  const b = { address: "", health, calls: 0 };
  const router = createRouter()
    .service(TestService, {
      ...impl,
      echo(req, ctx) {
        b.calls++;
        return impl.echo(req, ctx);
      },
    })
    .service(Health, health.impl);
  if (protocol === "jsonrpc") {
    const http = createServer(chainHttpHandlers([createJsonRpcHttpHandler(router)]));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    b.address = `127.0.0.1:${(http.address() as { port: number }).port}`;
    cleanups.push(async () => {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    });
  } else {
    const server = protocol === "grpc" ? createGrpcServer({ router }) : createNativeServer({ router });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    b.address = `127.0.0.1:${port}`;
    cleanups.push(async () => {
      health.shutdown();
      await server.close({ graceMs: 1_000 });
    });
  }
  return b;
}

describe("createNodeChannel", () => {
  for (const protocol of ["petrel/1", "grpc"] as const) {
    it(`${protocol}: static:/// over three servers, round robin, health checking on by default`, async () => {
      const backends = await Promise.all([0, 1, 2].map(() => startBackend(protocol)));
      const channel = createNodeChannel({
        target: `static:///${backends.map((b) => b.address).join(",")}`,
        protocol,
        connectBackoff: { initialMs: 50, maxMs: 500 },
      });
      cleanups.push(() => channel.close());
      const client = createClient(TestService, channel);
      channel.connect();
      await eventually(
        () => channel.subchannels().filter((s) => s.state === "READY" && s.health === "SERVING").length === 3,
        20_000,
        "three subchannels READY and SERVING (the health Watch answered)",
      );
      for (let i = 0; i < 30; i++) assert.equal((await client.echo({ text: `m${i}` }, { timeoutMs: 10_000 })).text, `m${i}`);
      assert.deepEqual(
        backends.map((b) => b.calls),
        [10, 10, 10],
        "round robin: exactly fair",
      );

      // The health Watch is on without asking: NOT_SERVING takes an instance out of the picker.
      const sick = backends[0] as Backend;
      sick.health.setStatus("", "NOT_SERVING");
      await eventually(
        () => channel.subchannels().find((s) => s.address === sick.address)?.health === "NOT_SERVING",
        20_000,
        "the channel to see NOT_SERVING",
      );
      const before = backends.map((b) => b.calls);
      for (let i = 0; i < 10; i++) await client.echo({ text: "x" }, { timeoutMs: 10_000 });
      assert.deepEqual(
        backends.map((b, i) => b.calls - (before[i] as number)),
        [0, 5, 5],
        "no calls to the NOT_SERVING instance",
      );
      await channel.close();
      assert.equal(channel.state, "SHUTDOWN");
    });
  }

  it("jsonrpc: static:/// over two HTTP servers (no health Watch by default: JSON-RPC has no streams)", async () => {
    const backends = await Promise.all([0, 1].map(() => startBackend("jsonrpc")));
    const channel = createNodeChannel({ target: `static:///${backends.map((b) => b.address).join(",")}`, protocol: "jsonrpc" });
    cleanups.push(() => channel.close());
    const client = createClient(TestService, channel);
    // Without connect() a JSON-RPC subchannel is READY once asked to connect: wait for both, then exact fairness.
    channel.connect();
    await eventually(() => channel.subchannels().filter((s) => s.state === "READY").length === 2, 20_000, "two READY subchannels");
    for (let i = 0; i < 10; i++) assert.equal((await client.echo({ text: `j${i}` }, { timeoutMs: 10_000 })).text, `j${i}`);
    assert.deepEqual(
      backends.map((b) => b.calls),
      [5, 5],
    );
    assert.ok(channel.subchannels().every((s) => s.health !== "NOT_SERVING"));
    await channel.close();
  });

  it("registers petrel, etcd and zk next to static and dns, keeping a user's own factory", () => {
    registerNodeResolvers();
    for (const s of ["dns", "etcd", "petrel", "static", "zk"]) assert.ok(registeredSchemes().includes(s), `scheme ${s} registered`);
    const etcd = getResolver("etcd");
    registerNodeResolvers();
    assert.equal(getResolver("etcd"), etcd, "idempotent");
    // registerNodeResolvers only fills gaps: a factory the user registered stays.
    const original = getResolver("petrel");
    const mine = { scheme: "petrel", build: () => ({ close() {} }) };
    registerResolver(mine);
    try {
      registerNodeResolvers();
      assert.equal(getResolver("petrel"), mine);
    } finally {
      if (original !== undefined) registerResolver(original);
    }
  });

  it("loads the etcd and ZooKeeper clients only for their targets", () => {
    // NODE_DEBUG=module traces CommonJS loads; etcd3 and node-zookeeper-client are CommonJS.
    const trace = (target: string) =>
      spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "-e",
          `const { createNodeChannel } = await import(${JSON.stringify(SELF)});
           const c = createNodeChannel({ target: ${JSON.stringify(target)} });
           await new Promise((r) => setTimeout(r, 500));
           await c.close();`,
        ],
        { env: { ...process.env, NODE_DEBUG: "module" }, encoding: "utf8", timeout: 60_000 },
      );
    const plain = trace("static:///127.0.0.1:1");
    assert.equal(plain.status, 0, plain.stderr.slice(-2_000));
    assert.doesNotMatch(plain.stderr, /etcd3|node-zookeeper-client/);
    const etcd = trace("etcd://127.0.0.1:1/svc");
    assert.equal(etcd.status, 0, etcd.stderr.slice(-2_000));
    assert.match(etcd.stderr, /etcd3/);
    assert.doesNotMatch(etcd.stderr, /node-zookeeper-client/);
  });

  it("bad input: clear errors, no crash", () => {
    assert.throws(() => createNodeChannel({ target: "static:///127.0.0.1:1", protocol: "http3" as never }), /protocol must be one of/);
    assert.throws(() => createNodeChannel({ target: "static:///127.0.0.1:1", jsonRpcPath: "rpc" }), /jsonRpcPath/);
    assert.throws(() => createNodeChannel(null as never), /options must be an object/);
    assert.throws(() => createNodeChannel({ target: "nope://x/y" }), /no resolver for scheme "nope"/);
    registerNodeResolvers();
    const listener: ResolverListener = { onUpdate() {}, onError() {} };
    // The etcd/zk factories are lazy, yet a target without a registry or a service fails at once.
    assert.throws(() => getResolver("etcd")?.build(parseTarget("etcd:///svc"), listener), /expected "etcd:\/\/host:port\/service"/);
    assert.throws(
      () => getResolver("zk")?.build({ scheme: "zk", authority: "127.0.0.1:2181", path: "", raw: "zk://127.0.0.1:2181/" }, listener),
      /expected "zk:\/\/host:port\/service"/,
    );
  });
});
