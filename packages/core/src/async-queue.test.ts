import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AsyncQueue } from "./index.js";

describe("AsyncQueue", () => {
  it("delivers pushed items in order to a waiting or late consumer, then ends", async () => {
    const consumed: number[] = [];
    const q = new AsyncQueue<number>((x) => consumed.push(x));
    q.push(1);
    const p = (async () => {
      const out: number[] = [];
      for await (const x of q) out.push(x);
      return out;
    })();
    q.push(2);
    await Promise.resolve();
    q.push(3);
    q.end();
    assert.deepEqual(await p, [1, 2, 3]);
    assert.deepEqual(consumed, [1, 2, 3]);
  });

  it("fail() rejects the next read; return() calls onReturn once", async () => {
    let returned = 0;
    const q = new AsyncQueue<number>(undefined, () => returned++);
    q.push(7);
    q.fail(new Error("x"));
    assert.deepEqual(await q.next(), { value: 7, done: false }, "queued items come before the error");
    await assert.rejects(q.next(), /x/);
    const qd = new AsyncQueue<number>();
    qd.push(1);
    qd.fail(new Error("y"), true);
    await assert.rejects(qd.next(), /y/, "discard drops queued items");
    const q2 = new AsyncQueue<number>(undefined, () => returned++);
    q2.push(1);
    for await (const _ of q2) break;
    await q2.return();
    assert.equal(returned, 1);
    assert.ok(q2.abandoned);
  });

  it("compacts its storage under a long backlog", async () => {
    const q = new AsyncQueue<number>();
    for (let i = 0; i < 5000; i++) q.push(i);
    let sum = 0;
    for (let i = 0; i < 5000; i++) sum += (await q.next()).value as number;
    assert.equal(sum, (4999 * 5000) / 2);
    assert.equal(q.length, 0);
  });
});
