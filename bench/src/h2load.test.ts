// Parsing of h2load's output and the ratio/target report (no h2load needed).
import assert from "node:assert/strict";
import { test } from "node:test";
import { isH2loadSystem, latencyFromLog, parseH2loadOutput } from "./h2load.ts";
import { formatRatios, formatTargets, type Row, toJsonRows } from "./report.ts";

const OUTPUT = `starting benchmark...
Main benchmark duration is over for thread #0. Stopping all clients.

finished in 2.00s, 45184.00 req/s, 5.86MB/s
requests: 67776 total, 67776 started, 67770 done, 67760 succeeded, 10 failed, 0 errored, 0 timeout
status codes: 67760 2xx, 0 3xx, 4 4xx, 6 5xx
traffic: 8.79MB (9220390) total, 242.70KB (248529) headers (space savings 95.77%), 8.29MB (8695680) data
`;

test("parseH2loadOutput reads req/s and request outcomes", () => {
  assert.deepEqual(parseH2loadOutput(OUTPUT), {
    rps: 45184,
    done: 67770,
    succeeded: 67760,
    failed: 10,
    errored: 0,
    timeout: 0,
    non2xx: 10,
  });
});

test("parseH2loadOutput rejects output without a summary", () => {
  assert.throws(() => parseH2loadOutput("invalid URI: http://x\n"), /unexpected h2load output: invalid URI/);
});

test("latencyFromLog takes the last column as µs", () => {
  const lines: string[] = [];
  for (let i = 1; i <= 100; i++) lines.push(`1795537307626563\t200\t${i * 10}`);
  const { p50_us, p99_us } = latencyFromLog(`${lines.join("\n")}\n`);
  // The histogram has ~1.6 % resolution.
  assert.ok(Math.abs(p50_us - 500) <= 10, `p50 ${p50_us}`);
  assert.ok(Math.abs(p99_us - 990) <= 16, `p99 ${p99_us}`);
  assert.deepEqual(latencyFromLog(""), { p50_us: 0, p99_us: 0 });
});

test("isH2loadSystem", () => {
  assert.equal(isH2loadSystem("h2load>petrel-grpc"), true);
  assert.equal(isH2loadSystem("grpc-js>petrel-grpc"), false);
});

const row = (system: string, inflight: number, rps: number, p99_us = 100): Row => ({
  system,
  workload: "unary",
  inflight,
  rps,
  p50_us: 50,
  p99_us,
});

test("ratio lines mark targets as met or not", () => {
  const rows = [
    row("h2load>petrel-grpc", 32, 9000),
    row("h2load>grpc-js", 32, 10000),
    row("h2load>raw-http2", 32, 9500),
    row("petrel-grpc", 1, 3000),
    row("grpc-js", 1, 2000),
    row("petrel-grpc", 32, 25000),
    row("grpc-js", 32, 10000),
  ];
  const lines = formatRatios(rows).split("\n");
  const find = (prefix: string, at: string): string | undefined => lines.find((l) => l.startsWith(prefix) && l.includes(at));
  assert.match(find("h2load>petrel-grpc / h2load>grpc-js", "x32") ?? "", /req\/s\s+0\.900x .* target >= 1x: NOT met/);
  assert.match(find("h2load>petrel-grpc / h2load>raw-http2", "x32") ?? "", /0\.947x .* target >= 0\.9x: met/);
  assert.match(find("petrel-grpc / grpc-js", "x32") ?? "", /2\.500x .* target >= 2x: met/);
  // The client target applies at 32/256 only.
  assert.doesNotMatch(find("petrel-grpc / grpc-js", "x1 ") ?? "missing", /target|missing/);

  const targets = formatTargets(rows);
  assert.match(targets, /Petrel gRPC server \/ grpc-js server \(h2load\).*0\.900x!/);
  assert.match(targets, /Petrel gRPC client \/ grpc-js client \[petrel-grpc \/ grpc-js\]\s+- +2\.500x /);
  assert.equal(formatTargets([row("grpc-js", 1, 1)]), "");
});

test("failed rows give no ratios and keep the JSON row shape", () => {
  const failed: Row = { ...row("h2load>grpc-js", 32, 0, 0), error: "h2load: 0 done" };
  assert.equal(formatRatios([row("h2load>petrel-grpc", 32, 9000), failed]), "");
  assert.deepEqual(toJsonRows([row("h2load>petrel-grpc", 32, 9000.4), failed]), [
    { system: "h2load>petrel-grpc", workload: "unary", inflight: 32, rps: 9000, p50_us: 50, p99_us: 100 },
    { system: "h2load>grpc-js", workload: "unary", inflight: 32, rps: 0, p50_us: 50, p99_us: 0, error: "h2load: 0 done" },
  ]);
});
