/**
 * The cluster demo: three inventory instances (child processes) register in a registry; a client
 * channel resolves the service by name, balances round robin and retries UNAVAILABLE; one
 * instance is SIGKILLed mid-run and the client keeps succeeding. The registry is the embedded one
 * (hosted here) by default, or an etcd / ZooKeeper the user already runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { RpcError, codeName, createClient, createRouter, type Interceptor } from "@petrel/core";
import { avoidEndpoints, pickedEndpoint, type Channel } from "@petrel/channel";
import { Registry, createRegistryService } from "@petrel/discovery";
import { createNativeServer, createNodeChannel } from "@petrel/node";
import { attemptInfo, createResilienceInterceptors, noteAttemptEndpoint } from "@petrel/resilience";
import { InventoryService } from "./gen/petrel/examples/inventory/v1/inventory_pb.js";
import { CLUSTER_SERVICE, parseRegistryUrl, type RegistryUrl } from "./cluster-instance.js";
import { DEMO_DELAY_HEADER, SERVED_BY_HEADER } from "./inventory-service.js";

const INSTANCE_ENTRY = fileURLToPath(new URL("./cluster-instance.ts", import.meta.url));

/** Options of {@link runClusterDemo}. */
export interface ClusterDemoOptions {
  /** `etcd://host:port` or `zk://host:port` of a running registry; default: the embedded registry, hosted in this process. */
  registry?: string;
  /** Receives each output line. */
  out: (line: string) => void;
  /** GetItem calls to make. Default 300. */
  calls?: number;
  /** Pause between two call starts, ms. Default 10 (300 calls take about 3 s). */
  intervalMs?: number;
  /** The instance is killed after this many calls were started. Default a third of `calls`. */
  killAfter?: number;
  /**
   * How long each call takes on the server (the service's `x-demo-delay-ms`), so that a few calls
   * are in flight on every instance when one is killed. Default 30 ms.
   */
  serverDelayMs?: number;
}

/** Calls per instance id, from the `x-served-by` header of successful responses. */
export type Counts = Record<string, number>;

/** What the demo measured. */
export interface ClusterDemoResult {
  ok: number;
  failed: number;
  /** The instance ids, and the one killed. */
  instances: string[];
  killed: string;
  /** Successful calls by who served them, for calls started before / after the kill. */
  servedBeforeKill: Counts;
  servedAfterKill: Counts;
  /** Attempts the channel sent to each instance after it dropped the killed one from its picker. */
  picksAfterNoticed: Counts;
  /** Kill -> the channel's picker no longer holds the killed instance, ms (undefined: never seen). */
  noticedAfterMs: number | undefined;
  /** Retried attempts (calls caught on the killed instance). */
  retries: number;
  /** Status code names of the failed calls, with counts. */
  failures: Record<string, number>;
}

interface Instance {
  readonly id: string;
  readonly child: ChildProcess;
  port: number;
  stderr: string;
}

/** Overall bound: the demo gives up (and cleans up) past this. */
const DEMO_BUDGET_MS = 18_000;

/**
 * Runs the demo; resolves with the counts once every child process and the registry are stopped.
 * Rejects on bad options or when a step does not finish within the budget (also cleaned up).
 */
