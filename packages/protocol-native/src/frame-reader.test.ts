import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameReader, type FrameReaderOptions } from "./frame-reader.js";
import { ErrorCode, type Frame, FrameFlag, FrameType } from "./frame-types.js";
import { FrameWriter } from "./frame-writer.js";
import { ProtocolError } from "./protocol-error.js";

const bin = (...xs: number[]) => new Uint8Array(xs);

/** A raw frame with arbitrary header fields (the writer refuses to produce bad ones). */
function rawFrame(type: number, flags: number, streamId: number, payload: Uint8Array, length = payload.length): Uint8Array {
  const out = new Uint8Array(10 + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, length);
  out[4] = type;
  out[5] = flags;
  dv.setUint32(6, streamId);
  out.set(payload, 10);
  return out;
}

function collector(options: FrameReaderOptions = {}) {
  const frames: Frame[] = [];
  const versions: number[] = [];
  const reader = new FrameReader(
    { onPreface: (v) => versions.push(v), onFrame: (type, flags, streamId, payload) => frames.push({ type, flags, streamId, payload }) },
    options,
  );
  return { reader, frames, versions };
}

function expectCode(fn: () => void, code: number, pattern?: RegExp): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ProtocolError, `expected ProtocolError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

const settingsFrame = () => {
  const w = new FrameWriter();
  w.writeSettings({});
  return w.take();
};

describe("FrameReader preface", () => {
  it("reports the version, ignores the reserved byte and accepts a preface split anywhere", () => {
    const pre = bin(0x50, 0x45, 0x54, 0x52, 0x45, 0x4c, 7, 0xaa);
    const bytes = new Uint8Array([...pre, ...settingsFrame()]);
    for (let i = 0; i <= bytes.length; i++) {
      const { reader, frames, versions } = collector({ expectPreface: true });
      reader.push(bytes.subarray(0, i));
      reader.push(bytes.subarray(i));
      assert.deepEqual(versions, [7]);
      assert.equal(frames.length, 1);
    }
  });

  it("rejects bad magic at every position, as soon as the bad byte arrives", () => {
    const good = bin(0x50, 0x45, 0x54, 0x52, 0x45, 0x4c);
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice(0, i + 1);
      bad[i] = (bad[i] as number) ^ 0x20;
      const { reader } = collector({ expectPreface: true });
      expectCode(() => reader.push(bad), ErrorCode.PROTOCOL_ERROR, /preface/);
    }
    const { reader } = collector({ expectPreface: true });
    expectCode(() => reader.push(new TextEncoder().encode("GET / HTTP/1.1\r\n")), ErrorCode.PROTOCOL_ERROR);
  });

  it("requires SETTINGS as the first frame after the preface", () => {
    const w = new FrameWriter();
    w.writePreface();
    w.writePing(new Uint8Array(8));
    expectCode(() => collector({ expectPreface: true }).reader.push(w.take()), ErrorCode.PROTOCOL_ERROR, /first frame must be SETTINGS/);
    w.writePreface();
    w.writeSettingsAck();
    expectCode(() => collector({ expectPreface: true }).reader.push(w.take()), ErrorCode.PROTOCOL_ERROR, /first frame/);
    w.writePreface();
    w.writeSettings({ codecs: ["proto"] });
    w.writePing(new Uint8Array(8));
    const { reader, frames } = collector({ expectPreface: true });
    reader.push(w.take());
    assert.deepEqual(
      frames.map((f) => f.type),
      [FrameType.SETTINGS, FrameType.PING],
    );
  });
});

describe("FrameReader validation", () => {
  const cases: Array<[string, Uint8Array, number]> = [
    ["unknown frame type", rawFrame(9, 0, 0, bin()), ErrorCode.PROTOCOL_ERROR],
    ["frame type 255", rawFrame(255, 0, 1, bin()), ErrorCode.PROTOCOL_ERROR],
    ["SETTINGS on a stream", rawFrame(FrameType.SETTINGS, 0, 1, bin()), ErrorCode.PROTOCOL_ERROR],
    ["PING on a stream", rawFrame(FrameType.PING, 0, 3, new Uint8Array(8)), ErrorCode.PROTOCOL_ERROR],
    ["GOAWAY on a stream", rawFrame(FrameType.GOAWAY, 0, 1, new Uint8Array(7)), ErrorCode.PROTOCOL_ERROR],
    ["HEADERS on stream 0", rawFrame(FrameType.HEADERS, 0, 0, bin(0, 0)), ErrorCode.PROTOCOL_ERROR],
    ["MESSAGE on stream 0", rawFrame(FrameType.MESSAGE, 0, 0, bin()), ErrorCode.PROTOCOL_ERROR],
    ["TRAILERS on stream 0", rawFrame(FrameType.TRAILERS, 0, 0, bin()), ErrorCode.PROTOCOL_ERROR],
    ["HALF_CLOSE on stream 0", rawFrame(FrameType.HALF_CLOSE, 0, 0, bin()), ErrorCode.PROTOCOL_ERROR],
    ["CANCEL on stream 0", rawFrame(FrameType.CANCEL, 0, 0, bin(1, 0, 0)), ErrorCode.PROTOCOL_ERROR],
    ["SETTINGS ACK with a payload", rawFrame(FrameType.SETTINGS, FrameFlag.ACK, 0, bin(0)), ErrorCode.FRAME_SIZE_ERROR],
    ["PING of 7 bytes", rawFrame(FrameType.PING, 0, 0, new Uint8Array(7)), ErrorCode.FRAME_SIZE_ERROR],
    ["PING of 9 bytes", rawFrame(FrameType.PING, FrameFlag.ACK, 0, new Uint8Array(9)), ErrorCode.FRAME_SIZE_ERROR],
    ["WINDOW_UPDATE of 3 bytes", rawFrame(FrameType.WINDOW_UPDATE, 0, 0, bin(0, 0, 1)), ErrorCode.FRAME_SIZE_ERROR],
    ["HALF_CLOSE with a payload", rawFrame(FrameType.HALF_CLOSE, 0, 1, bin(0)), ErrorCode.FRAME_SIZE_ERROR],
    ["MESSAGE with END_STREAM and CONTINUED", rawFrame(FrameType.MESSAGE, 3, 1, bin(1)), ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [name, bytes, code] of cases) {
    it(`rejects ${name}`, () => {
      // Whole, and with the header split, so both header paths are covered.
      expectCode(() => collector().reader.push(bytes), code);
      const { reader } = collector();
      reader.push(bytes.subarray(0, 3));
      expectCode(() => reader.push(bytes.subarray(3)), code);
    });
  }

  it("accepts WINDOW_UPDATE on stream 0 and on a stream", () => {
    const { reader, frames } = collector();
    reader.push(rawFrame(FrameType.WINDOW_UPDATE, 0, 0, bin(0, 0, 0, 1)));
    reader.push(rawFrame(FrameType.WINDOW_UPDATE, 0, 5, bin(0, 0, 0, 1)));
    assert.equal(frames.length, 2);
  });

  it("ignores flag bits a frame type does not define", () => {
    const { reader, frames } = collector();
    reader.push(rawFrame(FrameType.HALF_CLOSE, 0xff, 1, bin()));
    assert.equal(frames[0]?.flags, 0xff);
  });

  it("enforces maxFrameSize from the header alone, before any payload byte arrives", () => {
    const { reader, frames } = collector({ maxFrameSize: 16_384 });
    reader.push(rawFrame(FrameType.MESSAGE, 0, 1, new Uint8Array(16_384)));
    assert.equal(frames.length, 1);
    // A forged 4 GiB length: refused on the header, nothing allocated.
    const e = expectCode(() => reader.push(rawFrame(FrameType.MESSAGE, 0, 1, bin(), 0xffffffff)), ErrorCode.FRAME_SIZE_ERROR);
    assert.match(e.message, /4294967295/);
  });

  it("applies a maxFrameSize changed between pushes", () => {
    const { reader } = collector();
    reader.push(rawFrame(FrameType.MESSAGE, 0, 1, new Uint8Array(20_000)));
    reader.maxFrameSize = 16_384;
    expectCode(() => reader.push(rawFrame(FrameType.MESSAGE, 0, 1, new Uint8Array(20_000))), ErrorCode.FRAME_SIZE_ERROR);
  });

  it("stays dead after an error and rethrows the same error", () => {
    const { reader, frames } = collector();
    const first = expectCode(() => reader.push(rawFrame(42, 0, 1, bin())), ErrorCode.PROTOCOL_ERROR);
    assert.equal(reader.active, false);
    assert.equal(reader.error, first);
    assert.throws(
      () => reader.push(rawFrame(FrameType.HALF_CLOSE, 0, 1, bin())),
      (e) => e === first,
    );
    assert.equal(frames.length, 0);
  });

  it("delivers the frames before a bad one in the same chunk", () => {
    const { reader, frames } = collector();
    const good = rawFrame(FrameType.HALF_CLOSE, 0, 1, bin());
    expectCode(() => reader.push(new Uint8Array([...good, ...good, ...rawFrame(9, 0, 0, bin())])), ErrorCode.PROTOCOL_ERROR);
    assert.equal(frames.length, 2);
  });
});

describe("FrameReader delivery", () => {
  it("hands out views for whole frames and copies only split ones", () => {
    const { reader, frames } = collector();
    const a = rawFrame(FrameType.MESSAGE, 0, 1, bin(1, 2, 3));
    const b = rawFrame(FrameType.MESSAGE, 0, 1, bin(4, 5, 6));
    const chunk = new Uint8Array([...a, ...b.subarray(0, 11)]);
    reader.push(chunk);
    reader.push(b.subarray(11));
    assert.equal(frames[0]?.payload.buffer, chunk.buffer, "whole frame is a view into the chunk");
    assert.notEqual(frames[1]?.payload.buffer, chunk.buffer, "split frame is a copy");
    assert.deepEqual(frames[1]?.payload, bin(4, 5, 6));
  });

  it("never rewrites a payload it handed out", () => {
    const { reader, frames } = collector();
    const w = new FrameWriter();
    for (let i = 0; i < 50; i++) w.writeMessage(1, 0, new Uint8Array(37).fill(i));
    const bytes = w.take();
    for (let off = 0; off < bytes.length; off += 13) reader.push(bytes.slice(off, off + 13));
    assert.equal(frames.length, 50);
    for (let i = 0; i < frames.length; i++) assert.deepEqual(frames[i]?.payload, new Uint8Array(37).fill(i));
  });

  it("stop() from the handler drops the rest of the chunk and later pushes", () => {
    const frames: number[] = [];
    const reader: FrameReader = new FrameReader({
      onFrame: (_t, _f, streamId) => {
        frames.push(streamId);
        if (streamId === 2) reader.stop();
      },
    });
    const bytes = new Uint8Array([1, 2, 3].flatMap((id) => [...rawFrame(FrameType.HALF_CLOSE, 0, id, bin())]));
    reader.push(bytes);
    reader.push(bytes);
    assert.deepEqual(frames, [1, 2]);
    assert.equal(reader.active, false);
    assert.equal(reader.error, undefined);
  });

  it("propagates a handler exception once and then rethrows it", () => {
    const boom = new ProtocolError(ErrorCode.PROTOCOL_ERROR, "stream id went backwards");
    const reader = new FrameReader({
      onFrame: () => {
        throw boom;
      },
    });
    assert.throws(
      () => reader.push(rawFrame(FrameType.HALF_CLOSE, 0, 1, bin())),
      (e) => e === boom,
    );
    assert.throws(
      () => reader.push(bin()),
      (e) => e === boom,
    );
  });

  it("refuses re-entrant push", () => {
    const reader: FrameReader = new FrameReader({ onFrame: () => reader.push(bin()) });
    assert.throws(() => reader.push(rawFrame(FrameType.HALF_CLOSE, 0, 1, bin())), /not|own handler/);
  });

  it("accepts empty chunks anywhere", () => {
    const { reader, frames } = collector({ expectPreface: true });
    const w = new FrameWriter();
    w.writePreface();
    w.writeSettings({});
    const bytes = w.take();
    for (let i = 0; i < bytes.length; i++) {
      reader.push(bin());
      reader.push(bytes.subarray(i, i + 1));
    }
    assert.equal(frames.length, 1);
  });
});
