// Fails the suite when generated code is stale: regenerates every proto root into a temp dir with
// `node scripts/generate.mjs --out-root DIR` and compares the result, file by file, with the
// committed output dirs. Fix a failure with `npm run generate` and commit the result.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { root, targets } from "./generate.mjs";

const HINT = "generated code is stale: run `npm run generate` and commit the result";

/** Paths of all files under `dir`, relative to it, sorted ([] when `dir` does not exist). */
function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk("");
  return out.sort();
}

describe("generated code", () => {
  let tmp = "";

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "petrel-generate-"));
    try {
      execFileSync(process.execPath, [join(root, "scripts/generate.mjs"), "--out-root", tmp], { cwd: root, stdio: "pipe" });
    } catch (e) {
      const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
      assert.fail(`scripts/generate.mjs failed: ${err.message}\n${err.stdout?.toString() ?? ""}${err.stderr?.toString() ?? ""}`);
    }
  });

  after(() => {
    if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
  });

  for (const [protoDir, outDir] of targets) {
    it(`${outDir} matches ${protoDir}`, (t) => {
      if (!existsSync(join(root, protoDir))) return t.skip(`${protoDir} does not exist`);
      const fresh = listFiles(join(tmp, outDir));
      const committed = listFiles(join(root, outDir));
      assert.ok(fresh.length > 0, `buf generated nothing for ${protoDir}`);
      assert.deepEqual(committed, fresh, `${HINT} (file list of ${outDir} differs)`);
      for (const f of fresh) {
        const want = readFileSync(join(tmp, outDir, f));
        const got = readFileSync(join(root, outDir, f));
        assert.ok(got.equals(want), `${HINT} (${outDir}/${f} differs)`);
      }
    });
  }
});
