import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seeded } from "./channel-test-fixture.js";
import { ConnectBackoff, validateConnectBackoff } from "./connect-backoff.js";

describe("ConnectBackoff (gRPC connection backoff)", () => {
  it("waits 1 s, then 1.6x per failure within ±20 % jitter, capped at 120 s; timeouts >= 20 s", () => {
    const b = new ConnectBackoff(validateConnectBackoff(), seeded(7));
    let now = 0;
    let ideal = 1_000;
    for (let i = 0; i < 30; i++) {
      const timeout = b.startAttempt(now);
      assert.ok(timeout >= 20_000, `connect timeout ${timeout} >= 20 s`);
      const delay = b.delayAfterFailure(now); // the attempt failed at once
      if (i === 0) assert.equal(delay, 1_000);
      else {
        assert.ok(delay >= ideal * 0.8 - 1e-9 && delay <= ideal * 1.2 + 1e-9, `attempt ${i}: ${delay} within 20 % of ${ideal}`);
      }
      now += delay;
      ideal = Math.min(ideal * 1.6, 120_000);
    }
    assert.equal(ideal, 120_000, "the sequence reached the cap");
  });

  it("a slow failure waits only what is left until the deadline; reset starts over", () => {
    const b = new ConnectBackoff(validateConnectBackoff({ initialMs: 100, minConnectTimeoutMs: 50 }), () => 0.5);
    assert.equal(b.startAttempt(0), 100, "timeout = max(deadline - now, min connect timeout)");
    assert.equal(b.delayAfterFailure(70), 30);
    assert.equal(b.delayAfterFailure(500), 0);
    b.startAttempt(500);
    assert.equal(b.delayAfterFailure(500), 160, "second attempt: 1.6x, no jitter at random()=0.5");
    b.reset();
    b.startAttempt(1_000);
    assert.equal(b.delayAfterFailure(1_000), 100);
  });

  it("rejects bad options with a TypeError naming the field", () => {
    assert.throws(() => validateConnectBackoff({ initialMs: 0 }), /initialMs/);
    assert.throws(() => validateConnectBackoff({ multiplier: 0.5 }), /multiplier/);
    assert.throws(() => validateConnectBackoff({ jitter: 1 }), /jitter/);
    assert.throws(() => validateConnectBackoff({ initialMs: 10, maxMs: 5 }), /maxMs/);
  });
});