export async function runClusterDemo(options: ClusterDemoOptions): Promise<ClusterDemoResult> {
  const { out } = options;
  if (typeof out !== "function") throw new TypeError("runClusterDemo: out must be a function");
  const calls = options.calls ?? 300;
  const intervalMs = options.intervalMs ?? 10;
  const killAfter = options.killAfter ?? Math.floor(calls / 3);
  const serverDelayMs = options.serverDelayMs ?? 30;
  if (!Number.isInteger(calls) || calls < 3) throw new TypeError(`runClusterDemo: calls must be an integer >= 3, got ${calls}`);
  if (!(intervalMs >= 0)) throw new TypeError(`runClusterDemo: intervalMs must be >= 0, got ${intervalMs}`);
  if (!Number.isInteger(serverDelayMs) || serverDelayMs < 0 || serverDelayMs > 1_000) {
    throw new TypeError(`runClusterDemo: serverDelayMs must be an integer in 0..1000, got ${serverDelayMs}`);
  }
  if (!Number.isInteger(killAfter) || killAfter < 1 || killAfter >= calls) {
    throw new TypeError(`runClusterDemo: killAfter must be an integer in 1..${calls - 1}, got ${killAfter}`);
  }
  const given = options.registry === undefined ? undefined : parseRegistryUrl(options.registry);
  const deadline = performance.now() + DEMO_BUDGET_MS;
  const left = () => Math.max(0, deadline - performance.now());

  const instances: Instance[] = [];
  let registry: { url: RegistryUrl; stop(): Promise<void> } | undefined;
  let channel: Channel | undefined;
  try {
    // (a) The registry.
    registry = given === undefined ? await hostEmbeddedRegistry() : { url: given, stop: async () => {} };
    const { url } = registry;
    out(
      given === undefined
        ? `registry: embedded, hosted in this process on ${url.authority} (petrel/1)`
        : `registry: ${url.scheme} at ${url.authority}`,
    );

    // (b) Three instances, each its own process, registered under the service name.
    const registryArg = `${url.scheme}://${url.authority}`;
    for (const id of ["inventory-1", "inventory-2", "inventory-3"]) instances.push(startInstance(id, registryArg));
    await Promise.all(instances.map((i) => waitReady(i, left())));
    for (const i of instances)
      out(`  ${i.id}: pid ${i.child.pid}, 127.0.0.1:${i.port} (petrel/1 + gRPC), registered as ${CLUSTER_SERVICE}`);

    // (c) The client: resolve by name through the registry, round robin, retry UNAVAILABLE elsewhere.
    const target = `${url.scheme}://${url.authority}/${CLUSTER_SERVICE}`;
    channel = createNodeChannel({
      target,
      balancer: { name: "round_robin" },
      connectBackoff: { initialMs: 100, maxMs: 1_000, minConnectTimeoutMs: 5_000 },
      native: { backoff: { initialMs: 50, maxMs: 500 }, connectTimeoutMs: 5_000 },
    });
    let retries = 0;
    const resilience = createResilienceInterceptors(
      {
        methodConfig: [
          {
            name: [{ service: CLUSTER_SERVICE }],
            timeout: "5s",
            retryPolicy: {
              maxAttempts: 4,
              initialBackoff: "0.02s",
              maxBackoff: "0.2s",
              backoffMultiplier: 2,
              retryableStatusCodes: ["UNAVAILABLE"],
            },
          },
        ],
      },
      { onEvent: (e) => void (e.type === "retry" && retries++) },
    );
    const picks: { id: string; at: number }[] = [];
    const client = createClient(InventoryService, channel, { interceptors: [...resilience, retryElsewhere(picks)] });
    out(`client: ${target}`);
    out("  round_robin, health-checked, retry on UNAVAILABLE (up to 4 attempts)");

    const ch = channel;
    await waitFor(
      () => ch.subchannels().filter((s) => s.state === "READY" && s.health === "SERVING").length === 3,
      left(),
      "the channel to see three ready instances",
      () => ch.connect(),
    );

    // (d) Calls at a steady pace; one instance killed after `killAfter` starts.
    const victim = instances[1] as Instance;
    let killedAt: number | undefined;
    let noticedAt: number | undefined;
    const unsubscribe = ch.onEvent((e) => {
      if (killedAt !== undefined && noticedAt === undefined && e.t === "picker" && !e.ready.includes(victim.id)) {
        noticedAt = performance.now();
      }
    });
    out(
      `calls: ${calls} GetItem, one every ${intervalMs} ms, each ${serverDelayMs} ms on the server; SIGKILL ${victim.id} after ${killAfter}`,
    );
    const headers = { [DEMO_DELAY_HEADER]: String(serverDelayMs) };
    const servedBeforeKill: Counts = {};
    const servedAfterKill: Counts = {};
    const failures: Record<string, number> = {};
    let ok = 0;
    let failed = 0;
    const t0 = performance.now();
    const running: Promise<void>[] = [];
    for (let n = 0; n < calls; n++) {
      if (n === killAfter) {
        victim.child.kill("SIGKILL");
        killedAt = performance.now();
      }
      const afterKill = killedAt !== undefined;
      let servedBy = "?";
      running.push(
        client.getItem({ sku: "HW-1001" }, { headers, onHeader: (h) => (servedBy = h.getString(SERVED_BY_HEADER) ?? "?") }).then(
          () => {
            ok++;
            const counts = afterKill ? servedAfterKill : servedBeforeKill;
            counts[servedBy] = (counts[servedBy] ?? 0) + 1;
          },
          (e: unknown) => {
            failed++;
            const code = codeName(RpcError.from(e).code);
            failures[code] = (failures[code] ?? 0) + 1;
          },
        ),
      );
      // Steady pace: the n-th call starts at t0 + n x interval, whatever the previous ones took.
      const wait = t0 + (n + 1) * intervalMs - performance.now();
      if (wait > 0) await delay(wait);
      if (left() === 0) throw new Error("the demo ran out of time while calling");
    }
    await Promise.all(running);
    unsubscribe();

    const noticedAfterMs = noticedAt === undefined || killedAt === undefined ? undefined : noticedAt - killedAt;
    const picksAfterNoticed: Counts = {};
    if (noticedAt !== undefined) {
      for (const p of picks) if (p.at >= noticedAt) picksAfterNoticed[p.id] = (picksAfterNoticed[p.id] ?? 0) + 1;
    }
    out(
      noticedAfterMs === undefined
        ? `  the channel still had ${victim.id} in its picker at the end`
        : `  the channel stopped picking ${victim.id} ${noticedAfterMs.toFixed(1)} ms after the kill (connection lost / health watch failed)`,
    );
    out(`  retries: ${retries} (calls caught on ${victim.id} when it died, sent again to another instance)`);
    out(`calls served, by ${SERVED_BY_HEADER}:`);
    for (const i of instances) {
      const b = servedBeforeKill[i.id] ?? 0;
      const a = servedAfterKill[i.id] ?? 0;
      out(`  ${i.id}: ${String(a + b).padStart(4)}  (${b} before the kill, ${a} after)${i === victim ? "  <- killed" : ""}`);
    }
    if (failed > 0) out(`  failed calls by code: ${JSON.stringify(failures)}`);

    const result: ClusterDemoResult = {
      ok,
      failed,
      instances: instances.map((i) => i.id),
      killed: victim.id,
      servedBeforeKill,
      servedAfterKill,
      picksAfterNoticed,
      noticedAfterMs,
      retries,
      failures,
    };
    // Shut down in order: the channel (ends its health watches), the instances (deregister, drain), the registry.
    await ch.close();
    channel = undefined;
    const survivors = instances.filter((i) => i !== victim);
    out(`stopping: SIGTERM to ${survivors.map((i) => i.id).join(", ")} (they deregister and drain)`);
    await stopInstances(instances);
    await registry.stop();
    registry = undefined;
    out(`summary: ${ok} ok, ${failed} failed`);
    return result;
  } finally {
    // Reached with work left only on an error: stop everything still running, quietly.
    await channel?.close().catch(() => {});
    await stopInstances(instances);
    await registry?.stop().catch(() => {});
  }
}

