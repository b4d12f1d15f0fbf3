import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCancel } from "./cancel-payload.js";
import { FrameReader } from "./frame-reader.js";
import { type Frame, FrameFlag, FrameType, PROTOCOL_VERSION } from "./frame-types.js";
import { FrameWriter } from "./frame-writer.js";
import { parseGoAway } from "./goaway-payload.js";
import { parseRequestHeaders } from "./headers-payload.js";
import { parseMetadataBlock } from "./metadata-block.js";
import { parseSettings } from "./settings-payload.js";
import { parseTrailers } from "./trailers-payload.js";
import { parseWindowUpdate } from "./window-update-payload.js";

/** Reads `bytes` pushed as the given chunks and returns the frames (payloads copied). */
function readAll(chunks: Uint8Array[], expectPreface = false): { frames: Frame[]; versions: number[] } {
  const frames: Frame[] = [];
  const versions: number[] = [];
  const reader = new FrameReader(
    {
      onPreface: (v) => versions.push(v),
      onFrame: (type, flags, streamId, payload) => frames.push({ type, flags, streamId, payload: payload.slice() }),
    },
    { expectPreface, requireSettingsFirst: false },
  );
  for (const c of chunks) reader.push(c);
  return { frames, versions };
}

/** Every way of cutting `bytes` into two chunks, plus one-byte chunks. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes]];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  const ones: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) ones.push(bytes.subarray(i, i + 1));
  out.push(ones);
  return out;
}

const bin = (...xs: number[]) => new Uint8Array(xs);

/** One of every frame, with the expected decoded payloads. */
function writeEverything(w: FrameWriter): void {
  w.writePreface();
  w.writeSettings({
    maxFrameSize: 32_768,
    initialStreamWindow: 65_535,
    initialConnectionWindow: 1 << 20,
    maxConcurrentStreams: 7,
    maxHeaderBytes: 8192,
    maxMessageSize: 1 << 22,
    codecs: ["proto", "json"],
    compressions: ["identity"],
    keepaliveMs: 30_000,
  });
  w.writeSettingsAck();
  w.writeRequestHeaders(1, "proto", "/pkg.Service/Método", 1500, ["x-user", "ada", "trace-bin", bin(0, 1, 255), "x-user", "béa"]);
  w.writeRequestHeaders(3, "json", "/a/b", undefined, [], true);
  w.writeResponseHeaders(1, ["server", "petrel"]);
  w.writeMessage(1, FrameFlag.CONTINUED, bin(1, 2, 3));
  w.writeMessage(1, FrameFlag.END_STREAM, bin());
  w.writeHalfClose(1);
  w.writeTrailers(1, 5, "not found: ✓", bin(9, 8, 7), ["retry-bin", bin(1)]);
  w.writeCancel(3, 4, "deadline ⏰");
  w.writeWindowUpdate(0, 0x7fffffff);
  w.writeWindowUpdate(5, 1);
  w.writePing(bin(1, 2, 3, 4, 5, 6, 7, 8));
  w.writePing(bin(8, 7, 6, 5, 4, 3, 2, 1), true);
  w.writeGoAway(3, 0, "bye");
}

