#!/usr/bin/env node
// Runs every `*.test.ts` under packages/, examples/, interop/, scripts/ and bench/ with Node's own test runner.
// Node 20's `--test` does not expand globs nor look for .ts files, so we list them here.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const roots = ["packages", "examples", "interop", "scripts", "bench"];
const skipDirs = new Set(["node_modules", "dist", "gen"]);
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name) || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".test.ts")) files.push(p);
  }
}
for (const r of roots) if (existsSync(r)) walk(r);
const filter = process.argv.slice(2);
const selected = filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
selected.sort();
const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...selected], {
  stdio: "inherit",
});
process.exit(res.status ?? 1);
