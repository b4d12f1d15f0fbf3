// Micro-benchmark (not a test): CPU microseconds per unary call of a gRPC CLIENT, the server in
// a separate child process, so only the client's cost is counted. Each client runs the bench's
// unary call (for petrel-grpc: the full call path, interceptor, deadline and header per call)
// in a closed loop with `inflight` calls in flight on one connection.
//   node --import tsx bench/src/micro/grpc-client-cost.ts [inflight] [seconds] [server] [clients]
// server: a bench system name (default raw-http2, the cheapest server, so the client is the
// bottleneck); clients: comma-separated bench system names (default petrel-grpc,raw-http2,grpc-js)
// or paths of modules exporting a BenchSystem (e.g. a copy of an older transport, for A/B runs).
// With taskset the server is pinned to core 0 and this process to core 1. Compare CPU µs per call
// within one run; req/s also depends on the server.
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type BenchSystem, loadSystem } from "../systems/index.ts";

const inflight = Number(process.argv[2] ?? 256);
const seconds = Number(process.argv[3] ?? 4);
const serverSystem = process.argv[4] ?? "raw-http2";
const clients = (process.argv[5] ?? "petrel-grpc,raw-http2,grpc-js").split(",");
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

let pin = false;
try {
  execFileSync("taskset", ["-cp", "1", String(process.pid)], { stdio: "ignore" });
  pin = true;
} catch {
  // No taskset (or one core): run unpinned.
}
const childArgs = ["--import", "tsx", "bench/src/child.ts", "server", serverSystem];
const server = pin
  ? spawn("taskset", ["-c", "0", process.execPath, ...childArgs], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] })
  : spawn(process.execPath, childArgs, { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
const port = await new Promise<number>((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    const line = out.split("\n").find((l) => l.includes('"ready"'));
    if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
  });
  server.once("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
});

async function measure(name: string): Promise<string> {
  // A name ending in .ts is a module path (relative to this file) whose default export is a BenchSystem.
  const system = name.endsWith(".ts") ? ((await import(name)) as { default: BenchSystem }).default : await loadSystem(name);
  const client = await system.createClient({ host: "127.0.0.1", port });
  const run = async (ms: number): Promise<number> => {
    let calls = 0;
    const end = Date.now() + ms;
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (Date.now() < end) {
          await client.unary();
          calls++;
        }
      }),
    );
    return calls;
  };
  await run(1500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const calls = await run(seconds * 1000);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await client.close();
  const us = (cpu.user + cpu.system) / calls;
  return `${name.padEnd(14)} inflight=${inflight} rps=${String(Math.round((calls * 1000) / wall)).padStart(6)} client_cpu_us_per_call=${us.toFixed(2)}`;
}

try {
  console.log(`server: ${serverSystem}${pin ? " (pinned to core 0, client to core 1)" : " (unpinned)"}`);
  for (const name of clients) console.log(await measure(name));
} finally {
  server.stdin.end();
  server.kill("SIGTERM");
}