/**
 * Glue between the retry interceptor and the channel (innermost, once per attempt): a retry asks
 * the channel to avoid the endpoints earlier attempts used, and every attempt records its pick.
 */
function retryElsewhere(picks: { id: string; at: number }[]): Interceptor {
  return (next) => async (req) => {
    const info = attemptInfo(req);
    if (info !== undefined && info.previousEndpoints.length > 0) avoidEndpoints(req, info.previousEndpoints);
    const at = performance.now();
    try {
      return await next(req);
    } finally {
      const ep = pickedEndpoint(req);
      if (ep !== undefined) {
        noteAttemptEndpoint(req, ep.id);
        picks.push({ id: ep.id, at });
      }
    }
  };
}

/** Hosts the embedded registry on 127.0.0.1, port 0, over petrel/1. */
async function hostEmbeddedRegistry(): Promise<{ url: RegistryUrl; stop(): Promise<void> }> {
  // Fresh registry with nothing to recover: no warm-up, so removals show at once.
  const service = createRegistryService({ warmupMs: 0, minTtlMs: 100 });
  const server = createNativeServer({ router: createRouter().service(Registry, service.impl) });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return {
    url: { scheme: "petrel", authority: `127.0.0.1:${port}` },
    async stop() {
      service.close(); // ends the watches, so the server need not wait for them
      await server.close({ graceMs: 1_000 });
    },
  };
}

function startInstance(id: string, registry: string): Instance {
  // stdin is a pipe the child watches: if this process dies, the instance exits too.
  const child = spawn(process.execPath, ["--import", "tsx", INSTANCE_ENTRY, `--id=${id}`, `--registry=${registry}`], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const inst: Instance = { id, child, port: 0, stderr: "" };
  child.stderr?.on("data", (b: Buffer) => {
    inst.stderr = (inst.stderr + b.toString()).slice(-4_000);
  });
  child.stdin?.on("error", () => {}); // EPIPE once the child is gone
  return inst;
}

function waitReady(inst: Instance, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (b: Buffer) => {
      buf += b.toString();
      const m = /^ready (\d+)$/m.exec(buf);
      if (m !== null) {
        done();
        inst.port = Number(m[1]);
        resolve();
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`${inst.id} exited (${signal ?? code}) before it was ready:\n${inst.stderr.trim()}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${inst.id} not ready within ${Math.round(timeoutMs)} ms:\n${inst.stderr.trim()}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      inst.child.stdout?.off("data", onData);
      inst.child.off("exit", onExit);
    };
    inst.child.stdout?.on("data", onData);
    inst.child.once("exit", onExit);
  });
}

/** SIGTERM every instance still running, SIGKILL after 5 s; resolves once all have exited. */
async function stopInstances(instances: readonly Instance[]): Promise<void> {
  await Promise.all(
    instances.map(async (i) => {
      const c = i.child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once("exit", () => r()));
      c.kill("SIGTERM");
      const timer = setTimeout(() => c.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }),
  );
  for (const i of instances) {
    i.child.stdin?.destroy();
    i.child.stdout?.destroy();
    i.child.stderr?.destroy();
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string, kick?: () => void): Promise<void> {
  const end = performance.now() + timeoutMs;
  kick?.();
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}
