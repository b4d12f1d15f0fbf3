// Staleness check: fbs/gen/ is committed flatc output; regenerating it from fbs/*.fbs must give
// the same bytes. Needs flatc (Debian flatbuffers-compiler); skipped loudly without it, fails in CI.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const FLATC = process.env.FLATC ?? "/usr/bin/flatc";
const FBS = fileURLToPath(new URL("../fbs/", import.meta.url));
const GEN = join(FBS, "gen");

function flatcMissing(): string | undefined {
  if (!existsSync(FLATC)) return `${FLATC} not found (install Debian flatbuffers-compiler)`;
  return undefined;
}

describe("flatbuffers generated code", () => {
  const missing = flatcMissing();
  if (missing !== undefined && process.env.CI) throw new Error(`flatc is required in CI: ${missing}`);
  it("fbs/gen matches `flatc --ts --ts-flat-files` of fbs/*.fbs", { skip: missing && `SKIPPED LOUDLY: ${missing}` }, () => {
    const out = mkdtempSync(join(tmpdir(), "petrel-fbs-"));
    try {
      const schemas = readdirSync(FBS).filter((f) => f.endsWith(".fbs"));
      assert.ok(schemas.length > 0);
      execFileSync(FLATC, ["--ts", "--ts-flat-files", "-o", out, ...schemas.map((f) => join(FBS, f))], { timeout: 60_000 });
      const fresh = readdirSync(out).sort();
      // order.fbs: the codec's tests; bench.fbs: the codec benchmark's messages (bench/src/codecs/flatbuffers.ts).
      for (const f of ["order_generated.ts", "bench_generated.ts"]) assert.ok(fresh.includes(f), `flatc produced ${f}`);
      assert.deepEqual(readdirSync(GEN).sort(), fresh, "generated file set");
      for (const f of fresh) {
        assert.equal(
          readFileSync(join(GEN, f), "utf8"),
          readFileSync(join(out, f), "utf8"),
          `fbs/gen/${f} is stale: run flatc --ts --ts-flat-files -o packages/codecs/fbs/gen packages/codecs/fbs/*.fbs`,
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
