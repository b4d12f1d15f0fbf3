/** petrel/1 targets: the frame reader (with every payload parser behind it) and the payload parsers alone. */
import {
  FrameFlag,
  FrameReader,
  FrameType,
  FrameWriter,
  MAX_FRAME_TYPE,
  ProtocolError,
  parseCancel,
  parseGoAway,
  parseMetadataBlock,
  parseRequestHeaders,
  parseSettings,
  parseTrailers,
  parseWindowUpdate,
} from "@petrel/protocol-native";
import type { Rng } from "./rng.js";
import { type FuzzTarget, type Mix, buildCorpus, check, forEachChunk, generateMixed, withControl } from "./target.js";

const MAX_HEADER_BYTES = 4096;
const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

function metadata(rng: Rng): Array<string | Uint8Array> {
  const md: Array<string | Uint8Array> = [];
  for (let i = rng.int(4); i > 0; i--) {
    if (rng.chance(0.3)) md.push(`${rng.pick(["trace", "a", "x-b"])}-bin`, rng.bytes(rng.size(16)));
    else md.push(rng.pick(["a", "x-user", "k.v_1", "grpc-timeout", rng.text(1 + rng.int(6), ALNUM)]), rng.text(rng.size(12), " abc~!é"));
  }
  return md;
}

/** Writes 1..6 random valid frames after a preface and SETTINGS. */
function writeFrames(rng: Rng, w: FrameWriter): void {
  const id = () => (rng.chance(0.9) ? 1 + rng.int(5) : 0xffff_ffff);
  for (let n = 1 + rng.int(6); n > 0; n--) {
    switch (rng.int(11)) {
      case 0:
        w.writeSettings({
          maxFrameSize: rng.range(16_384, 1 << 24),
          codecs: rng.pick([["proto"], ["json", "proto"], []]),
          keepaliveMs: rng.int(1e6),
        });
        break;
      case 1:
        w.writeSettingsAck();
        break;
      case 2:
        w.writeRequestHeaders(
          id(),
          rng.pick(["proto", "json"]),
          `/${rng.text(rng.size(20), "abc./_")}`,
          rng.chance(0.5) ? rng.u32() : undefined,
          metadata(rng),
          rng.chance(0.3),
        );
        break;
      case 3:
        w.writeResponseHeaders(id(), metadata(rng));
        break;
      case 4:
        w.writeMessage(id(), rng.pick([0, 1, 2, 4, 5, 6]), rng.bytes(rng.size(64)));
        break;
      case 5:
        w.writeTrailers(id(), rng.int(17), rng.text(rng.size(12), "ok é\n"), rng.bytes(rng.size(6)), metadata(rng));
        break;
      case 6:
        w.writeHalfClose(id());
        break;
      case 7:
        w.writeCancel(id(), rng.int(17), rng.text(rng.size(8), "why"));
        break;
      case 8:
        w.writeWindowUpdate(rng.int(6), rng.range(1, 0x7fff_ffff));
        break;
      case 9:
        w.writePing(rng.bytes(8), rng.chance(0.5));
        break;
      default:
        w.writeGoAway(rng.u32() >>> 1, rng.int(256), rng.text(rng.size(10), "bye"));
    }
  }
}

