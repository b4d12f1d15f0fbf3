import assert from "node:assert/strict";
import { it } from "node:test";
import { FakeClock } from "./fake-clock.js";

it("fires due timers in order of due time then creation, including ones they schedule", async () => {
  const clock = new FakeClock(0);
  const seen: string[] = [];
  clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => {
    seen.push(`a@${clock.now()}`);
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 15);
  }, 10);
  clock.setTimeout(() => seen.push(`d@${clock.now()}`), 20);
  const cleared = clock.setTimeout(() => seen.push("never"), 5);
  clock.clearTimeout(cleared);
  await clock.advance(24);
  assert.deepEqual(seen, ["a@10", "b@20", "d@20"]);
  assert.equal(clock.now(), 24);
  assert.equal(clock.pending, 1);
  await clock.advance(1);
  assert.deepEqual(seen.at(-1), "c@25");
  assert.equal(clock.pending, 0);
});

it("set moves time at once but never skips a pending timer", () => {
  const clock = new FakeClock();
  assert.equal(clock.now(), 1_000_000);
  clock.set(5);
  assert.equal(clock.now(), 5);
  clock.setTimeout(() => {}, 10);
  clock.set(14);
  assert.throws(() => clock.set(15), /would skip a timer due at 15/);
  assert.equal(clock.now(), 14);
});
