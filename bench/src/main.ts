// Petrel benchmark harness: CLI + orchestration.
//   npm run bench -- [--quick] [--json FILE] [--systems a,b] [--workloads unary,server-stream]
//                    [--duration S] [--warmup S] [--inflight 1,32,256] [--profile]
// Each row = one server child + one client child (pinned to cores 0/1 when possible); in
// "h2load>X" rows the client is the h2load binary (see h2load.ts), in "h2load-h1>X" rows h2load in
// HTTP/1.1 mode (see h2load-h1.ts). "codec:<name>" systems (or "codec:*") run the codec step
// in this process instead (bench/src/codecs: encode/decode ops/s, sizes, unary over petrel/1).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { ChildResult, ClientConfig } from "./child.ts";
import { CODEC_NAMES } from "./codecs/codec-set.ts";
import { runCodecE2e } from "./codecs/e2e.ts";
import { type CodecRow, formatCodecTable, formatCodecTargets, runCodecMicro } from "./codecs/run.ts";
import { findH2load, isH2loadSystem, runH2load } from "./h2load.ts";
import { isH2loadH1System, runH2loadH1 } from "./h2load-h1.ts";
import { formatRatios, formatTable, formatTargets, type Row, toJsonRows } from "./report.ts";
import { DEFAULT_SYSTEMS, QUICK_SYSTEMS, UNARY_ONLY, registry } from "./systems/index.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
const PROF_DIR = resolve(ROOT, "bench/results/prof");
const WORKLOADS = ["unary", "server-stream"] as const;
type Workload = (typeof WORKLOADS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "string" },
    systems: { type: "string" },
    workloads: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    inflight: { type: "string" },
    profile: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (args.help) {
  console.log(
    "usage: npm run bench -- [--quick] [--json FILE] [--systems a,b] [--workloads unary,server-stream]\n" +
      "                        [--duration S] [--warmup S] [--inflight 1,32,256] [--profile]\n" +
      `systems: ${Object.keys(registry).join(", ")}\n` +
      `default: ${DEFAULT_SYSTEMS.join(", ")}\n` +
      `--quick default: ${QUICK_SYSTEMS.join(", ")}\n` +
      `"h2load>X" rows drive X's server with h2load (nghttp2-client), unary only; "h2load-h1>X" the same over HTTP/1.1.\n` +
      `codec systems: ${CODEC_NAMES.map((c) => `codec:${c}`).join(", ")}, or codec:* for all (in-process, included by default).`,
  );
  process.exit(0);
}

