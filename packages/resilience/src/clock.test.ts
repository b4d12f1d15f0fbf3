import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Clock, createTurnClock } from "./clock.js";

describe("turnClock", () => {
  it("reads its base once per event-loop turn and again after the turn ends", async () => {
    let reads = 0;
    let t = 100;
    const base: Clock = {
      now: () => {
        reads++;
        return t;
      },
      setTimeout: () => undefined,
      clearTimeout: () => {},
    };
    const clock = createTurnClock(base);
    assert.equal(clock.now(), 100);
    t = 150;
    assert.equal(clock.now(), 100, "same turn: the cached reading");
    await Promise.resolve();
    assert.equal(clock.now(), 100, "microtasks belong to the same turn");
    assert.equal(reads, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(clock.now(), 150, "a new turn reads the base clock again");
    assert.equal(reads, 2);
  });
});
