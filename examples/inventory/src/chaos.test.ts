import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChaosDemo } from "./chaos.js";

describe("chaos scenario (three real instances over petrel/1)", () => {
  it("with resilience on: >= 99.9 % success, the breaker opens and closes again, p99 bounded; off fails more", {
    timeout: 120_000,
  }, async () => {
    const lines: string[] = [];
    // Shorter than the demo's 10 s but the same shape: A fails at 20 %, B slows at 30 %, A recovers
    // at 50 % of the run. 200 calls/s x 7 s = 1400 calls per run, so 99.9 % tolerates one failure.
    const r = await runChaosDemo({ out: (l) => lines.push(l), durationMs: 7000, rate: 200, baseMs: 10 });
    const log = `\n${lines.join("\n")}`;
    const total = r.ok + r.failed;
    assert.ok(total >= 1300, `only ${total} calls were made${log}`);
    assert.ok(r.ok / total >= 0.999, `success ratio ${r.ok}/${total}${log}`);
    assert.ok(r.breakerOpened >= 1, `the breaker never opened${log}`);
    assert.ok(r.breakerClosed >= 1, `the breaker never closed again${log}`);
    // Not a timing threshold but a sanity bound: every call to the slow instance takes ~slowMs, so a
    // p99 at 2 x slowMs would mean calls pile up behind it or wait out retries/timeouts (the 5 s
    // timeout, a stuck queue). A busy box adds tens of ms, not hundreds.
    assert.ok(r.p99 < r.slowMs * 2, `p99 ${r.p99.toFixed(1)} ms >= 2 x ${r.slowMs} ms${log}`);
    // Without retries and breakers, A's outage (30 % of the run, a third of the calls) shows.
    assert.ok(r.off.failed > r.failed, `resilience off failed ${r.off.failed}, on ${r.failed}${log}`);
    assert.ok(r.off.failed >= 50, `resilience off failed only ${r.off.failed}${log}`);
    assert.match(lines.at(-1) ?? "", /^summary: \d+ ok, \d+ failed, breaker opened \d+ times, closed \d+ times$/);
    assert.equal(
      lines.at(-1),
      `summary: ${r.ok} ok, ${r.failed} failed, breaker opened ${r.breakerOpened} times, closed ${r.breakerClosed} times`,
    );
  });

  it("rejects bad options with a clear error", async () => {
    await assert.rejects(runChaosDemo({ out: () => {}, durationMs: 10 }), /durationMs must be >= 1000/);
    await assert.rejects(runChaosDemo({ out: () => {}, rate: 0 }), /rate must be in/);
  });
});
