/**
 * Property tests: whatever bytes arrive, the reader and the payload parsers either decode them or
 * throw a ProtocolError — never another exception, never a hang. Inputs are random bytes and,
 * more usefully, valid frame sequences mutated by bit flips, byte overwrites, truncation, length
 * tampering, insertions and deletions, pushed in random chunkings.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseCancel } from "./cancel-payload.js";
import { FrameReader } from "./frame-reader.js";
import { FrameFlag, FrameType } from "./frame-types.js";
import { FrameWriter } from "./frame-writer.js";
import { parseGoAway } from "./goaway-payload.js";
import { parseRequestHeaders } from "./headers-payload.js";
import { parseMetadataBlock } from "./metadata-block.js";
import { ProtocolError } from "./protocol-error.js";
import { parseSettings } from "./settings-payload.js";
import { parseTrailers } from "./trailers-payload.js";
import { parseWindowUpdate } from "./window-update-payload.js";

/** Counts what the properties fed, to show the volume requirement is met. */
let sequencesFed = 0;

function rethrowUnlessProtocolError(e: unknown): void {
  if (!(e instanceof ProtocolError)) throw e;
}

/** Payloads of frames the reader delivered that no parser accepted. */
let rejectedPayloads = 0;

/** Runs every parser that could apply to a frame of this type, as a connection layer would. */
function parsePayload(type: number, flags: number, payload: Uint8Array): void {
  try {
    switch (type) {
      case FrameType.SETTINGS:
        if ((flags & FrameFlag.ACK) === 0) parseSettings(payload);
        break;
      case FrameType.HEADERS:
        // The direction decides which layout applies; valid frames pass at least one.
        try {
          parseRequestHeaders(payload, flags, 4096);
          break;
        } catch (e) {
          rethrowUnlessProtocolError(e);
        }
        parseMetadataBlock(payload, 4096);
        break;
      case FrameType.TRAILERS:
        parseTrailers(payload, 4096);
        break;
      case FrameType.CANCEL:
        parseCancel(payload);
        break;
      case FrameType.WINDOW_UPDATE:
        parseWindowUpdate(payload);
        break;
      case FrameType.GOAWAY:
        parseGoAway(payload);
        break;
    }
  } catch (e) {
    rethrowUnlessProtocolError(e);
    rejectedPayloads++;
  }
}

const handler = {
  onPreface: (_version: number) => {},
  onFrame: (type: number, flags: number, _streamId: number, payload: Uint8Array) => parsePayload(type, flags, payload),
};

/**
 * Pushes `bytes` cut by `cuts` (cycled) and returns the ProtocolError that ended it, if any.
 * Any other exception escapes and fails the property.
 */
function feed(bytes: Uint8Array, cuts: number[], expectPreface: boolean, maxFrameSize: number): ProtocolError | undefined {
  sequencesFed++;
  const reader = new FrameReader(handler, { expectPreface, maxFrameSize });
  let off = 0;
  let k = 0;
  while (off < bytes.length) {
    const n = cuts.length === 0 ? bytes.length : (cuts[k++ % cuts.length] as number);
    try {
      reader.push(bytes.subarray(off, off + n));
    } catch (e) {
      rethrowUnlessProtocolError(e);
      // Dead readers stay dead with the same error.
      assert.throws(
        () => reader.push(bytes.subarray(0, 1)),
        (x) => x === e,
      );
      return e as ProtocolError;
    }
    off += n;
  }
  return undefined;
}

// ---- arbitraries for valid frames --------------------------------------------------------

const text = fc.string({ maxLength: 12, unit: "binary" });
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const streamId = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(0xffffffff));
const metadata = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom("a", "x-user", "k.v_1", "grpc-timeout"), text),
      fc.tuple(fc.constantFrom("trace-bin", "a-bin"), bytes(8)),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => pairs.flat());

type Op = (w: FrameWriter) => void;

const frameOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ f: fc.integer({ min: 16_384, max: 1 << 24 }), c: fc.subarray(["proto", "json", "x+y"]), k: fc.nat() }).map(
    ({ f, c, k }) =>
      (w: FrameWriter) =>
        w.writeSettings({ maxFrameSize: f, codecs: c, keepaliveMs: k }),
  ),
  fc.constant((w: FrameWriter) => w.writeSettingsAck()),
  fc
    .record({ id: streamId, codec: fc.constantFrom("proto", "json"), path: text, t: fc.option(fc.nat()), md: metadata, end: fc.boolean() })
    .map(
      ({ id, codec, path, t, md, end }) =>
        (w: FrameWriter) =>
          w.writeRequestHeaders(id, codec, path, t ?? undefined, md, end),
    ),
  fc.record({ id: streamId, md: metadata }).map(
    ({ id, md }) =>
      (w: FrameWriter) =>
        w.writeResponseHeaders(id, md),
  ),
  fc.record({ id: streamId, flags: fc.constantFrom(0, 1, 2, 4, 5, 6), b: bytes(40) }).map(
    ({ id, flags, b }) =>
      (w: FrameWriter) =>
        w.writeMessage(id, flags, b),
  ),
  fc.record({ id: streamId, code: fc.integer({ min: 0, max: 16 }), m: text, d: bytes(6), md: metadata }).map(
    ({ id, code, m, d, md }) =>
      (w: FrameWriter) =>
        w.writeTrailers(id, code, m, d, md),
  ),
  streamId.map((id) => (w: FrameWriter) => w.writeHalfClose(id)),
  fc.record({ id: streamId, code: fc.integer({ min: 0, max: 16 }), r: text }).map(
    ({ id, code, r }) =>
      (w: FrameWriter) =>
        w.writeCancel(id, code, r),
  ),
  fc.record({ id: fc.nat(5), inc: fc.integer({ min: 1, max: 0x7fffffff }) }).map(
    ({ id, inc }) =>
      (w: FrameWriter) =>
        w.writeWindowUpdate(id, inc),
  ),
  fc.record({ d: fc.uint8Array({ minLength: 8, maxLength: 8 }), ack: fc.boolean() }).map(
    ({ d, ack }) =>
      (w: FrameWriter) =>
        w.writePing(d, ack),
  ),
  fc.record({ last: fc.nat(), code: fc.nat(255), d: text }).map(
    ({ last, code, d }) =>
      (w: FrameWriter) =>
        w.writeGoAway(last, code, d),
  ),
);

