import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteSink } from "./byte-sink.js";
import { parseCancel } from "./cancel-payload.js";
import { ErrorCode, FrameFlag, SettingId } from "./frame-types.js";
import { parseGoAway } from "./goaway-payload.js";
import { parseRequestHeaders, writeRequestHeadersPayload } from "./headers-payload.js";
import { parseMetadataBlock, writeMetadataBlock } from "./metadata-block.js";
import { ProtocolError } from "./protocol-error.js";
import { DEFAULT_SETTINGS, parseSettings } from "./settings-payload.js";
import { parseTrailers, writeTrailersPayload } from "./trailers-payload.js";
import { parseWindowUpdate } from "./window-update-payload.js";

const bin = (...xs: number[]) => new Uint8Array(xs);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const u16 = (v: number) => [v >>> 8, v & 0xff];
const u32 = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

function expectCode(fn: () => unknown, code: number, pattern?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ProtocolError, `expected ProtocolError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
}

/** Every proper prefix of a valid payload must be rejected as truncated, never misread. */
function everyTruncation(full: Uint8Array, parse: (p: Uint8Array) => unknown): void {
  for (let i = 0; i < full.length; i++) expectCode(() => parse(full.subarray(0, i)), ErrorCode.PROTOCOL_ERROR);
}

function encode(fn: (s: ByteSink) => void): Uint8Array {
  const s = new ByteSink(64);
  fn(s);
  return s.buf.slice(0, s.pos);
}

describe("SETTINGS payload", () => {
  it("fills defaults, skips unknown ids and keeps the last of a repeated id", () => {
    assert.deepEqual(parseSettings(bin()), { ...DEFAULT_SETTINGS, codecs: ["proto"], compressions: ["identity"] });
    const s = parseSettings(
      bin(0, 99, 0, 3, 1, 2, 3, 0, SettingId.MAX_CONCURRENT_STREAMS, 0, 4, ...u32(5), 0, SettingId.MAX_CONCURRENT_STREAMS, 0, 4, ...u32(6)),
    );
    assert.equal(s.maxConcurrentStreams, 6);
    assert.equal(s.maxFrameSize, DEFAULT_SETTINGS.maxFrameSize);
  });

  it("parses an empty codec list as no codecs", () => {
    assert.deepEqual(parseSettings(bin(0, SettingId.CODECS, 0, 0)).codecs, []);
  });

  const bad: Array<[string, Uint8Array, number]> = [
    ["a truncated entry header", bin(0, 1, 0), ErrorCode.PROTOCOL_ERROR],
    ["a len that overruns", bin(0, 99, 0, 5, 1, 2), ErrorCode.PROTOCOL_ERROR],
    ["a u32 entry of 2 bytes", bin(0, SettingId.MAX_HEADER_BYTES, 0, 2, 1, 2), ErrorCode.PROTOCOL_ERROR],
    ["MAX_FRAME_SIZE below 16 KiB", bin(0, 1, 0, 4, ...u32(16_383)), ErrorCode.PROTOCOL_ERROR],
    ["MAX_FRAME_SIZE above 16 MiB", bin(0, 1, 0, 4, ...u32(16 * 1024 * 1024 + 1)), ErrorCode.PROTOCOL_ERROR],
    ["a stream window above 2^31-1", bin(0, 2, 0, 4, ...u32(0x80000000)), ErrorCode.FLOW_CONTROL_ERROR],
    ["a connection window above 2^31-1", bin(0, 3, 0, 4, ...u32(0xffffffff)), ErrorCode.FLOW_CONTROL_ERROR],
    ["an empty codec name", bin(0, SettingId.CODECS, 0, 6, ...ascii("proto,")), ErrorCode.PROTOCOL_ERROR],
    ["a codec name with a space", bin(0, SettingId.CODECS, 0, 4, ...ascii("a, b")), ErrorCode.PROTOCOL_ERROR],
    ["a non-ASCII compression name", bin(0, SettingId.COMPRESSIONS, 0, 2, 0xc3, 0xa9), ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [name, payload, code] of bad) it(`rejects ${name}`, () => expectCode(() => parseSettings(payload), code));
});

describe("metadata block", () => {
  it("decodes -bin values as bytes and other values as strings, keeping order and repeats", () => {
    const p = encode((s) => writeMetadataBlock(s, ["a", "1", "k-bin", bin(0, 255), "a", "2", "x.y_z-9", "ünï"]));
    assert.deepEqual(parseMetadataBlock(p), ["a", "1", "k-bin", bin(0, 255), "a", "2", "x.y_z-9", "ünï"]);
  });

  it("copies binary values out of the payload", () => {
    const p = encode((s) => writeMetadataBlock(s, ["k-bin", bin(1, 2, 3)]));
    const v = parseMetadataBlock(p)[1] as Uint8Array;
    p.fill(0);
    assert.deepEqual(v, bin(1, 2, 3));
  });

  it("rejects every truncation", () => {
    everyTruncation(
      encode((s) => writeMetadataBlock(s, ["a", "xyz", "b-bin", bin(1)])),
      (p) => parseMetadataBlock(p),
    );
  });

  const bad: Array<[string, number[]]> = [
    ["an uppercase key", [0, 1, ...u16(1), ...ascii("A"), ...u32(0)]],
    ["a key with a space", [0, 1, ...u16(2), ...ascii("a "), ...u32(0)]],
    ["a key with a colon", [0, 1, ...u16(2), ...ascii(":a"), ...u32(0)]],
    ["an empty key", [0, 1, ...u16(0), ...u32(0), 0]],
    ["a key length that overruns", [0, 1, ...u16(50), ...ascii("abc"), ...u32(0)]],
    ["a value length that overruns", [0, 1, ...u16(1), ...ascii("a"), ...u32(10), 1, 2]],
    ["a count larger than the entries", [0, 3, ...u16(1), ...ascii("a"), ...u32(0)]],
    ["trailing bytes after the last entry", [0, 1, ...u16(1), ...ascii("a"), ...u32(0), 9]],
    ["invalid UTF-8 in a string value", [0, 1, ...u16(1), ...ascii("a"), ...u32(2), 0xc3, 0x28]],
    ["a lone continuation byte in a long value", [0, 1, ...u16(1), ...ascii("a"), ...u32(40), ...new Array(39).fill(0x61), 0x80]],
  ];
  for (const [name, bytes] of bad)
    it(`rejects ${name}`, () => expectCode(() => parseMetadataBlock(new Uint8Array(bytes)), ErrorCode.PROTOCOL_ERROR));

  it("accepts invalid UTF-8 in a -bin value (it is bytes)", () => {
    assert.deepEqual(parseMetadataBlock(bin(0, 1, ...u16(5), ...ascii("a-bin"), ...u32(1), 0xff)), ["a-bin", bin(0xff)]);
  });

  it("throws HEADER_TOO_LARGE for a block over the limit, even if it is malformed", () => {
    const p = encode((s) => writeMetadataBlock(s, ["a", "x".repeat(100)]));
    assert.equal(parseMetadataBlock(p, p.length).length, 2);
    expectCode(() => parseMetadataBlock(p, p.length - 1), ErrorCode.HEADER_TOO_LARGE, /exceeds/);
    expectCode(() => parseMetadataBlock(new Uint8Array(200).fill(0xff), 100), ErrorCode.HEADER_TOO_LARGE);
  });
});

describe("request HEADERS payload", () => {
  const valid = () => encode((s) => writeRequestHeadersPayload(s, "proto", "/p.S/M", 250, ["k", "v"]));

  it("reads timeoutMs only with HAS_TIMEOUT", () => {
    assert.equal(parseRequestHeaders(valid(), FrameFlag.HAS_TIMEOUT).timeoutMs, 250);
    assert.equal(parseRequestHeaders(valid(), 0).timeoutMs, undefined);
    const zero = encode((s) => writeRequestHeadersPayload(s, "proto", "/p.S/M", -5, []));
    assert.equal(parseRequestHeaders(zero, FrameFlag.HAS_TIMEOUT).timeoutMs, 0, "0 with the flag = already expired");
  });

  it("rejects every truncation", () => everyTruncation(valid(), (p) => parseRequestHeaders(p, 0)));

  const bad: Array<[string, number[]]> = [
    ["an empty codec", [0, ...u16(1), ...ascii("/"), ...u32(0), 0, 0]],
    ["a codec with a comma", [3, ...ascii("a,b"), ...u16(1), ...ascii("/"), ...u32(0), 0, 0]],
    ["a codec with a control byte", [2, 0x61, 0x0a, ...u16(1), ...ascii("/"), ...u32(0), 0, 0]],
    ["invalid UTF-8 in the path", [1, ...ascii("j"), ...u16(2), 0xff, 0xfe, ...u32(0), 0, 0]],
    ["a path that overruns", [1, ...ascii("j"), ...u16(9), ...ascii("/a"), ...u32(0), 0, 0]],
    ["trailing bytes", [1, ...ascii("j"), ...u16(1), ...ascii("/"), ...u32(0), 0, 0, 1]],
  ];
  for (const [name, bytes] of bad) {
    it(`rejects ${name}`, () => expectCode(() => parseRequestHeaders(new Uint8Array(bytes), 0), ErrorCode.PROTOCOL_ERROR));
  }

  it("checks the metadata block against maxHeaderBytes", () => {
    const p = valid();
    const blockSize = 2 + 2 + 1 + 4 + 1;
    assert.deepEqual(parseRequestHeaders(p, 0, blockSize).metadata, ["k", "v"]);
    expectCode(() => parseRequestHeaders(p, 0, blockSize - 1), ErrorCode.HEADER_TOO_LARGE);
  });
});

describe("TRAILERS payload", () => {
  const valid = () => encode((s) => writeTrailersPayload(s, 16, "nope", bin(7, 7), ["w-bin", bin(1)]));

  it("rejects every truncation", () => everyTruncation(valid(), (p) => parseTrailers(p)));

  it("rejects a status code above 16", () => {
    const p = valid();
    p[0] = 17;
    expectCode(() => parseTrailers(p), ErrorCode.PROTOCOL_ERROR, /status code 17/);
  });

  it("rejects invalid UTF-8 in the message and a details length that overruns", () => {
    expectCode(() => parseTrailers(bin(2, ...u16(1), 0x80, ...u32(0), 0, 0)), ErrorCode.PROTOCOL_ERROR, /UTF-8/);
    expectCode(() => parseTrailers(bin(2, ...u16(0), ...u32(0xffffffff), 0, 0)), ErrorCode.PROTOCOL_ERROR, /truncated/);
  });

  it("returns empty details and copies non-empty ones", () => {
    assert.equal(parseTrailers(bin(0, ...u16(0), ...u32(0), 0, 0)).details.length, 0);
    const p = valid();
    const t = parseTrailers(p);
    p.fill(0);
    assert.deepEqual(t.details, bin(7, 7));
  });
});

describe("CANCEL, GOAWAY, WINDOW_UPDATE payloads", () => {
  it("CANCEL: status above 16, truncation, trailing bytes, bad UTF-8", () => {
    expectCode(() => parseCancel(bin(17, 0, 0)), ErrorCode.PROTOCOL_ERROR);
    everyTruncation(bin(1, 0, 2, ...ascii("hi")), parseCancel);
    expectCode(() => parseCancel(bin(1, 0, 0, 0)), ErrorCode.PROTOCOL_ERROR, /trailing/);
    expectCode(() => parseCancel(bin(1, 0, 1, 0xc0)), ErrorCode.PROTOCOL_ERROR);
    assert.deepEqual(parseCancel(bin(1, 0, 0)), { code: 1, reason: "" });
  });

  it("GOAWAY: truncation, trailing bytes, keeps unknown error codes", () => {
    everyTruncation(bin(...u32(9), 1, 0, 1, 0x61), parseGoAway);
    expectCode(() => parseGoAway(bin(...u32(9), 1, 0, 0, 0)), ErrorCode.PROTOCOL_ERROR);
    assert.deepEqual(parseGoAway(bin(...u32(0xffffffff), 200, 0, 0)), { lastStreamId: 0xffffffff, errorCode: 200, debug: "" });
  });

  it("WINDOW_UPDATE: 0 and above 2^31-1 are PROTOCOL_ERROR, a wrong size is FRAME_SIZE_ERROR", () => {
    expectCode(() => parseWindowUpdate(bin(0, 0, 0, 0)), ErrorCode.PROTOCOL_ERROR);
    expectCode(() => parseWindowUpdate(bin(0x80, 0, 0, 0)), ErrorCode.PROTOCOL_ERROR);
    expectCode(() => parseWindowUpdate(bin(0, 0, 1)), ErrorCode.FRAME_SIZE_ERROR);
    assert.equal(parseWindowUpdate(bin(0x7f, 0xff, 0xff, 0xff)), 0x7fffffff);
  });
});