/** Runs every parser that could apply to a frame's payload, as a connection would. */
function parsePayload(type: number, flags: number, payload: Uint8Array): void {
  try {
    switch (type) {
      case FrameType.SETTINGS:
        if ((flags & FrameFlag.ACK) === 0) parseSettings(payload);
        break;
      case FrameType.HEADERS:
        try {
          const h = parseRequestHeaders(payload, flags, MAX_HEADER_BYTES);
          check(typeof h.codec === "string" && h.codec.length > 0, "request HEADERS with an empty codec");
          check(h.metadata.length % 2 === 0, "odd metadata list");
          break;
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
        check(parseMetadataBlock(payload, MAX_HEADER_BYTES).length % 2 === 0, "odd metadata list");
        break;
      case FrameType.TRAILERS: {
        const t = parseTrailers(payload, MAX_HEADER_BYTES);
        check(Number.isInteger(t.code) && t.code >= 0 && t.code <= 16, `TRAILERS status ${t.code} outside 0..16`);
        break;
      }
      case FrameType.CANCEL: {
        const c = parseCancel(payload);
        check(Number.isInteger(c.code) && c.code >= 0 && c.code <= 16, `CANCEL status ${c.code} outside 0..16`);
        break;
      }
      case FrameType.WINDOW_UPDATE: {
        const inc = parseWindowUpdate(payload);
        check(Number.isInteger(inc) && inc >= 1 && inc <= 0x7fff_ffff, `WINDOW_UPDATE increment ${inc}`);
        break;
      }
      case FrameType.GOAWAY:
        parseGoAway(payload);
        break;
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
}

function nativeFrames(): FuzzTarget {
  let maxFrameSize = 16_384;
  const handler = {
    onPreface(version: number) {
      check(Number.isInteger(version) && version >= 0 && version <= 255, `preface version ${version}`);
    },
    onFrame(type: number, flags: number, streamId: number, payload: Uint8Array) {
      check(type <= MAX_FRAME_TYPE, `delivered unknown frame type ${type}`);
      check(payload.length <= maxFrameSize, `delivered a ${payload.length}-byte payload above MAX_FRAME_SIZE ${maxFrameSize}`);
      check(streamId >= 0 && streamId <= 0xffff_ffff && flags >= 0 && flags <= 255, "header field out of range");
      parsePayload(type, flags, payload);
    },
  };
  // Control byte: bits 0-1 chunking mode, bit 2 expect the preface, bit 3 a 64 KiB MAX_FRAME_SIZE.
  const structured = (rng: Rng): Uint8Array => {
    const w = new FrameWriter({ initialCapacity: 256 });
    const preface = rng.chance(0.8);
    if (preface) {
      w.writePreface();
      w.writeSettings({ codecs: ["proto"] });
    }
    writeFrames(rng, w);
    return withControl((rng.u32() & 0xf3) | (preface ? 4 : 0), w.take());
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "native-frames",
    description:
      "petrel/1 FrameReader in any chunking + every payload parser; only ProtocolError, payloads within MAX_FRAME_SIZE, dead readers stay dead",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      if (input.length === 0) return;
      const control = input[0] as number;
      maxFrameSize = (control & 8) !== 0 ? 65_536 : 16_384;
      const reader = new FrameReader(handler, { expectPreface: (control & 4) !== 0, maxFrameSize });
      try {
        forEachChunk(input.subarray(1), control, (c) => reader.push(c));
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        check(reader.error === e && !reader.active, "the reader survived its own error");
        let again: unknown;
        try {
          reader.push(input.subarray(0, 1));
        } catch (x) {
          again = x;
        }
        check(again === e, "a dead reader did not rethrow its error");
        throw e;
      }
    },
    expected: (e) => e instanceof ProtocolError,
  };
}

function nativePayloads(): FuzzTarget {
  const payloadOf = (rng: Rng): Uint8Array => {
    const w = new FrameWriter({ initialCapacity: 256 });
    writeFrames(rng, w);
    const b = w.take();
    // The first frame's payload, with its type and flags in front as the control bytes.
    const len = ((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number);
    const out = new Uint8Array(2 + len);
    out[0] = b[4] as number;
    out[1] = b[5] as number;
    out.set(b.subarray(10, 10 + len), 2);
    return out;
  };
  const mix: Mix = { corpus: [], structured: payloadOf };
  return {
    name: "native-payloads",
    description: "petrel/1 payload parsers (SETTINGS, HEADERS, metadata, TRAILERS, CANCEL, WINDOW_UPDATE, GOAWAY) fed payloads directly",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, payloadOf);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      if (input.length < 2) return;
      parsePayload((input[0] as number) % (MAX_FRAME_TYPE + 1), input[1] as number, input.subarray(2));
    },
    expected: (e) => e instanceof ProtocolError,
  };
}

export const nativeTargets = [nativeFrames, nativePayloads];
