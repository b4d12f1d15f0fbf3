/**
 * Runs fuzz targets in worker threads, `jobs` at a time. A watchdog in the main thread reads
 * each worker's current input index from shared memory; an index that does not move for
 * `hangMs` (plus slack for a busy machine) means the parser is stuck — possibly in a synchronous
 * loop, which nothing inside the worker could interrupt — so the worker is terminated, the input
 * is rebuilt here from (seed, index), reported as a hang, and a new worker resumes after it.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { type Failure, inputAt, setUp, toHex } from "./engine.js";
import type { FuzzTarget } from "./target.js";
import type { WorkerJob, WorkerMessage } from "./worker.js";

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** Module (URL) exporting `createTarget(name)`; default the real targets (targets.ts). */
  module?: string;
  targets: string[];
  /** Inputs per target (default 1,000,000). */
  iterations?: number;
  /** Run seed (default 1). */
  seed?: number;
  /** Budget of one input in ms; longer is a hang (default 1000). */
  hangMs?: number;
  /** Wall-clock limit per target in ms; the target stops early, reporting what it ran (default none). */
  timeLimitMs?: number;
  /** Targets run at once (default 2). */
  jobs?: number;
  /** Failures saved and printed per target (default 5); all are counted. */
  maxReported?: number;
  /** Progress lines; default none. */
  log?: (line: string) => void;
}

/** The outcome for one target. */
export interface TargetResult {
  target: string;
  inputs: number;
  ms: number;
  crashes: number;
  hangs: number;
  /** The reported failures, each saved to `file`. */
  failures: Array<Failure & { file: string }>;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url).href;
const TSX_API = import.meta.resolve("tsx/esm/api");
// Workers do not inherit `--import tsx`'s loader: register it, then load the TypeScript entry.
const BOOT = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL)}); })`;

/** Fuzzes every target; resolves when all are done. */
export async function runFuzz(options: FuzzOptions): Promise<TargetResult[]> {
  const queue = [...options.targets];
  const results: TargetResult[] = [];
  const jobs = Math.max(1, options.jobs ?? 2);
  const lanes = Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const r = await runTarget(name, options);
      options.log?.(summaryLine(r));
      results.push(r);
    }
  });
  await Promise.all(lanes);
  return options.targets.map((n) => results.find((r) => r.target === n) as TargetResult);
}

/** One line per target for logs. */
export function summaryLine(r: TargetResult): string {
  const rate = r.ms > 0 ? Math.round((r.inputs * 1000) / r.ms) : 0;
  return `${r.target}: ${r.inputs} inputs in ${(r.ms / 1000).toFixed(1)} s (${rate}/s), ${r.crashes} crashes, ${r.hangs} hangs`;
}

async function runTarget(name: string, o: FuzzOptions): Promise<TargetResult> {
  const module = o.module ?? new URL("./targets.ts", import.meta.url).href;
  const seed = o.seed ?? 1;
  const total = o.iterations ?? 1_000_000;
  const hangMs = o.hangMs ?? 1000;
  const maxReported = o.maxReported ?? 5;
  const started = Date.now();
  const deadline = o.timeLimitMs === undefined ? Number.MAX_SAFE_INTEGER : started + o.timeLimitMs;
  const result: TargetResult = { target: name, inputs: 0, ms: 0, crashes: 0, hangs: 0, failures: [] };
  // The main thread's copy, only built when a hang needs its input rebuilt.
  let local: FuzzTarget | undefined;

  const record = (f: Failure) => {
    if (result.failures.length >= maxReported) return;
    const file = join(tmpdir(), `petrel-fuzz-${name}-seed${seed}-${f.index}.json`);
    writeFileSync(file, `${JSON.stringify({ target: name, seed, ...f }, null, 2)}\n`);
    result.failures.push({ ...f, file });
    const hex = f.hex.length > 400 ? `${f.hex.slice(0, 400)}… (${f.hex.length / 2} bytes)` : f.hex;
    o.log?.(`${name}: ${f.kind.toUpperCase()} at input ${f.index}: ${f.error.split("\n")[0]}\n  input: ${hex}\n  saved: ${file}`);
  };

  let start = 0;
  while (start < total && Date.now() <= deadline) {
    const progress = new SharedArrayBuffer(8);
    const view = new Int32Array(progress);
    Atomics.store(view, 0, start);
    const job: WorkerJob = { module, target: name, seed, start, end: total, hangMs, deadline, progress, maxReported };
    const outcome = await new Promise<{ t: "done"; completed: number } | { t: "stuck" | "died"; at: number; why: string }>((resolve) => {
      const worker = new Worker(BOOT, { eval: true, workerData: job });
      let settled = false;
      let lastIndex = -1;
      let lastChange = Date.now();
      let ready = false;
      const finish = (v: Parameters<typeof resolve>[0]) => {
        if (settled) return;
        settled = true;
        clearInterval(watchdog);
        resolve(v);
      };
      // Worker startup (tsx, imports, corpus) is not an input: the watchdog starts once it is ready.
      const watchdog = setInterval(
        () => {
          const idx = Atomics.load(view, 0);
          const completed = Atomics.load(view, 1);
          if (!ready) return;
          if (idx !== lastIndex || completed !== lastCompleted) {
            lastIndex = idx;
            lastCompleted = completed;
            lastChange = Date.now();
            return;
          }
          // Slack: a busy 2-core box may starve this thread; the budget itself is hangMs.
          if (Date.now() - lastChange > hangMs + 250) {
            finish({ t: "stuck", at: idx, why: `no progress for ${Date.now() - lastChange} ms (budget ${hangMs} ms)` });
            void worker.terminate();
          }
        },
        Math.max(20, Math.min(250, hangMs / 4)),
      );
      let lastCompleted = -1;
      worker.on("message", (m: WorkerMessage) => {
        if (m.t === "ready") {
          ready = true;
          lastChange = Date.now();
        } else if (m.t === "failure") {
          if (m.failure.kind === "crash") result.crashes++;
          else result.hangs++;
          record(m.failure);
        } else {
          // Failures past maxReported were only counted in the worker.
          result.crashes = Math.max(result.crashes, m.crashes);
          result.hangs = Math.max(result.hangs, m.hangs);
          finish({ t: "done", completed: m.completed });
        }
      });
      worker.on("error", (e) => finish({ t: "died", at: Atomics.load(view, 0), why: `worker died: ${e.stack ?? String(e)}` }));
      worker.on("exit", (code) => finish({ t: "died", at: Atomics.load(view, 0), why: `worker exited (code ${code}) mid-run` }));
    });
    if (outcome.t === "done") {
      result.inputs += outcome.completed;
      break;
    }
    // A hang or a dead worker: name the input, then resume after it.
    result.inputs += outcome.at - start + 1;
    if (local === undefined) {
      const mod = (await import(module)) as { createTarget(n: string): FuzzTarget | undefined };
      local = mod.createTarget(name);
      if (local !== undefined) await setUp(local, seed);
    }
    const hex = local === undefined ? "" : toHex(inputAt(local, seed, outcome.at));
    if (outcome.t === "stuck") result.hangs++;
    else result.crashes++;
    record({ kind: outcome.t === "stuck" ? "hang" : "crash", index: outcome.at, error: outcome.why, hex });
    start = outcome.at + 1;
  }
  result.ms = Date.now() - started;
  return result;
}
