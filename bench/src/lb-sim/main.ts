// Load-balancer simulation: every built-in policy on the same workload, 1,000 backends and 100
// clients in virtual time. Prints a table and writes SVG plots.
//   node --import tsx bench/src/lb-sim/main.ts [--requests 1000000] [--backends 1000] [--clients 100]
//        [--seed 42] [--utilization 0.7] [--policies round_robin,p2c_peak_ewma] [--out docs/img] [--no-svg]
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type SimOptions, type SimResult, simulate } from "./sim.ts";
import { latencySvg, spreadSvg } from "./svg.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000000" },
    backends: { type: "string", default: "1000" },
    clients: { type: "string", default: "100" },
    seed: { type: "string", default: "42" },
    utilization: { type: "string", default: "0.7" },
    tau: { type: "string", default: "10000" },
    policies: { type: "string" },
    out: { type: "string", default: "docs/img" },
    "no-svg": { type: "boolean", default: false },
  },
});

function int(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

const base: Omit<SimOptions, "policy" | "config"> = {
  backends: int("backends", values.backends, 2),
  clients: int("clients", values.clients, 1),
  requests: int("requests", values.requests, 1000),
  workers: 2,
  serviceMs: 20,
  utilization: Number(values.utilization),
  episodeEveryMs: 500,
  episodeShare: 0.01,
  slowFactor: 10,
  tauMs: Number(values.tau),
  seed: int("seed", values.seed, 0),
};
if (!(base.utilization > 0 && base.utilization < 1)) throw new Error("--utilization must be in (0, 1)");

// [label, policy, config]. Hashing policies get a bounded ring: backend weights (~35-70) x 160
// vnodes would be 8M points per client.
const runs: Array<[string, string, unknown]> = [
  ["pick_first (shuffle)", "pick_first", { shuffle: true }],
  ["round_robin", "round_robin", undefined],
  ["weighted_round_robin", "weighted_round_robin", undefined],
  ["random", "random", undefined],
  ["least_request", "least_request", undefined],
  ["p2c_peak_ewma", "p2c_peak_ewma", undefined],
  ["ring_hash", "ring_hash", { maxRingSize: 100_000 }],
  ["ring_hash (bounded 0.25)", "ring_hash", { maxRingSize: 100_000, boundedLoad: { epsilon: 0.25 } }],
  ["maglev", "maglev", undefined],
];
const only = values.policies?.split(",");
const selected = only ? runs.filter(([label, policy]) => only.includes(policy) || only.includes(label)) : runs;

console.log(
  `lb-sim: ${base.backends} backends x ${base.workers} workers (mean service ${base.serviceMs} ms +-30%), ${base.clients} clients, ` +
    `${base.requests} requests at ${base.utilization * 100}% utilization; every ${base.episodeEveryMs} ms ${base.episodeShare * 100}% of backends ` +
    `get ${base.slowFactor}x slower for 2-5 s; peak-EWMA tau ${base.tauMs} ms; seed ${base.seed}`,
);
const results: SimResult[] = [];
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const header = ["policy", "p50", "p99", "p99.9", "mean", "max/mean", "CV", "to-slow", "wall"];
const rows: string[][] = [];
for (const [label, policy, config] of selected) {
  const r = simulate({ ...base, policy, config }, label);
  results.push(r);
  rows.push([
    label,
    fmt(r.p50),
    fmt(r.p99),
    fmt(r.p999),
    fmt(r.mean),
    r.maxOverMean.toFixed(1),
    r.cv.toFixed(2),
    `${(r.slowShare * 100).toFixed(1)}%`,
    `${(r.wallMs / 1000).toFixed(1)} s`,
  ]);
  process.stderr.write(`  ${label}: ${(r.wallMs / 1000).toFixed(1)} s wall, ${r.virtualSeconds.toFixed(1)} s virtual\n`);
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
console.log("max/mean and CV: per-backend outstanding requests (queued + in service), sampled every 10 ms of virtual time and averaged.");
console.log("to-slow: share of requests sent to a backend during one of its slow (10x) episodes.");

if (!values["no-svg"]) {
  mkdirSync(values.out, { recursive: true });
  const a = join(values.out, "lb-latency.svg");
  const b = join(values.out, "lb-load-spread.svg");
  writeFileSync(a, latencySvg(results));
  writeFileSync(b, spreadSvg(results));
  console.log(`wrote ${a} and ${b}`);
}
