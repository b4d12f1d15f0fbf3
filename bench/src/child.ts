// Child entry point, spawned by main.ts (one process per role per row):
//   child.ts server <system>           -> prints {"type":"ready","port":N}, serves until SIGTERM
//   child.ts client <system> <config>  -> runs one workload, prints {"type":"result",...}, exits
// Any failure prints {"type":"error","message":...} and exits 1.
// Both roles exit when stdin closes, so a dead parent never leaks children.
import { Histogram } from "./histogram.ts";
import { loadSystem } from "./systems/index.ts";

export interface ClientConfig {
  port: number;
  workload: "unary" | "server-stream";
  inflight: number;
  warmupS: number;
  durationS: number;
}

export interface ChildResult {
  type: "result";
  rps: number;
  p50_us: number;
  p99_us: number;
  count: number;
  elapsed_s: number;
}

const STREAM_COUNT = 2 ** 31 - 1; // one call that outlives the row

function emit(msg: object): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(msg)}\n`, () => resolve()));
}

let finished = false; // after the result line, late errors are irrelevant

async function fail(err: unknown): Promise<never> {
  if (finished) process.exit(0);
  const message = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error ? err.stack : undefined;
  await emit({ type: "error", message, stack });
  process.exit(1);
}

process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
// Exit normally (not by signal) so --cpu-prof profiles get written.
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();

async function runServer(systemName: string): Promise<void> {
  const system = await loadSystem(systemName);
  const server = await system.startServer(0);
  await emit({ type: "ready", port: server.port });
}

async function runClient(systemName: string, cfg: ClientConfig): Promise<void> {
  const system = await loadSystem(systemName);
  const client = await system.createClient({
    host: "127.0.0.1",
    port: cfg.port,
  });
  const hist = new Histogram();
  let measuring = false;
  let stopped = false;
  let count = 0;
  let t0 = 0;

  let workers: Promise<void>[];
  if (cfg.workload === "unary") {
    // Closed loop: each of `inflight` workers issues the next call as soon as one completes.
    const worker = async (): Promise<void> => {
      while (!stopped) {
        const start = performance.now();
        await client.unary();
        if (measuring) {
          hist.record((performance.now() - start) * 1e6);
          count++;
        }
      }
    };
    workers = Array.from({ length: cfg.inflight }, worker);
  } else {
    // One long call; the histogram records gaps between consecutive messages.
    let last = performance.now();
    const onMessage = (): void => {
      const now = performance.now();
      if (measuring) {
        hist.record((now - last) * 1e6);
        count++;
      }
      last = now;
    };
    workers = [
      (async () => {
        while (!stopped) await client.serverStream(STREAM_COUNT, onMessage);
      })(),
    ];
  }
  // A worker failing ends the row with an error.
  const failed = Promise.race(workers).then(() => undefined);

  await Promise.race([failed, sleep(cfg.warmupS * 1000)]);
  measuring = true;
  t0 = performance.now();
  await Promise.race([failed, sleep(cfg.durationS * 1000)]);
  measuring = false;
  stopped = true;
  const elapsed = (performance.now() - t0) / 1000;
  const result: ChildResult = {
    type: "result",
    rps: count / elapsed,
    p50_us: hist.quantileUs(0.5),
    p99_us: hist.quantileUs(0.99),
    count,
    elapsed_s: elapsed,
  };
  finished = true;
  await emit(result);
  await Promise.race([client.close(), sleep(1000)]);
  process.exit(0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const [role, systemName, config] = process.argv.slice(2);
if (role === "server" && systemName) await runServer(systemName).catch(fail);
else if (role === "client" && systemName && config) await runClient(systemName, JSON.parse(config) as ClientConfig).catch(fail);
else await fail(new Error(`usage: child.ts server <system> | client <system> <json-config>`));
