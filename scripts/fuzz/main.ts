/**
 * `npm run fuzz`: fuzzes every wire parser with >= 1M inputs each (the default) and exits
 * non-zero on any crash or hang. Flags:
 *   --target name[,name]   only these targets (see --list)
 *   --iterations N         inputs per target (default 1000000)
 *   --seed N               run seed (default 1); input i of a target is a pure function of (seed, i)
 *   --time-limit S         stop each target after S seconds, reporting what it ran
 *   --hang-ms N            budget of one input (default 1000)
 *   --jobs N               targets fuzzed at once (default: 2, or 1 on a 1-core machine)
 *   --replay file.json     re-run one saved failing input in this thread and print the outcome
 *   --list                 list the targets
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { runOne, setUp } from "./engine.js";
import { runFuzz, summaryLine } from "./runner.js";
import { createTarget, targetNames } from "./targets.js";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    iterations: { type: "string" },
    seed: { type: "string" },
    "time-limit": { type: "string" },
    "hang-ms": { type: "string" },
    jobs: { type: "string" },
    replay: { type: "string" },
    list: { type: "boolean" },
  },
});

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 0) {
    console.error(`fuzz: --${name} wants a non-negative integer, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

if (values.list) {
  for (const n of targetNames) console.log(`${n.padEnd(20)} ${createTarget(n)?.description ?? ""}`);
  process.exit(0);
}

if (values.replay !== undefined) {
  const saved = JSON.parse(readFileSync(values.replay, "utf8")) as { target: string; seed: number; hex: string };
  const target = createTarget(saved.target);
  if (target === undefined) throw new Error(`unknown target ${saved.target}`);
  await setUp(target, saved.seed);
  const bad = await runOne(target, Buffer.from(saved.hex, "hex"), int("hang-ms", values["hang-ms"], 1000));
  console.log(bad === undefined ? `${saved.target}: the input passes now` : `${saved.target}: ${bad.kind}: ${bad.error}`);
  process.exit(bad === undefined ? 0 : 1);
}

const targets = values.target === undefined ? targetNames : values.target.split(",").map((s) => s.trim());
const unknown = targets.filter((t) => !targetNames.includes(t));
if (unknown.length > 0) {
  console.error(`fuzz: unknown target(s) ${unknown.join(", ")}; known: ${targetNames.join(", ")}`);
  process.exit(2);
}
const iterations = int("iterations", values.iterations, 1_000_000);
const seed = int("seed", values.seed, 1);
const timeLimit = values["time-limit"] === undefined ? undefined : int("time-limit", values["time-limit"], 0) * 1000;
const jobs = int("jobs", values.jobs, Math.min(2, availableParallelism()));
console.log(
  `fuzz: ${targets.length} targets, ${iterations} inputs each, seed ${seed}, ${jobs} at a time${timeLimit ? `, ${timeLimit / 1000} s limit each` : ""}`,
);

const started = Date.now();
const results = await runFuzz({
  targets,
  iterations,
  seed,
  timeLimitMs: timeLimit,
  hangMs: int("hang-ms", values["hang-ms"], 1000),
  jobs,
  log: (line) => console.log(line),
});
const wall = (Date.now() - started) / 1000;

console.log(`\n${"target".padEnd(20)} ${"inputs".padStart(10)} ${"seconds".padStart(8)} ${"inputs/s".padStart(9)} crashes hangs`);
for (const r of results) {
  const rate = r.ms > 0 ? Math.round((r.inputs * 1000) / r.ms) : 0;
  console.log(
    `${r.target.padEnd(20)} ${String(r.inputs).padStart(10)} ${(r.ms / 1000).toFixed(1).padStart(8)} ${String(rate).padStart(9)} ${String(r.crashes).padStart(7)} ${String(r.hangs).padStart(5)}`,
  );
}
const failed = results.filter((r) => r.crashes + r.hangs > 0);
const short = results.filter((r) => r.inputs < iterations);
console.log(
  `\ntotal ${results.reduce((n, r) => n + r.inputs, 0)} inputs in ${wall.toFixed(1)} s; ${failed.length === 0 ? "no failures" : `FAILURES in ${failed.map((r) => r.target).join(", ")}`}`,
);
if (short.length > 0) console.log(`stopped early (time limit): ${short.map(summaryLine).join("; ")}`);
process.exit(failed.length === 0 ? 0 : 1);
