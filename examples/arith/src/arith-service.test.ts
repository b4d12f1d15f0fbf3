// The Arith implementation on its own, through Petrel's in-memory transport (no sockets).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, RpcError } from "@petrel/core";
import fc from "fast-check";
import { Arith } from "./gen/arith/arith_pb.js";
import { createArithRouter } from "./server.js";

const arith = createClient(Arith, createInMemoryTransport(createArithRouter()));
const isCode = (code: Code, message: string | RegExp) => (e: unknown) =>
  e instanceof RpcError && e.code === code && (typeof message === "string" ? e.rawMessage === message : message.test(e.rawMessage));

describe("Arith", () => {
  it("multiplies, and divides with Go's truncation and remainder sign", async () => {
    assert.equal((await arith.multiply({ A: 7, B: 6 })).value, 42);
    assert.equal((await arith.multiply({ A: -7, B: 6 })).value, -42);
    const cases: Array<[number, number, number, number]> = [
      [17, 5, 3, 2],
      [-17, 5, -3, -2],
      [17, -5, -3, 2],
      [-17, -5, 3, -2],
      [-1, 5, 0, -1],
      [-5, 5, -1, 0],
      [0, -3, 0, 0],
    ];
    for (const [A, B, Quo, Rem] of cases) {
      const q = await arith.divide({ A, B });
      assert.deepEqual([q.Quo, q.Rem], [Quo, Rem], `${A} / ${B}`);
      assert.ok(!Object.is(q.Quo, -0) && !Object.is(q.Rem, -0), `no -0 for ${A} / ${B}`);
    }
  });

  it("fails divide by zero with INVALID_ARGUMENT, and int32 overflow with OUT_OF_RANGE", async () => {
    await assert.rejects(arith.divide({ A: 1, B: 0 }), isCode(Code.INVALID_ARGUMENT, "divide by zero"));
    await assert.rejects(arith.divide({ A: 0, B: 0 }), isCode(Code.INVALID_ARGUMENT, "divide by zero"));
    await assert.rejects(arith.multiply({ A: 65536, B: 32768 }), isCode(Code.OUT_OF_RANGE, /overflows int32/));
    assert.equal((await arith.multiply({ A: 65536, B: -32768 })).value, -0x8000_0000);
    await assert.rejects(arith.divide({ A: -0x8000_0000, B: -1 }), isCode(Code.OUT_OF_RANGE, /overflows int32/));
  });

  it("agrees with Go's integer semantics (A == B*Quo + Rem, |Rem| < |B|, sign of Rem = sign of A) for any int32s", async () => {
    const int32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
    await fc.assert(
      fc.asyncProperty(int32, int32, async (A, B) => {
        fc.pre(B !== 0 && !(A === -0x8000_0000 && B === -1));
        const { Quo, Rem } = await arith.divide({ A, B });
        assert.equal(BigInt(B) * BigInt(Quo) + BigInt(Rem), BigInt(A));
        assert.ok(Math.abs(Rem) < Math.abs(B));
        assert.ok(Rem === 0 || Math.sign(Rem) === Math.sign(A));
      }),
      { numRuns: 500 },
    );
  });
});
