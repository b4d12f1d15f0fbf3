/**
 * The bounded fuzz run of the test suite: every target of `npm run fuzz` for a few thousand
 * inputs (the full command runs 1M each), plus proof that the runner catches planted bugs.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { describe, it } from "node:test";
import { inputAt } from "./fuzz/engine.ts";
import { createTarget as createPlanted } from "./fuzz/planted-targets.ts";
import { runFuzz } from "./fuzz/runner.ts";
import { targetNames } from "./fuzz/targets.ts";

const PER_TARGET = Number(process.env.PETREL_FUZZ_INPUTS ?? 2000);
const PLANTED = new URL("./fuzz/planted-targets.ts", import.meta.url).href;

describe("fuzz (bounded)", () => {
  it("every parser survives its inputs with no crash and no hang", { timeout: 120_000 }, async () => {
    const lines: string[] = [];
    // A generous per-input budget: this is a busy 2-core CI box, and real inputs take microseconds.
    const results = await runFuzz({
      targets: targetNames,
      iterations: PER_TARGET,
      seed: 7,
      hangMs: 5000,
      jobs: 2,
      log: (l) => lines.push(l),
    });
    assert.ok(targetNames.length >= 12, `only ${targetNames.length} targets`);
    for (const r of results) {
      assert.equal(r.inputs, PER_TARGET, `${r.target} ran ${r.inputs} inputs`);
      assert.deepEqual(
        r.failures.map((f) => `${f.kind} at ${f.index}: ${f.error}`),
        [],
        `${r.target} failed:\n${lines.join("\n")}`,
      );
      assert.equal(r.crashes + r.hangs, 0, r.target);
    }
  });

  it("reports an undocumented exception and a broken invariant as crashes, with the input saved", { timeout: 60_000 }, async () => {
    const [typeError, invariant] = await runFuzz({
      module: PLANTED,
      targets: ["planted-typeerror", "planted-invariant"],
      iterations: 3000,
      seed: 3,
      maxReported: 2,
    });
    assert.ok(typeError && invariant);
    // ~1/256 of 3000 random first bytes are 0xBA; the documented ParseError (>= 0x80) is not a failure.
    assert.ok(typeError.crashes > 0 && typeError.crashes < 100, `${typeError.crashes} crashes`);
    assert.equal(typeError.hangs, 0);
    assert.equal(typeError.failures.length, 2, "reports are capped at maxReported");
    for (const f of typeError.failures) {
      assert.equal(f.kind, "crash");
      assert.match(f.error, /^TypeError: planted bug/);
      assert.ok(f.hex.startsWith("ba"), f.hex);
      const saved = JSON.parse(readFileSync(f.file, "utf8")) as { target: string; hex: string; index: number };
      assert.deepEqual([saved.target, saved.hex, saved.index], ["planted-typeerror", f.hex, f.index]);
      rmSync(f.file);
    }
    assert.ok(invariant.crashes > 0);
    const f = invariant.failures[0];
    assert.ok(f !== undefined && f.hex.length === 6, `want a 3-byte input, got ${f?.hex}`);
    assert.match(f.error, /planted invariant/);
    for (const x of invariant.failures) if (existsSync(x.file)) rmSync(x.file);
  });

  it("reports a synchronous infinite loop and a never-settling promise as hangs, then carries on", { timeout: 90_000 }, async () => {
    const iterations = 100;
    const [loop, stall] = await runFuzz({ module: PLANTED, targets: ["planted-loop", "planted-stall"], iterations, seed: 5, hangMs: 300 });
    assert.ok(loop && stall);
    for (const r of [loop, stall]) {
      // The inputs that must hang, rebuilt independently from (seed, index).
      const target = createPlanted(r.target);
      assert.ok(target);
      const want: number[] = [];
      for (let i = 0; i < iterations; i++) if ((inputAt(target, 5, i)[0] as number) < 8) want.push(i);
      assert.ok(want.length > 0, "the seed yields no hanging input");
      assert.equal(r.hangs, want.length, `${r.target}: ${r.hangs} hangs`);
      assert.equal(r.crashes, 0);
      assert.deepEqual(
        r.failures.map((f) => f.index),
        want.slice(0, 5),
      );
      for (const f of r.failures) {
        assert.equal(f.kind, "hang");
        assert.equal(f.hex.length, 8, "the stuck input was rebuilt from its index");
        assert.ok(Number.parseInt(f.hex.slice(0, 2), 16) < 8, f.hex);
        if (existsSync(f.file)) rmSync(f.file);
      }
      // After each hang the runner resumed in a fresh worker and ran the rest.
      assert.equal(r.inputs, iterations);
    }
  });
});