const list = (s: string | undefined): string[] | undefined =>
  s
    ?.split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const num = (s: string | undefined, dflt: number, what: string): number => {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) die(`--${what} must be a positive number, got "${s}"`);
  return n;
};
function die(msg: string): never {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

const CODEC_SYSTEMS = CODEC_NAMES.map((c) => `codec:${c}`);
const requested = list(args.systems);
// Codec rows take ~1 min (~15 s with --quick) and are part of every default run.
let systems = requested ?? [...(args.quick ? QUICK_SYSTEMS : DEFAULT_SYSTEMS), "codec:*"];
const codecSystems = systems.filter((s) => s.startsWith("codec:"));
const codecNames = codecSystems.includes("codec:*") ? [...CODEC_NAMES] : codecSystems.map((s) => s.slice("codec:".length));
for (const s of codecSystems)
  if (s !== "codec:*" && !CODEC_SYSTEMS.includes(s)) die(`unknown system "${s}" (known codecs: ${CODEC_SYSTEMS.join(", ")}, codec:*)`);
systems = systems.filter((s) => !s.startsWith("codec:"));
for (const s of systems) if (!(s in registry)) die(`unknown system "${s}" (known: ${Object.keys(registry).join(", ")})`);
const usesH2load = (s: string): boolean => isH2loadSystem(s) || isH2loadH1System(s);
const H2LOAD = systems.some(usesH2load) ? findH2load() : undefined;
if (systems.some(usesH2load) && !H2LOAD) {
  // The bench is a measurement tool, not a test: a missing peer drops its rows, loudly.
  console.error("bench: h2load not found (Debian package nghttp2-client); skipping the h2load>* and h2load-h1>* rows");
  systems = systems.filter((s) => !usesH2load(s));
}
const workloads = (list(args.workloads) ?? [...WORKLOADS]) as Workload[];
for (const w of workloads) if (!WORKLOADS.includes(w)) die(`unknown workload "${w}" (known: ${WORKLOADS.join(", ")})`);
const inflights = (list(args.inflight) ?? ["1", "32", "256"]).map((s) => Math.floor(num(s, 1, "inflight")));
const durationS = num(args.duration, args.quick ? 1.5 : 5, "duration");
const warmupS = num(args.warmup, args.quick ? 0.5 : 2, "warmup");

// ---- child processes -------------------------------------------------------

const live = new Set<ChildProcess>();
const killAll = (): void => {
  for (const c of live) c.kill("SIGKILL");
};
process.on("exit", killAll);
/** h2load processes join `live` too, so an interrupted bench kills them. */
const trackH2load = (proc: ChildProcess): void => {
  live.add(proc);
  proc.once("close", () => live.delete(proc));
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function canPin(): boolean {
  try {
    execFileSync("which", ["taskset"], { stdio: "ignore" });
  } catch {
    return false;
  }
  let n = cpus().length;
  try {
    n = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || n;
  } catch {}
  return n >= 2;
}
const PIN = canPin();

interface Child {
  proc: ChildProcess;
  /** First JSON line the child prints ("ready", "result" or "error"). */
  message(timeoutMs: number): Promise<Record<string, unknown>>;
  exited: Promise<void>;
}

function spawnChild(core: number, childArgs: string[], profName: string): Child {
  const nodeArgs = ["--import", "tsx"];
  if (args.profile)
    nodeArgs.push(
      "--cpu-prof",
      // One folder per child: tsx's loader thread writes a profile of its own, and a
      // shared --cpu-prof-name would let it overwrite the main thread's.
      `--cpu-prof-dir=${PROF_DIR}/${profName}`,
    );
  nodeArgs.push(CHILD, ...childArgs);
  const [cmd, argv] = PIN ? ["taskset", ["-c", String(core), process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const proc = spawn(cmd, argv, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  live.add(proc);
  let stderr = "";
  let stdout = "";
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<void>((res) =>
    proc.once("close", () => {
      live.delete(proc);
      res();
    }),
  );
  proc.once("error", (err) => {
    stderr += `\nspawn failed: ${err.message}`;
  });
  const first = new Promise<Record<string, unknown>>((res, rej) => {
    proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      let nl = stdout.indexOf("\n");
      while (nl >= 0) {
        const line = stdout.slice(0, nl).trim();
        stdout = stdout.slice(nl + 1);
        nl = stdout.indexOf("\n");
        if (!line.startsWith("{")) continue;
        try {
          return res(JSON.parse(line) as Record<string, unknown>);
        } catch {}
      }
    });
    void exited.then(() =>
      rej(new Error(`child exited (code ${proc.exitCode}, signal ${proc.signalCode}) before reporting: ${tail(stderr)}`)),
    );
  });
  first.catch(() => {});
  return {
    proc,
    exited,
    message: (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`timed out after ${(timeoutMs / 1000).toFixed(1)} s`)), timeoutMs);
      });
      return Promise.race([first, timeout]).then(
        (msg) => {
          clearTimeout(timer);
          if (msg.type === "error") throw new Error(`child failed: ${String(msg.message)}`);
          return msg;
        },
        (err) => {
          clearTimeout(timer);
          throw err;
        },
      );
    },
  };
}

function tail(s: string): string {
  const lines = s.trim().split("\n").filter(Boolean);
  // First line of the error plus the last line of context.
  return lines.length <= 2 ? lines.join(" | ") : `${lines[0]} | ... | ${lines[lines.length - 1]}`;
}

/** SIGTERM (children exit normally, flushing --cpu-prof), then SIGKILL after 5 s. */
async function stop(c: Child | undefined): Promise<void> {
  if (!c) return;
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGTERM");
  const t = setTimeout(() => c.proc.kill("SIGKILL"), 5000);
  await c.exited;
  clearTimeout(t);
}

// ---- rows ------------------------------------------------------------------

interface RowSpec {
  system: string;
  workload: Workload;
  inflight: number;
}

