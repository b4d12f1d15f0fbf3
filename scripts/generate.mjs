#!/usr/bin/env node
// Regenerates protobuf-es v2 code for every proto root with buf and the local protoc-gen-es
// plugin (no remote plugins, no BSR: works offline). `--out-root DIR` writes under DIR instead
// of the work tree, which the staleness test uses to compare with the committed files.
import { execFileSync } from "node:child_process";
import { rmSync, mkdirSync, existsSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** proto root -> output dir of generated TypeScript, both relative to the repo root. */
export const targets = [
  ["packages/testing/proto", "packages/testing/src/gen"],
  ["examples/inventory/proto", "examples/inventory/src/gen"],
  ["bench/proto", "bench/src/gen"],
];

const outRootArg = process.argv.indexOf("--out-root");
const outRoot = outRootArg > 0 ? resolve(process.argv[outRootArg + 1]) : root;
const buf = join(root, "node_modules/.bin/buf");
const plugin = join(root, "node_modules/.bin/protoc-gen-es");

for (const [protoDir, outDir] of targets) {
  if (!existsSync(join(root, protoDir))) continue;
  const out = join(outRoot, outDir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const template = {
    version: "v2",
    plugins: [{ local: plugin, out, opt: ["target=ts", "import_extension=js"] }],
  };
  execFileSync(buf, ["generate", join(root, protoDir), "--template", JSON.stringify(template)], {
    cwd: root,
    stdio: "inherit",
  });
}
