// Micro-benchmark (not a test): CPU microseconds per unary call of a gRPC SERVER, driven by h2load
// (a C client, so the client's cost is not in the number). Each server runs in its own child
// process, pinned to core 0 (h2load to core 1); the child measures its own process.cpuUsage()
// around a fixed number of requests (`h2load -n`), after a warm-up run, so the result is exact
// CPU per call and does not depend on how busy the box is (unlike req/s).
//   node --import tsx bench/src/micro/grpc-server-cost.ts [inflight] [requests] [systems] [rounds]
// systems: comma-separated bench system names (default petrel-grpc,raw-http2,grpc-js);
// rounds: how many times the list is repeated, interleaved (default 2). Compare within one run.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findH2load, parseH2loadOutput, probeGrpcEcho } from "../h2load.ts";
import { loadSystem } from "../systems/index.ts";
import { framedEchoRequest } from "../systems/raw-http2.ts";

const ECHO_PATH = "/petrel.bench.v1.EchoService/Echo";
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

function pinned(core: number, cmd: string, argv: string[]): [string, string[]] {
  try {
    execFileSync("taskset", ["-c", String(core), "true"], { stdio: "ignore" });
    return ["taskset", ["-c", String(core), cmd, ...argv]];
  } catch {
    return [cmd, argv];
  }
}

function run([cmd, argv]: [string, string[]]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    proc.once("error", reject);
    proc.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${out.slice(-500)}`))));
  });
}

/** Child: serve one system, drive it with h2load, print `{system, rps, cpuUs}` as JSON. */
async function serve(systemName: string, inflight: number, requests: number, h2load: string): Promise<void> {
  const system = await loadSystem(systemName);
  const server = await system.startServer(0);
  const dir = mkdtempSync(join(tmpdir(), "petrel-server-cost-"));
  try {
    const body = framedEchoRequest();
    const bodyFile = join(dir, "body.bin");
    writeFileSync(bodyFile, body);
    await probeGrpcEcho(server.port, body);
    const h2 = (n: number) =>
      run(
        pinned(1, h2load, [
          "-c1",
          "-t1",
          `-m${inflight}`,
          `-n${n}`,
          "-d",
          bodyFile,
          "-H",
          "content-type: application/grpc",
          "-H",
          "te: trailers",
          `http://127.0.0.1:${server.port}${ECHO_PATH}`,
        ]),
      );
    await h2(Math.max(20_000, requests >> 1)); // warm-up: JIT, pools, heap sizes
    const cpu0 = process.cpuUsage();
    const out = await h2(requests);
    const cpu = process.cpuUsage(cpu0);
    const s = parseH2loadOutput(out);
    if (s.succeeded !== requests || s.non2xx > 0) throw new Error(`h2load: ${s.succeeded}/${requests} succeeded, ${s.non2xx} non-2xx`);
    process.stdout.write(`${JSON.stringify({ system: systemName, rps: s.rps, cpuUs: (cpu.user + cpu.system) / requests })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
}

async function main(): Promise<void> {
  const h2load = findH2load();
  if (h2load === undefined) {
    console.error("grpc-server-cost: h2load not found (Debian nghttp2-client); nothing to measure");
    return;
  }
  if (process.argv[2] === "serve") {
    await serve(process.argv[3] as string, Number(process.argv[4]), Number(process.argv[5]), h2load);
    process.exit(0); // servers of other libraries may keep handles open
  }
  const inflight = Number(process.argv[2] ?? 256);
  const requests = Number(process.argv[3] ?? 200_000);
  const systems = (process.argv[4] ?? "petrel-grpc,raw-http2,grpc-js").split(",");
  const rounds = Number(process.argv[5] ?? 2);
  console.log(`grpc-server-cost: ${requests} requests, ${inflight} in flight, 1 connection, h2load client`);
  const cost = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const name of systems) {
      const line = await run(pinned(0, process.execPath, ["--import", "tsx", SELF, "serve", name, String(inflight), String(requests)]));
      const res = JSON.parse(line.trim().split("\n").pop() as string) as { system: string; rps: number; cpuUs: number };
      console.log(`  ${name.padEnd(14)} ${res.cpuUs.toFixed(2).padStart(7)} µs CPU/call   ${Math.round(res.rps)} req/s`);
      cost.set(name, [...(cost.get(name) ?? []), res.cpuUs]);
    }
  }
  const best = (name: string) => Math.min(...(cost.get(name) ?? [Number.NaN]));
  const base = systems[0] as string;
  for (const name of systems.slice(1)) {
    console.log(`  best ${base} / ${name}: CPU per call ${(best(base) / best(name)).toFixed(3)}x`);
  }
}

await main();
