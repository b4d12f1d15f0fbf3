// Micro-benchmark (not a test): what retry + circuit breaker + concurrency limiter cost per unary
// call when nothing fails. One server and two clients over loopback TCP (petrel/1), each client on
// its own connection: "plain" (no interceptors) and "resilient" (the service config's retry policy
// with retry throttling, a per-method circuit breaker, a client bulkhead that never binds).
// Rounds alternate the order (ABBA) so drift (JIT, GC, thermal) hits both alike.
// Default: server and clients in ONE process (call-cost.ts style; the denominator is the whole
// call, both sides, on one thread). `--split`: the server in a child process, as in production
// (client and server each on their own core; the figure is then the client's throughput).
// `node --import tsx bench/src/micro/resilience-overhead.ts [inflight=32] [seconds-per-run=2] [rounds=4] [--split] [--composed]`
import { spawn } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import { type Interceptor, createClient, createRouter } from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import {
  createBreakerRegistry,
  createBulkhead,
  createCircuitBreakerInterceptor,
  createConcurrencyLimitClientInterceptor,
  createResilienceInterceptors,
} from "@petrel/resilience";
import { EchoRequestSchema, EchoService } from "../gen/echo_pb.js";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const split = process.argv.includes("--split");
const composed = process.argv.includes("--composed");
const inflight = Number(args[0] ?? 32);
const seconds = Number(args[1] ?? 2);
const rounds = Number(args[2] ?? 4);

async function startServer() {
  const router = createRouter().service(EchoService, {
    echo: (req) => ({ text: req.text, seq: req.seq, payload: req.payload }),
    async *streamEcho() {},
  });
  const server = createNativeServer({ router });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { port, close: () => server.close({ graceMs: 100 }) };
}

if (process.argv.includes("--serve")) {
  // Child mode: serve until stdin closes (the parent exited or finished).
  const s = await startServer();
  process.stdout.write(`${s.port}\n`);
  process.stdin.resume().on("end", () => void s.close().then(() => process.exit(0)));
} else {
  await main();
}

async function serverInChild(): Promise<{ port: number; close: () => Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", new URL(import.meta.url).pathname, "--serve"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.stdout.setEncoding("utf8").once("data", (d: string) => resolve(Number(d.trim())));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.stdin.end();
      }),
  };
}

async function main(): Promise<void> {
  const server = split ? await serverInChild() : await startServer();
  const port = server.port;
  const plainTransport = createNativeTransport({ address: `127.0.0.1:${port}` });
  const resilientTransport = createNativeTransport({ address: `127.0.0.1:${port}` });

  const method = {
    name: [{ service: "petrel.bench.v1.EchoService" }],
    retryPolicy: {
      maxAttempts: 3,
      initialBackoff: "0.01s",
      maxBackoff: "0.1s",
      backoffMultiplier: 2,
      retryableStatusCodes: ["UNAVAILABLE"],
    },
  };
  const retryThrottling = { maxTokens: 100, tokenRatio: 0.1 };
  // Per attempt: the breaker sees every attempt's outcome (resilience4j defaults).
  const serviceConfig = { methodConfig: [{ ...method, circuitBreaker: {} }], retryThrottling };
  // Retries (A6, with retry throttling), the per-method breaker and, outermost, a client bulkhead
  // that bounds calls in flight (retries included) — all from one service config, so the method
  // gets the fused interceptor (packages/resilience/src/retry-fused.ts). Deadline propagation is
  // left out. `--composed` stacks the three separate interceptors instead, for comparison.
  const bulkhead = createBulkhead({ maxConcurrent: inflight * 2 });
  const interceptors: Interceptor[] = composed
    ? [
        createConcurrencyLimitClientInterceptor(bulkhead),
        ...createResilienceInterceptors({ methodConfig: [method], retryThrottling }, { deadline: false }),
        createCircuitBreakerInterceptor(createBreakerRegistry({})),
      ]
    : createResilienceInterceptors(serviceConfig, { deadline: false, limiter: bulkhead });
  const plain = createClient(EchoService, plainTransport);
  const resilient = createClient(EchoService, resilientTransport, { interceptors });
  const msg = create(EchoRequestSchema, {
    text: "petrel-bench-echo-message-012345",
    seq: 1048576n,
    payload: new Uint8Array(60).fill(0xab),
  });
  const options = { timeoutMs: 30_000 };

  /** CPU time (user + system) of this process per call in the last run, µs. */
  let lastCpuPerCall = 0;
  async function run(client: typeof plain, ms: number): Promise<number> {
    let calls = 0;
    const cpu0 = process.cpuUsage();
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (performance.now() < end) {
          await client.echo(msg, options);
          calls++;
        }
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    lastCpuPerCall = (cpu.user + cpu.system) / calls;
    return (calls * 1000) / ms;
  }

  // Warm up both paths (JIT, connections).
  await run(plain, 1000);
  await run(resilient, 1000);
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let plainSum = 0;
  let resilientSum = 0;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ["plain", "resilient"] : ["resilient", "plain"];
    const got: Record<string, number> = {};
    const cpu: Record<string, number> = {};
    for (const which of order) {
      got[which] = await run(which === "plain" ? plain : resilient, seconds * 1000);
      cpu[which] = lastCpuPerCall;
    }
    cpuRatios.push((cpu.resilient as number) / (cpu.plain as number));
    const p = got.plain as number;
    const q = got.resilient as number;
    plainSum += p;
    resilientSum += q;
    ratios.push(q / p);
    console.log(`round ${r + 1}: plain ${Math.round(p)} rps, resilient ${Math.round(q)} rps, overhead ${((1 - q / p) * 100).toFixed(1)}%`);
  }
  ratios.sort((a, b) => a - b);
  cpuRatios.sort((a, b) => a - b);
  const cpuMedian = cpuRatios[Math.floor((cpuRatios.length - 1) / 2)] as number;
  const median =
    ratios.length % 2 === 1
      ? ratios[(ratios.length - 1) / 2]
      : ((ratios[ratios.length / 2 - 1] as number) + (ratios[ratios.length / 2] as number)) / 2;
  // In one process 1/rps is the whole CPU cost of a call (both sides share one saturated thread);
  // with --split it is the client's time per call.
  const addedUs = (rounds / resilientSum - rounds / plainSum) * 1e6;
  console.log(
    `inflight=${inflight} rounds=${rounds} plain=${Math.round(plainSum / rounds)} rps resilient=${Math.round(resilientSum / rounds)} rps ` +
      `overhead=${((1 - resilientSum / plainSum) * 100).toFixed(1)}% (median round ${((1 - (median as number)) * 100).toFixed(1)}%; ` +
      `~${addedUs.toFixed(2)} us more per call (1/rps); target <= 5%)`,
  );
  // With --split this process runs only the clients: its CPU per call is the client's cost, the
  // steadiest figure (throughput also moves with the server process and the scheduler).
  console.log(
    `${split ? "client " : ""}CPU per call: resilient / plain, median round ${cpuMedian.toFixed(3)} (${((cpuMedian - 1) * 100).toFixed(1)}% more)`,
  );
  await plainTransport.close();
  await resilientTransport.close();
  await server.close();
  console.log(
    `mode: ${split ? "server in a child process (--split)" : "server and clients in one process"}, ${composed ? "three composed interceptors (--composed)" : "fused interceptor"}`,
  );
}
