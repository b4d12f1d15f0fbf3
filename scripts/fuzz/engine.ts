/**
 * The per-thread fuzz loop: builds input i from (seed, target, i), runs it under a time budget
 * and classifies what happened. Runs inside a worker (see runner.ts), which the main thread can
 * terminate when an input never returns.
 */
import { performance } from "node:perf_hooks";
import { Rng, hash32 } from "./rng.js";
import { type FuzzTarget, InvariantError } from "./target.js";

/** What went wrong with one input. */
export interface Failure {
  kind: "crash" | "hang";
  index: number;
  /** The error (name: message), or the time the input took. */
  error: string;
  /** The input, hex-encoded. */
  hex: string;
}

/** The RNG state of input `index`: a pure function of (seed, target name, index). */
export function inputRng(rng: Rng, seed: number, name: string, index: number): Rng {
  return rng.reseed((seed ^ hash32(name)) >>> 0, index);
}

/** Sets a target up exactly as every thread does, so inputs can be rebuilt anywhere. */
export async function setUp(target: FuzzTarget, seed: number): Promise<void> {
  await target.setup?.(new Rng().reseed((seed ^ hash32(target.name)) >>> 0, 0xffff_ffff));
}

/** Rebuilds input `index` of a run. */
export function inputAt(target: FuzzTarget, seed: number, index: number): Uint8Array {
  return target.generate(inputRng(new Rng(), seed, target.name, index));
}

export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const where = e instanceof InvariantError ? "" : `\n${(e.stack ?? "").split("\n").slice(1, 6).join("\n")}`;
    return `${e.name}: ${e.message}${where}`;
  }
  return `non-Error thrown: ${String(e)}`;
}

/**
 * Runs one input. Returns undefined when the parser accepted or properly rejected it, otherwise
 * the failure kind and reason. A call that returns but took longer than `hangMs` is a hang too.
 */
export async function runOne(
  target: FuzzTarget,
  input: Uint8Array,
  hangMs: number,
): Promise<{ kind: Failure["kind"]; error: string } | undefined> {
  const t0 = performance.now();
  let error: unknown;
  let threw = false;
  try {
    const r = target.run(input);
    // Only async targets pay for an await.
    if (r !== undefined) await r;
  } catch (e) {
    threw = true;
    error = e;
  }
  const ms = performance.now() - t0;
  if (threw && (error instanceof InvariantError || !target.expected(error))) return { kind: "crash", error: describeError(error) };
  if (ms > hangMs) return { kind: "hang", error: `took ${ms.toFixed(0)} ms (budget ${hangMs} ms)` };
  return undefined;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
