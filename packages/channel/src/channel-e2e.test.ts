// Real sockets: three petrel/1 (or gRPC) servers behind a channel, one killed mid-run.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, RpcError, createClient, createRouter, type Client } from "@petrel/core";
import { Registry, createRegistryRegistrar, createRegistryResolverFactory, createRegistryService, type Registrar } from "@petrel/discovery";
import { Health, createHealthService } from "@petrel/health";
import { createServer } from "node:http";
import {
  chainHttpHandlers,
  createGrpcServer,
  createGrpcTransport,
  createJsonRpcHttpHandler,
  createJsonRpcTransport,
  createNativeServer,
  createNativeTransport,
} from "@petrel/node";
import { TestService, createTestServiceImpl, eventually } from "@petrel/testing";
import { createChannel, type Channel, type ChannelOptions } from "./index.js";

type Protocol = "petrel/1" | "grpc" | "jsonrpc";

interface Instance {
  readonly address: string;
  calls: number;
  kill(): Promise<void>;
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** One server with TestService (counting echo calls) and the health service. */
async function startInstance(protocol: Protocol): Promise<Instance> {
  const impl = createTestServiceImpl();
  const inst = { address: "", calls: 0, kill: async () => {} };
  const router = createRouter()
    .service(TestService, {
      ...impl,
      echo(req, ctx) {
        inst.calls++;
        return impl.echo(req, ctx);
      },
    })
    .service(Health, createHealthService().impl);
  let killed = false;
  if (protocol === "jsonrpc") {
    const http = createServer(chainHttpHandlers([createJsonRpcHttpHandler(router)]));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    inst.address = `127.0.0.1:${(http.address() as { port: number }).port}`;
    inst.kill = async () => {
      if (killed) return;
      killed = true;
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    };
  } else {
    const server = protocol === "grpc" ? createGrpcServer({ router }) : createNativeServer({ router });
    const addr = await server.listen({ port: 0, host: "127.0.0.1" });
    inst.address = `127.0.0.1:${addr.port}`;
    // graceMs 0: connections are destroyed at once, like a crash seen from the client.
    inst.kill = async () => {
      if (killed) return;
      killed = true;
      await server.close({ graceMs: 0 });
    };
  }
  cleanups.push(inst.kill);
  return inst;
}

function transportFor(protocol: Protocol): ChannelOptions["transportFactory"] {
  return (ep) => {
    if (protocol === "grpc") return createGrpcTransport({ baseUrl: `http://${ep.address}` });
    // No connect(): the channel treats the first call as the proof and UNAVAILABLE as a lost connection.
    if (protocol === "jsonrpc") return createJsonRpcTransport({ url: `http://${ep.address}/jsonrpc` });
    return createNativeTransport({ address: ep.address, backoff: { initialMs: 50, maxMs: 300 }, connectTimeoutMs: 5_000 });
  };
}

const fastBackoff = { initialMs: 50, maxMs: 500, minConnectTimeoutMs: 5_000 };

async function allServing(channel: Channel, n: number): Promise<void> {
  channel.connect();
  await eventually(
    () => channel.subchannels().filter((s) => s.state === "READY" && s.health === "SERVING").length === n,
    20_000,
    `${n} subchannels READY and SERVING`,
  );
}

/**
 * Round robin over three instances (exactly fair), then one instance is killed while 4 workers
 * keep calling: only UNAVAILABLE failures (calls caught on the dying server), and once the
 * channel has marked it down every call succeeds on the other two.
 */
async function balanceAndKill(channel: Channel, instances: Instance[]): Promise<{ failedDuringKill: number }> {
  const client: Client<typeof TestService> = createClient(TestService, channel);
  await allServing(channel, 3);
  for (let i = 0; i < 30; i++) await client.echo({ text: `rr${i}` }, { timeoutMs: 10_000 });
  assert.deepEqual(
    instances.map((s) => s.calls),
    [10, 10, 10],
    "round robin: exactly 10 calls per instance",
  );

  const victim = instances[1] as Instance;
  let ok = 0;
  const failures: RpcError[] = [];
  let stop = false;
  const worker = async () => {
    while (!stop) {
      try {
        await client.echo({ text: "w" }, { timeoutMs: 10_000 });
        ok++;
      } catch (e) {
        failures.push(RpcError.from(e));
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  await eventually(() => ok >= 40, 20_000, "calls before the kill");
  await victim.kill();
  await eventually(
    () => channel.subchannels().find((s) => s.address === victim.address)?.state !== "READY",
    20_000,
    "the channel notices the killed instance",
  );
  const okAtDetection = ok;
  await eventually(() => ok >= okAtDetection + 40, 20_000, "calls after the kill");
  stop = true;
  await Promise.all(workers);
  for (const f of failures) assert.equal(f.code, Code.UNAVAILABLE, `only connection failures, got ${f.message}`);

  // Now that the channel knows, every new call succeeds on the two survivors.
  const before = instances.map((s) => s.calls);
  for (let i = 0; i < 20; i++) await client.echo({ text: `after${i}` }, { timeoutMs: 10_000 });
  const delta = instances.map((s, i) => s.calls - (before[i] as number));
  assert.equal(delta[1], 0, "nothing reaches the killed instance");
  assert.equal((delta[0] as number) + (delta[2] as number), 20);
  assert.ok((delta[0] as number) > 0 && (delta[2] as number) > 0, `both survivors serve: ${delta}`);
  return { failedDuringKill: failures.length };
}

describe("channel end to end", () => {
  for (const protocol of ["petrel/1", "grpc", "jsonrpc"] as const) {
    it(`${protocol}: static:/// over three servers, round robin, one killed mid-run`, async (t) => {
      const instances = await Promise.all([0, 1, 2].map(() => startInstance(protocol)));
      const channel = createChannel({
        target: `static:///${instances.map((s) => s.address).join(",")}`,
        transportFactory: transportFor(protocol),
        // JSON-RPC has no streams, so no health Watch: the state machine alone notices the kill.
        ...(protocol === "jsonrpc" ? {} : { healthCheck: {} }),
        // Without connect(), every reconnect attempt is a real call that fails while the instance
        // is down: a long backoff keeps such probes out of the "every new call succeeds" phase.
        connectBackoff: protocol === "jsonrpc" ? { initialMs: 60_000, maxMs: 60_000 } : fastBackoff,
      });
      cleanups.push(() => channel.close());
      const { failedDuringKill } = await balanceAndKill(channel, instances);
      t.diagnostic(`${protocol}: calls lost with the killed instance: ${failedDuringKill}`);
      await channel.close();
    });
  }

  it("petrel:// embedded registry: instances registered, balanced, one killed, then deregistered", async () => {
    const registry = createRegistryService({ minTtlMs: 100, warmupMs: 0 }); // warm-up would hold removals back 10 s;
    const regServer = createNativeServer({ router: createRouter().service(Registry, registry.impl) });
    const regAddr = await regServer.listen({ port: 0, host: "127.0.0.1" });
    const regAddress = `127.0.0.1:${regAddr.port}`;
    cleanups.push(async () => {
      registry.close();
      await regServer.close({ graceMs: 1_000 });
    });
    const regTransports: ReturnType<typeof createNativeTransport>[] = [];
    const transport = (address: string) => {
      const t = createNativeTransport({ address, backoff: { initialMs: 50, maxMs: 300 }, connectTimeoutMs: 5_000 });
      regTransports.push(t);
      return t;
    };
    cleanups.push(() => Promise.all(regTransports.map((t) => t.close())));

    const instances = await Promise.all([0, 1, 2].map(() => startInstance("petrel/1")));
    const registrars: Registrar[] = instances.map(() => createRegistryRegistrar({ address: regAddress, transport }));
    cleanups.push(() => Promise.all(registrars.map((r) => r.close())));
    const registrations = await Promise.all(
      instances.map((s, i) =>
        (registrars[i] as Registrar).register("testsvc", { id: `i${i}`, address: s.address, protocols: ["petrel/1"] }, { ttlMs: 10_000 }),
      ),
    );

    const channel = createChannel({
      target: `petrel://${regAddress}/testsvc`,
      resolver: createRegistryResolverFactory({ transport, backoff: { initialMs: 50, maxMs: 300 } }),
      transportFactory: transportFor("petrel/1"),
      healthCheck: {},
      connectBackoff: fastBackoff,
    });
    cleanups.push(() => channel.close());
    await eventually(() => channel.subchannels().length === 3, 20_000, "three instances resolved");
    await balanceAndKill(channel, instances);

    // Deregistering the dead instance removes its subchannel; the others keep serving.
    await (registrations[1] as { deregister(): Promise<void> }).deregister();
    await eventually(
      () =>
        channel
          .subchannels()
          .map((s) => s.id)
          .sort()
          .join() === "i0,i2",
      20_000,
      "the deregistered instance leaves the channel",
    );
    const client = createClient(TestService, channel);
    for (let i = 0; i < 6; i++) assert.equal((await client.echo({ text: "z" }, { timeoutMs: 10_000 })).text, "z");
    await channel.close();
  });
});
