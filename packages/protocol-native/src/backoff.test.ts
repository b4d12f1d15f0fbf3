import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "./backoff.js";

describe("Backoff (gRPC connection backoff)", () => {
  it("grows by the multiplier up to the cap, and resets", () => {
    const b = new Backoff({ initialMs: 1000, multiplier: 1.6, jitter: 0, maxMs: 5000 }, () => 0.5);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [1000, 1600, 2560, 4096, 5000]);
    assert.equal(b.next(), 5000);
    b.reset();
    assert.equal(b.next(), 1000);
  });

  it("jitters within ±jitter of the base delay", () => {
    const low = new Backoff({ initialMs: 1000, jitter: 0.2 }, () => 0);
    const high = new Backoff({ initialMs: 1000, jitter: 0.2 }, () => 0.999999);
    assert.equal(low.next(), 800);
    assert.ok(Math.abs(high.next() - 1200) < 0.01);
    const mid = new Backoff({}, () => 0.5);
    assert.equal(mid.next(), 1000, "gRPC's defaults: 1 s first");
    assert.equal(mid.next(), 1600, "then x1.6");
  });
});