async function runRow(spec: RowSpec): Promise<Row> {
  const row: Row = { ...spec, rps: 0, p50_us: 0, p99_us: 0 };
  // Profile folders must not contain ">" (shell-unfriendly): "h2load>grpc-js" -> "h2load-to-grpc-js".
  const name = `${spec.system.replaceAll(">", "-to-")}-${spec.workload}-${spec.inflight}`;
  let server: Child | undefined;
  let client: Child | undefined;
  try {
    server = spawnChild(0, ["server", spec.system], `${name}-server`);
    const ready = await server.message(30_000);
    if (H2LOAD && usesH2load(spec.system)) {
      const serverDied = server.exited.then(() => {
        throw new Error(`server exited during the row (code ${server?.proc.exitCode})`);
      });
      const h2cfg = {
        bin: H2LOAD,
        port: Number(ready.port),
        inflight: spec.inflight,
        warmupS,
        durationS,
        core: PIN ? 1 : undefined,
        track: trackH2load,
      };
      const res = await Promise.race([isH2loadH1System(spec.system) ? runH2loadH1(spec.system, h2cfg) : runH2load(h2cfg), serverDied]);
      Object.assign(row, res);
      return row;
    }
    const cfg: ClientConfig = {
      port: Number(ready.port),
      workload: spec.workload,
      inflight: spec.inflight,
      warmupS,
      durationS,
    };
    client = spawnChild(1, ["client", spec.system, JSON.stringify(cfg)], `${name}-client`);
    const serverDied = server.exited.then(() => {
      throw new Error(`server exited during the row (code ${server?.proc.exitCode})`);
    });
    const res = (await Promise.race([client.message((warmupS + durationS + 30) * 1000), serverDied])) as unknown as ChildResult;
    row.rps = res.rps;
    row.p50_us = res.p50_us;
    row.p99_us = res.p99_us;
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
  } finally {
    await Promise.all([stop(client), stop(server)]);
  }
  return row;
}

const specs: RowSpec[] = [];
for (const workload of workloads) {
  const levels = workload === "unary" ? inflights : [1];
  // h2load issues unary requests only, and JSON-RPC has no streams: no server-stream rows for them.
  const rowSystems = workload === "unary" ? systems : systems.filter((s) => !usesH2load(s) && !UNARY_ONLY.has(s));
  for (const inflight of levels) for (const system of rowSystems) specs.push({ system, workload, inflight });
}

if (specs.length === 0 && codecNames.length === 0) {
  console.error("bench: no rows to run");
  process.exit(0);
}
if (args.profile) mkdirSync(PROF_DIR, { recursive: true });
if (specs.length > 0)
  console.error(
    `bench: ${specs.length} rows, warm-up ${warmupS} s + measure ${durationS} s each; ` +
      (PIN ? "server pinned to core 0, client to core 1" : "no CPU pinning (needs taskset and >= 2 cores)") +
      (args.profile ? `; CPU profiles -> ${PROF_DIR}` : ""),
  );

const rows: Row[] = [];
for (const spec of specs) {
  const row = await runRow(spec);
  rows.push(row);
  console.error(
    `  ${spec.system} ${spec.workload} x${spec.inflight}: ` +
      (row.error ? `ERROR ${row.error}` : `${Math.round(row.rps)} req/s, p50 ${row.p50_us} µs, p99 ${row.p99_us} µs`),
  );
}

// Codec step: in-process, bounded (per cell: warm-up + measure, about a tenth of a row's time).
let codecRows: CodecRow[] = [];
if (codecNames.length > 0) {
  const measureMs = Math.min(1000, durationS * 200);
  const cellWarmupMs = Math.min(300, warmupS * 150);
  console.error(`bench: codec step (${codecNames.join(", ")}), ${measureMs} ms per cell`);
  const log = (l: string): void => {
    console.error(l);
  };
  const micro = await runCodecMicro({ codecs: codecNames, measureMs, warmupMs: cellWarmupMs, log });
  codecRows = micro.rows.concat(await runCodecE2e(micro.codecs, { measureMs: measureMs * 2, warmupMs: cellWarmupMs, log }));
  for (const [name, why] of micro.skipped) console.error(`bench: codec:${name} skipped: ${why}`);
}

if (rows.length > 0) {
  console.log();
  console.log(formatTable(rows));
  const ratios = formatRatios(rows);
  if (ratios) console.log(`\n${ratios}`);
  const targets = formatTargets(rows);
  if (targets) console.log(`\n${targets}`);
}
if (codecRows.length > 0) {
  console.log();
  console.log(formatCodecTable(codecRows));
  const codecTargets = formatCodecTargets(codecRows);
  if (codecTargets) console.log(`\n${codecTargets}`);
}
if (args.json) {
  const json = [...toJsonRows(rows), ...codecRows.map((r) => ({ ...r, rps: Math.round(r.rps) }))];
  writeFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), args.json), `${JSON.stringify(json, null, 2)}\n`);
  console.error(`bench: wrote ${args.json}`);
}
