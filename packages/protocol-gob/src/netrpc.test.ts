import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GobEncoder } from "./encoder.js";
import { GobError } from "./gob-error.js";
import { GobTypes } from "./gob-type.js";
import { NetRpcReader, NetRpcWriter } from "./netrpc.js";

const Args = {
  kind: "struct",
  name: "Args",
  fields: [
    { name: "A", type: GobTypes.int },
    { name: "B", type: GobTypes.int },
  ],
} as const;

describe("net/rpc gob framing", () => {
  it("pairs headers with bodies, across chunk boundaries, with types sent once", () => {
    const w = new NetRpcWriter();
    const first = w.request("Arith.Multiply", 0, Args, { A: 7, B: 6 });
    const second = w.request("Arith.Multiply", 1, Args, { A: 1, B: 0 });
    assert.ok(second.length < first.length / 2);
    const bytes = Buffer.concat([first, second]);
    const r = new NetRpcReader();
    const frames = [];
    for (let i = 0; i < bytes.length; i += 5) frames.push(...r.push(bytes.subarray(i, i + 5)));
    assert.equal(r.midMessage, false);
    assert.deepEqual(frames, [
      { header: { serviceMethod: "Arith.Multiply", seq: 0, error: "" }, body: { A: 7, B: 6 } },
      { header: { serviceMethod: "Arith.Multiply", seq: 1, error: "" }, body: { A: 1 } },
    ]);
  });

  it("answers errors with Go's empty struct body, and big Seq values", () => {
    const w = new NetRpcWriter();
    const bytes = Buffer.concat([
      w.response("Arith.Divide", 2n ** 64n - 1n, { error: "divide by zero" }),
      w.response("Arith.Multiply", 3, { type: GobTypes.int, value: 42 }),
    ]);
    const frames = new NetRpcReader().push(bytes);
    assert.deepEqual(frames, [
      { header: { serviceMethod: "Arith.Divide", seq: 2n ** 64n - 1n, error: "divide by zero" }, body: {} },
      { header: { serviceMethod: "Arith.Multiply", seq: 3, error: "" }, body: 42 },
    ]);
  });

  it("rejects a header that is not a struct", () => {
    const bytes = new GobEncoder().encode(GobTypes.string, "Arith.Multiply");
    assert.throws(
      () => new NetRpcReader().push(bytes),
      (e: unknown) => e instanceof GobError && /header is not a struct/.test(e.message),
    );
  });

  it("writes nothing and keeps the stream usable when a body does not fit its type", () => {
    const w = new NetRpcWriter();
    assert.throws(() => w.request("Arith.Multiply", 0, Args, { A: "x" }), GobError);
    const frames = new NetRpcReader().push(w.request("Arith.Multiply", 1, Args, { A: 2 }));
    assert.deepEqual(frames[0]!.body, { A: 2 });
  });
});