function checkEverything(frames: Frame[], versions: number[]): void {
  assert.deepEqual(versions, [PROTOCOL_VERSION]);
  assert.deepEqual(
    frames.map((f) => [f.type, f.flags, f.streamId]),
    [
      [FrameType.SETTINGS, 0, 0],
      [FrameType.SETTINGS, FrameFlag.ACK, 0],
      [FrameType.HEADERS, FrameFlag.HAS_TIMEOUT, 1],
      [FrameType.HEADERS, FrameFlag.END_STREAM, 3],
      [FrameType.HEADERS, 0, 1],
      [FrameType.MESSAGE, FrameFlag.CONTINUED, 1],
      [FrameType.MESSAGE, FrameFlag.END_STREAM, 1],
      [FrameType.HALF_CLOSE, 0, 1],
      [FrameType.TRAILERS, 0, 1],
      [FrameType.CANCEL, 0, 3],
      [FrameType.WINDOW_UPDATE, 0, 0],
      [FrameType.WINDOW_UPDATE, 0, 5],
      [FrameType.PING, 0, 0],
      [FrameType.PING, FrameFlag.ACK, 0],
      [FrameType.GOAWAY, 0, 0],
    ],
  );
  const p = frames.map((f) => f.payload);
  assert.deepEqual(parseSettings(p[0] as Uint8Array), {
    maxFrameSize: 32_768,
    initialStreamWindow: 65_535,
    initialConnectionWindow: 1 << 20,
    maxConcurrentStreams: 7,
    maxHeaderBytes: 8192,
    maxMessageSize: 1 << 22,
    codecs: ["proto", "json"],
    compressions: ["identity"],
    keepaliveMs: 30_000,
  });
  assert.equal(p[1]?.length, 0);
  assert.deepEqual(parseRequestHeaders(p[2] as Uint8Array, FrameFlag.HAS_TIMEOUT), {
    codec: "proto",
    path: "/pkg.Service/Método",
    timeoutMs: 1500,
    metadata: ["x-user", "ada", "trace-bin", bin(0, 1, 255), "x-user", "béa"],
  });
  assert.deepEqual(parseRequestHeaders(p[3] as Uint8Array, FrameFlag.END_STREAM), {
    codec: "json",
    path: "/a/b",
    timeoutMs: undefined,
    metadata: [],
  });
  assert.deepEqual(parseMetadataBlock(p[4] as Uint8Array), ["server", "petrel"]);
  assert.deepEqual(p[5], bin(1, 2, 3));
  assert.deepEqual(p[6], bin());
  assert.deepEqual(p[7], bin());
  assert.deepEqual(parseTrailers(p[8] as Uint8Array), {
    code: 5,
    message: "not found: ✓",
    details: bin(9, 8, 7),
    metadata: ["retry-bin", bin(1)],
  });
  assert.deepEqual(parseCancel(p[9] as Uint8Array), { code: 4, reason: "deadline ⏰" });
  assert.equal(parseWindowUpdate(p[10] as Uint8Array), 0x7fffffff);
  assert.equal(parseWindowUpdate(p[11] as Uint8Array), 1);
  assert.deepEqual(p[12], bin(1, 2, 3, 4, 5, 6, 7, 8));
  assert.deepEqual(p[13], bin(8, 7, 6, 5, 4, 3, 2, 1));
  assert.deepEqual(parseGoAway(p[14] as Uint8Array), { lastStreamId: 3, errorCode: 0, debug: "bye" });
}

describe("frame round trips", () => {
  it("writes and reads back every frame type", () => {
    const w = new FrameWriter();
    writeEverything(w);
    const { frames, versions } = readAll([w.take()], true);
    checkEverything(frames, versions);
  });

  it("reads the same frames whatever the chunking, including split headers and preface", () => {
    const w = new FrameWriter();
    writeEverything(w);
    const bytes = w.take();
    for (const chunks of splits(bytes)) {
      const { frames, versions } = readAll(chunks, true);
      checkEverything(frames, versions);
    }
  });

  it("reads three-way splits of a frame at every pair of cut points", () => {
    const w = new FrameWriter();
    w.writeTrailers(9, 13, "boom", bin(1, 2), ["a", "b"]);
    w.writeMessage(9, 0, bin(4, 5, 6, 7));
    const bytes = w.take();
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const { frames } = readAll([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
        assert.equal(frames.length, 2);
        assert.deepEqual(parseTrailers(frames[0]?.payload as Uint8Array), {
          code: 13,
          message: "boom",
          details: bin(1, 2),
          metadata: ["a", "b"],
        });
        assert.deepEqual(frames[1]?.payload, bin(4, 5, 6, 7));
      }
    }
  });

  it("splits a large message into CONTINUED chunks and reassembles it", () => {
    const w = new FrameWriter({ initialCapacity: 64 });
    const msg = new Uint8Array(100_000);
    for (let i = 0; i < msg.length; i++) msg[i] = (i * 31) & 0xff;
    assert.equal(w.writeMessageChunked(7, msg, 16_384, FrameFlag.END_STREAM), 7);
    const { frames } = readAll([w.take()]);
    assert.equal(frames.length, 7);
    for (let i = 0; i < 6; i++) assert.equal(frames[i]?.flags, FrameFlag.CONTINUED);
    assert.equal(frames[6]?.flags, FrameFlag.END_STREAM);
    const joined = new Uint8Array(msg.length);
    let off = 0;
    for (const f of frames) {
      assert.ok(f.payload.length <= 16_384);
      joined.set(f.payload, off);
      off += f.payload.length;
    }
    assert.deepEqual(joined, msg);
  });

  it("writes an empty message as one empty frame and an exact multiple without an empty tail", () => {
    const w = new FrameWriter();
    assert.equal(w.writeMessageChunked(1, bin(), 16_384), 1);
    assert.equal(w.writeMessageChunked(1, new Uint8Array(32_768), 16_384), 2);
    const { frames } = readAll([w.take()]);
    assert.deepEqual(
      frames.map((f) => [f.flags, f.payload.length]),
      [
        [0, 0],
        [FrameFlag.CONTINUED, 16_384],
        [0, 16_384],
      ],
    );
  });
});
