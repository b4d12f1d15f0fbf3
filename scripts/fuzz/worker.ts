/**
 * Worker entry: fuzzes one target over an index range and reports failures and progress. The
 * current index sits in shared memory so the main thread can tell which input hung.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type Failure, inputRng, runOne, setUp, toHex } from "./engine.js";
import { Rng } from "./rng.js";
import type { FuzzTarget } from "./target.js";

/** What the main thread passes in. */
export interface WorkerJob {
  module: string;
  target: string;
  seed: number;
  start: number;
  end: number;
  hangMs: number;
  /** Epoch ms after which the worker stops early (the --time-limit). */
  deadline: number;
  /** Int32Array[0]: index being run; [1]: inputs completed. */
  progress: SharedArrayBuffer;
  maxReported: number;
}

/** Messages to the main thread. */
export type WorkerMessage =
  | { t: "ready" }
  | { t: "failure"; failure: Failure }
  | { t: "done"; completed: number; crashes: number; hangs: number };

const job = workerData as WorkerJob;
const mod = (await import(job.module)) as { createTarget(name: string): FuzzTarget | undefined };
const target = mod.createTarget(job.target);
if (target === undefined) throw new Error(`unknown fuzz target ${job.target}`);
await setUp(target, job.seed);

const progress = new Int32Array(job.progress);
parentPort?.postMessage({ t: "ready" } satisfies WorkerMessage);
const rng = new Rng();
let crashes = 0;
let hangs = 0;
let i = job.start;
for (; i < job.end; i++) {
  // Clock reads are cheap but not free: check the deadline every 1024 inputs.
  if ((i & 1023) === 0 && Date.now() > job.deadline) break;
  Atomics.store(progress, 0, i);
  const input = target.generate(inputRng(rng, job.seed, target.name, i));
  const bad = await runOne(target, input, job.hangMs);
  if (bad !== undefined) {
    if (bad.kind === "crash") crashes++;
    else hangs++;
    if (crashes + hangs <= job.maxReported) {
      const msg: WorkerMessage = { t: "failure", failure: { ...bad, index: i, hex: toHex(input) } };
      parentPort?.postMessage(msg);
    }
  }
  Atomics.store(progress, 1, i + 1 - job.start);
}
const done: WorkerMessage = { t: "done", completed: i - job.start, crashes, hangs };
parentPort?.postMessage(done);
