import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteSink } from "./byte-sink.js";
import { FrameReader } from "./frame-reader.js";
import { type Frame, FrameType } from "./frame-types.js";
import { FrameWriter } from "./frame-writer.js";
import { encodeTimeout, parseRequestHeaders } from "./headers-payload.js";
import { metadataBlockSize, writeMetadataBlock } from "./metadata-block.js";
import { parseCancel } from "./cancel-payload.js";
import { parseGoAway } from "./goaway-payload.js";
import { parseTrailers } from "./trailers-payload.js";

const bin = (...xs: number[]) => new Uint8Array(xs);

function frames(bytes: Uint8Array): Frame[] {
  const out: Frame[] = [];
  new FrameReader(
    { onFrame: (type, flags, streamId, payload) => out.push({ type, flags, streamId, payload }) },
    { maxFrameSize: 1 << 24 },
  ).push(bytes);
  return out;
}

describe("FrameWriter batches", () => {
  it("writes the exact header layout", () => {
    const w = new FrameWriter();
    w.writeMessage(0x01020304, 0x05, bin(0xaa, 0xbb));
    assert.deepEqual(w.take(), bin(0, 0, 0, 2, FrameType.MESSAGE, 0x05, 1, 2, 3, 4, 0xaa, 0xbb));
  });

  it("writes the preface", () => {
    const w = new FrameWriter();
    w.writePreface(3);
    assert.deepEqual(w.take(), bin(0x50, 0x45, 0x54, 0x52, 0x45, 0x4c, 3, 0));
  });

  it("take() returns only what was written since the last take, and later writes never touch it", () => {
    const w = new FrameWriter({ initialCapacity: 64, retainCapacity: 256 });
    assert.equal(w.take().length, 0);
    w.writeHalfClose(1);
    assert.equal(w.size, 10);
    const small = w.take();
    assert.equal(w.size, 0);
    const big = new Uint8Array(10_000).fill(7);
    w.writeMessage(3, 0, big); // grows past retainCapacity, so take() hands the buffer off
    const large = w.take();
    const smallCopy = small.slice();
    const largeCopy = large.slice();
    for (let i = 0; i < 20; i++) w.writeMessage(5, 0, new Uint8Array(600).fill(i));
    w.take();
    w.writeMessage(5, 0, new Uint8Array(10_000).fill(9));
    assert.deepEqual(small, smallCopy);
    assert.deepEqual(large, largeCopy);
    assert.equal(frames(large)[0]?.payload.length, 10_000);
    assert.deepEqual(frames(w.take())[0]?.payload, new Uint8Array(10_000).fill(9));
  });

  it("writeMessage honours offset and length", () => {
    const w = new FrameWriter();
    w.writeMessage(1, 0, bin(1, 2, 3, 4, 5), 1, 3);
    assert.deepEqual(frames(w.take())[0]?.payload, bin(2, 3, 4));
  });
});

describe("FrameWriter argument checks", () => {
  it("refuses values the peer would reject and leaves the batch untouched", () => {
    const w = new FrameWriter();
    w.writeHalfClose(1);
    const before = w.size;
    assert.throws(() => w.writeTrailers(1, 17), RangeError);
    assert.throws(() => w.writeCancel(1, -1), RangeError);
    assert.throws(() => w.writeWindowUpdate(1, 0), RangeError);
    assert.throws(() => w.writeWindowUpdate(1, 2 ** 31), RangeError);
    assert.throws(() => w.writePing(bin(1, 2, 3)), RangeError);
    assert.throws(() => w.writeGoAway(0, 256), RangeError);
    assert.throws(() => w.writeSettings({ maxFrameSize: 1000 }), RangeError);
    assert.throws(() => w.writeSettings({ initialStreamWindow: 2 ** 31 }), RangeError);
    assert.throws(() => w.writeSettings({ codecs: ["a,b"] }), TypeError);
    assert.throws(() => w.writeRequestHeaders(1, "", "/a", undefined), TypeError);
    assert.throws(() => w.writeRequestHeaders(1, "x".repeat(256), "/a", undefined), RangeError);
    assert.throws(() => w.writeRequestHeaders(1, "proto", "/".repeat(65_536), undefined), RangeError);
    assert.throws(() => w.writeRequestHeaders(1, "proto", "/a", undefined, ["Bad", "v"]), TypeError);
    assert.throws(() => w.writeResponseHeaders(1, ["k-bin", "not bytes"]), TypeError);
    assert.throws(() => w.writeResponseHeaders(1, ["k", bin(1)]), TypeError);
    assert.throws(() => w.writeResponseHeaders(1, ["odd"]), TypeError);
    assert.equal(w.size, before);
    assert.equal(frames(w.take()).length, 1);
  });

  it("accepts a path of exactly 65535 UTF-8 bytes", () => {
    const w = new FrameWriter();
    const path = `/${"é".repeat(32_767)}`;
    w.writeRequestHeaders(1, "proto", path, undefined);
    assert.equal(parseRequestHeaders(frames(w.take())[0]?.payload as Uint8Array, 0).path, path);
  });
});

describe("FrameWriter text", () => {
  it("truncates long messages at a character boundary", () => {
    const w = new FrameWriter();
    const long = `${"a".repeat(65_534)}€tail`; // € is 3 bytes and would straddle the limit
    w.writeTrailers(1, 2, long);
    w.writeCancel(1, 1, long);
    w.writeGoAway(0, 2, long);
    const [t, c, g] = frames(w.take());
    assert.equal(parseTrailers(t?.payload as Uint8Array).message, "a".repeat(65_534));
    assert.equal(parseCancel(c?.payload as Uint8Array).reason, "a".repeat(65_534));
    assert.equal(parseGoAway(g?.payload as Uint8Array).debug, "a".repeat(65_534));
  });

  it("round-trips non-ASCII, astral and lone-surrogate text (the latter as U+FFFD)", () => {
    const w = new FrameWriter();
    w.writeCancel(1, 1, "é");
    w.writeCancel(1, 1, `x${"😀".repeat(40)}`);
    w.writeCancel(1, 1, "a\uD800b");
    const [a, b, c] = frames(w.take()).map((f) => parseCancel(f.payload).reason);
    assert.equal(a, "é");
    assert.equal(b, `x${"😀".repeat(40)}`);
    assert.equal(c, "a\uFFFDb");
  });

  it("metadataBlockSize matches the encoded size", () => {
    const samples: Array<Array<string | Uint8Array>> = [
      [],
      ["a", ""],
      ["k", "v", "x-bin", bin(1, 2, 3)],
      ["u", "ü€😀", "s", "\uD800", "t", "\uDC00x", "p", "😀\uD83D"],
    ];
    for (const flat of samples) {
      const s = new ByteSink(16);
      writeMetadataBlock(s, flat);
      assert.equal(metadataBlockSize(flat), s.pos, JSON.stringify(flat));
    }
  });

  it("encodes timeouts rounded up, never negative, clamped to u32", () => {
    assert.equal(encodeTimeout(0.2), 1);
    assert.equal(encodeTimeout(-3), 0);
    assert.equal(encodeTimeout(Number.NaN), 0);
    assert.equal(encodeTimeout(1e12), 0xffffffff);
    assert.equal(encodeTimeout(Number.POSITIVE_INFINITY), 0xffffffff);
  });
});
