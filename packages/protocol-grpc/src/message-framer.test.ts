import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, RpcError } from "@petrel/core";
import { GRPC_FRAME_HEADER_SIZE, MessageDeframer, frameMessage } from "./message-framer.js";

type Got = Array<[number[], boolean]>;

function collect(d: MessageDeframer, chunks: Uint8Array[]): Got {
  const got: Got = [];
  for (const c of chunks) d.push(c, (b, compressed) => got.push([[...b], compressed]));
  return got;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function rpcErrorWith(code: Code, text: RegExp) {
  return (e: unknown) => e instanceof RpcError && e.code === code && text.test(e.rawMessage);
}

describe("frameMessage", () => {
  it("prefixes flag and big-endian length", () => {
    assert.equal(GRPC_FRAME_HEADER_SIZE, 5);
    assert.deepEqual([...frameMessage(new Uint8Array([7, 8, 9]))], [0, 0, 0, 0, 3, 7, 8, 9]);
    assert.deepEqual([...frameMessage(new Uint8Array(0), true)], [1, 0, 0, 0, 0]);
    const big = frameMessage(new Uint8Array(0x01020304 & 0xffff));
    assert.deepEqual([...big.subarray(0, 5)], [0, 0, 0, 0x03, 0x04]);
  });

  it("returns a new array, not a view of the input", () => {
    const msg = new Uint8Array([1, 2]);
    const framed = frameMessage(msg);
    msg[0] = 99;
    assert.equal(framed[5], 1);
  });
});

describe("MessageDeframer", () => {
  const messages: Array<[Uint8Array, boolean]> = [
    [new Uint8Array([1, 2, 3]), false],
    [new Uint8Array(0), false],
    [new Uint8Array([4]), true],
    [new Uint8Array(300).map((_, i) => i & 0xff), false],
    [new Uint8Array(0), true],
  ];
  const stream = concat(messages.map(([m, c]) => frameMessage(m, c)));
  const want: Got = messages.map(([m, c]) => [[...m], c]);

  it("decodes several messages from one chunk, as views", () => {
    const d = new MessageDeframer({ maxMessageSize: 1000 });
    const views: Uint8Array[] = [];
    const got: Got = [];
    d.push(stream, (b, c) => {
      views.push(b);
      got.push([[...b], c]);
    });
    assert.deepEqual(got, want);
    assert.equal(views[0]?.buffer, stream.buffer);
    assert.equal(d.buffered, 0);
    d.end();
  });

  it("decodes the same for every split into two chunks", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new MessageDeframer({ maxMessageSize: 1000 });
      const got = collect(d, [stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(got, want, `cut at ${cut}`);
      d.end();
    }
  });

  it("decodes the same for every split into three chunks", () => {
    for (let a = 0; a <= stream.length; a += 3) {
      for (let b = a; b <= stream.length; b++) {
        const d = new MessageDeframer({ maxMessageSize: 1000 });
        const got = collect(d, [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        assert.deepEqual(got, want, `cuts at ${a}, ${b}`);
      }
    }
  });

  it("decodes byte by byte, reporting what it buffers", () => {
    const d = new MessageDeframer({ maxMessageSize: 1000 });
    const got: Got = [];
    const onMessage = (b: Uint8Array, c: boolean) => got.push([[...b], c]);
    d.push(stream.subarray(0, 1), onMessage);
    assert.equal(d.buffered, 1);
    d.push(stream.subarray(1, 6), onMessage);
    assert.equal(d.buffered, 6);
    for (let i = 6; i < stream.length; i++) d.push(stream.subarray(i, i + 1), onMessage);
    assert.deepEqual(got, want);
    assert.equal(d.buffered, 0);
    d.end();
  });

  it("copies a split message, so reusing the chunk buffer does not corrupt it", () => {
    const d = new MessageDeframer({ maxMessageSize: 100 });
    const framed = frameMessage(new Uint8Array([1, 2, 3, 4]));
    const scratch = new Uint8Array(6);
    const got: Uint8Array[] = [];
    scratch.set(framed.subarray(0, 6));
    d.push(scratch, (b) => got.push(b));
    scratch.fill(0xee);
    d.push(framed.subarray(6), (b) => got.push(b));
    scratch.fill(0xdd);
    assert.deepEqual([...(got[0] as Uint8Array)], [1, 2, 3, 4]);
  });

  it("assembles a large split message whose buffer has to grow", () => {
    const msg = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const framed = frameMessage(msg);
    const d = new MessageDeframer({ maxMessageSize: 1 << 20 });
    const got: Uint8Array[] = [];
    for (let i = 0; i < framed.length; i += 1000) d.push(framed.subarray(i, i + 1000), (b) => got.push(b));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0], msg);
  });

  it("accepts a message of exactly maxMessageSize, and a 0-length one with max 0", () => {
    const d = new MessageDeframer({ maxMessageSize: 3 });
    assert.deepEqual(collect(d, [frameMessage(new Uint8Array([1, 2, 3]))]), [[[1, 2, 3], false]]);
    const z = new MessageDeframer({ maxMessageSize: 0 });
    assert.deepEqual(collect(z, [frameMessage(new Uint8Array(0))]), [[[], false]]);
  });

  it("rejects a too-large declared length as soon as the prefix is complete", () => {
    const d = new MessageDeframer({ maxMessageSize: 10 });
    const prefix = frameMessage(new Uint8Array(11)).subarray(0, 5);
    d.push(prefix.subarray(0, 4), () => assert.fail("no message"));
    assert.throws(
      () => d.push(prefix.subarray(4), () => assert.fail("no message")),
      rpcErrorWith(Code.RESOURCE_EXHAUSTED, /^grpc: received message larger than max \(11 vs\. 10\)$/),
    );
    assert.equal(d.buffered, 0);
  });

  it("takes a 4 GiB declared length when unlimited without allocating it, and rejects it when limited", () => {
    const d = new MessageDeframer({ maxMessageSize: Number.POSITIVE_INFINITY });
    const got: Uint8Array[] = [];
    // Declared 0xffffffff; an unlimited deframer must take it, buffering only what arrived.
    d.push(new Uint8Array([0, 0xff, 0xff, 0xff, 0xff, 1, 2]), (b) => got.push(b));
    assert.equal(d.buffered, 7);
    assert.throws(() => d.end(), rpcErrorWith(Code.INTERNAL, /^grpc: truncated message \(got 2 of 4294967295 bytes\)$/));
    const limited = new MessageDeframer({ maxMessageSize: 4 * 1024 * 1024 });
    assert.throws(
      () => limited.push(new Uint8Array([0, 0xff, 0xff, 0xff, 0xff]), () => {}),
      rpcErrorWith(Code.RESOURCE_EXHAUSTED, /\(4294967295 vs\. 4194304\)/),
    );
  });

  it("rejects a flag byte other than 0 or 1 on its arrival", () => {
    for (const flag of [2, 0x80, 0xff]) {
      const d = new MessageDeframer({ maxMessageSize: 10 });
      assert.throws(
        () => d.push(new Uint8Array([flag]), () => {}),
        rpcErrorWith(Code.INTERNAL, new RegExp(`invalid compressed flag ${flag}`)),
      );
    }
    const d = new MessageDeframer({ maxMessageSize: 10 });
    const got = collect(d, [frameMessage(new Uint8Array([5]))]);
    assert.deepEqual(got, [[[5], false]]);
    assert.throws(() => d.push(new Uint8Array([0, 0, 0, 0, 0, 2]), () => {}), rpcErrorWith(Code.INTERNAL, /flag 2/));
  });

  it("stays dead after an error, throwing the same error", () => {
    const d = new MessageDeframer({ maxMessageSize: 10 });
    let first: unknown;
    try {
      d.push(new Uint8Array([9]), () => {});
    } catch (e) {
      first = e;
    }
    assert.ok(first instanceof RpcError);
    assert.throws(
      () => d.push(frameMessage(new Uint8Array(1)), () => assert.fail("dead")),
      (e) => e === first,
    );
    assert.throws(
      () => d.end(),
      (e) => e === first,
    );
  });

  it("stays dead after onMessage throws, rethrowing that error", () => {
    const d = new MessageDeframer({ maxMessageSize: 10 });
    const boom = new Error("boom");
    const two = concat([frameMessage(new Uint8Array([1])), frameMessage(new Uint8Array([2]))]);
    let calls = 0;
    assert.throws(
      () =>
        d.push(two, () => {
          calls++;
          throw boom;
        }),
      (e) => e === boom,
    );
    assert.equal(calls, 1);
    assert.throws(
      () => d.push(new Uint8Array(0), () => {}),
      (e) => e === boom,
    );
  });

  it("refuses re-entrant push from onMessage", () => {
    const d = new MessageDeframer({ maxMessageSize: 10 });
    const framed = frameMessage(new Uint8Array([1]));
    let inner: unknown;
    const got: number[] = [];
    d.push(concat([framed, framed]), (b) => {
      got.push(b[0] as number);
      try {
        d.push(framed, () => {});
      } catch (e) {
        inner = e;
      }
    });
    assert.ok(inner instanceof RpcError && inner.code === Code.INTERNAL);
    assert.deepEqual(got, [1, 1]);
  });

  it("reports truncation at end of a partial prefix or message", () => {
    const framed = frameMessage(new Uint8Array([1, 2, 3]));
    for (let cut = 1; cut < framed.length; cut++) {
      const d = new MessageDeframer({ maxMessageSize: 10 });
      d.push(framed.subarray(0, cut), () => assert.fail("incomplete"));
      assert.equal(d.buffered, cut);
      const text = cut < 5 ? new RegExp(`^grpc: truncated message prefix \\(got ${cut} of 5 bytes\\)$`) : /^grpc: truncated message \(got/;
      assert.throws(() => d.end(), rpcErrorWith(Code.INTERNAL, text));
    }
    const empty = new MessageDeframer({ maxMessageSize: 10 });
    empty.end();
  });

  it("validates maxMessageSize", () => {
    assert.throws(() => new MessageDeframer({ maxMessageSize: -1 }), RangeError);
    assert.throws(() => new MessageDeframer({ maxMessageSize: Number.NaN }), RangeError);
  });
});
