#!/usr/bin/env node
// Regenerates protobuf-es v2 code for every proto root with buf and the local protoc-gen-es
// plugin (no remote plugins, no BSR: works offline). `--out-root DIR` writes under DIR instead
// of the work tree, which the staleness test (scripts/generate.test.ts) uses to compare with the
// committed files.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * proto root -> output dir of generated TypeScript, both relative to the repo root; optionally
 * the only paths (under the root) to generate and import rewrites for protoc-gen-es.
 */
export const targets = [
  ["packages/testing/proto", "packages/testing/src/gen"],
  ["examples/inventory/proto", "examples/inventory/src/gen"],
  ["bench/proto", "bench/src/gen"],
  ["interop/proto", "interop/src/gen"],
  ["packages/health/proto", "packages/health/src/gen"],
  ["packages/reflection/proto", "packages/reflection/src/gen"],
  ["packages/gateway/proto", "packages/gateway/src/gen"],
  // The example imports google/api annotations from @petrel/gateway instead of generating its
  // own copy (one descriptor of google.api.http per process; what an application would do).
  ["examples/arith/proto", "examples/arith/src/gen", { paths: ["arith"], rewrite: ["./google/api/*_pb.js:@petrel/gateway/gen"] }],
  ["packages/discovery/proto", "packages/discovery/src/gen"],
];

/**
 * Generates every target whose proto root exists into `outRoot` (default: the work tree),
 * replacing each output dir. Returns the output dirs written, relative to `outRoot`.
 */
export function generate(outRoot = root) {
  const buf = join(root, "node_modules/.bin/buf");
  const plugin = join(root, "node_modules/.bin/protoc-gen-es");
  const written = [];
  for (const [protoDir, outDir, only = {}] of targets) {
    if (!existsSync(join(root, protoDir))) continue;
    const out = join(outRoot, outDir);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const opt = ["target=ts", "import_extension=js", ...(only.rewrite ?? []).map((r) => `rewrite_imports=${r}`)];
    const template = { version: "v2", plugins: [{ local: plugin, out, opt }] };
    const paths = (only.paths ?? []).flatMap((p) => ["--path", join(root, protoDir, p)]);
    execFileSync(buf, ["generate", join(root, protoDir), ...paths, "--template", JSON.stringify(template)], {
      cwd: root,
      stdio: "inherit",
    });
    written.push(outDir);
  }
  return written;
}

// Run only when executed (`node scripts/generate.mjs`), not when imported by the staleness test.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--out-root");
  if (i > 0 && process.argv[i + 1] === undefined) {
    console.error("usage: node scripts/generate.mjs [--out-root DIR]");
    process.exit(2);
  }
  generate(i > 0 ? resolve(process.argv[i + 1]) : root);
}