/** A valid connection byte stream plus the offsets where its frames start. */
interface Stream {
  bytes: Uint8Array;
  frameStarts: number[];
}

const validStream: fc.Arbitrary<Stream> = fc.array(frameOp, { minLength: 1, maxLength: 6 }).map((ops) => {
  const w = new FrameWriter({ initialCapacity: 256 });
  w.writePreface();
  w.writeSettings({ codecs: ["proto"] });
  const frameStarts: number[] = [8];
  for (const op of ops) {
    frameStarts.push(w.size);
    op(w);
  }
  return { bytes: w.take(), frameStarts };
});

type Mutation =
  | { k: "flip"; at: number; bit: number }
  | { k: "set"; at: number; v: number }
  | { k: "truncate"; at: number }
  | { k: "length"; frame: number; v: number }
  | { k: "insert"; at: number; b: Uint8Array }
  | { k: "delete"; at: number; n: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ k: fc.constant("set" as const), at: fc.nat(), v: fc.nat(255) }),
  fc.record({ k: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    k: fc.constant("length" as const),
    frame: fc.nat(),
    v: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(0xffffffff, 0x7fffffff, 16_385, 65_537), fc.nat()),
  }),
  fc.record({ k: fc.constant("insert" as const), at: fc.nat(), b: bytes(6) }),
  fc.record({ k: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 6 }) }),
);

function mutate(s: Stream, muts: Mutation[]): Uint8Array {
  let b = s.bytes.slice();
  for (const m of muts) {
    if (b.length === 0) break;
    const at = "at" in m ? m.at % b.length : 0;
    switch (m.k) {
      case "flip":
        b[at] = (b[at] as number) ^ (1 << m.bit);
        break;
      case "set":
        b[at] = m.v;
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
      case "length": {
        const start = s.frameStarts[m.frame % s.frameStarts.length] as number;
        if (start + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(start, m.v >>> 0);
        break;
      }
      case "insert":
        b = new Uint8Array([...b.subarray(0, at), ...m.b, ...b.subarray(at)]);
        break;
      case "delete":
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.n)]);
        break;
    }
  }
  return b;
}

const cuts = fc.array(fc.integer({ min: 1, max: 48 }), { maxLength: 6 });

describe("fuzzing the reader and payload parsers", () => {
  it("decodes valid streams in any chunking without error", () => {
    fc.assert(
      fc.property(validStream, cuts, (s, c) => {
        rejectedPayloads = 0;
        assert.equal(feed(s.bytes, c, true, 1 << 24), undefined);
        assert.equal(rejectedPayloads, 0);
      }),
      { numRuns: 3000 },
    );
  });

  it("only ever throws ProtocolError on mutated streams", () => {
    fc.assert(
      fc.property(
        validStream,
        fc.array(fc.array(mutation, { minLength: 1, maxLength: 4 }), { minLength: 8, maxLength: 8 }),
        cuts,
        fc.constantFrom(16_384, 65_536),
        (s, variants, c, max) => {
          for (const muts of variants) feed(mutate(s, muts), c, true, max);
          // The same stream without its preface, so frame headers sit at other offsets.
          feed(mutate(s, variants[0] as Mutation[]).subarray(8), c, false, max);
        },
      ),
      { numRuns: 9000 },
    );
  });

  it("only ever throws ProtocolError on random bytes, as a stream and as payloads", () => {
    const magic = new Uint8Array([0x50, 0x45, 0x54, 0x52, 0x45, 0x4c, 1, 0]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), cuts, fc.boolean(), (b, c, withMagic) => {
        feed(b, c, false, 16_384);
        feed(withMagic ? new Uint8Array([...magic, ...b]) : b, c, true, 16_384);
        for (let t = 0; t <= 8; t++) parsePayload(t, 0, b);
        parsePayload(FrameType.HEADERS, FrameFlag.HAS_TIMEOUT, b);
      }),
      { numRuns: 12_000 },
    );
  });

  it("fed at least 100,000 byte sequences", () => {
    assert.ok(sequencesFed >= 100_000, `only ${sequencesFed}`);
  });
});
