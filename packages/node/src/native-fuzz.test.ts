/**
 * Live-server fuzzing of petrel/1 (docs/protocol-native.md): a real server (TestService on
 * 127.0.0.1) is fed byte streams over raw TCP sockets, several connections at a time. Inputs are
 * (a) random bytes, with and without a valid preface in front, and (b) a valid preface + SETTINGS
 * followed by long sequences of well-formed frames (calls of every kind, PINGs, WINDOW_UPDATEs,
 * CANCELs, GOAWAY ...), then mutated: bit flips, truncation, length/stream-id/type/flag
 * tampering, inserted and deleted bytes; sent whole, in random chunks or byte by byte.
 * Some frame sequences are "strict": they keep every rule of the spec, so the server must not
 * answer them with a connection error.
 *
 * What must hold: nothing throws in the (same-process) server; every connection ends; the server's
 * own output is always well-formed petrel/1 and ends after an error GOAWAY; garbage never makes it
 * fail with INTERNAL_ERROR; `server.connections` returns to 0; a healthy client on its own
 * connection keeps getting correct answers during and after the fuzzing; the heap stays flat.
 * A second group checks specific malformed inputs against the GOAWAY code the spec requires.
 *
 * Bounded by count and wall time: PETREL_FUZZ_MS (default 45000) and PETREL_FUZZ_CONNECTIONS
 * (default 2500), whichever comes first; the run must send >= 100,000 frames. Seeded with
 * PETREL_FUZZ_SEED (default fixed), so a failure can be replayed.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createClient, createRouter } from "@petrel/core";
import {
  DEFAULT_INITIAL_CONNECTION_WINDOW,
  DEFAULT_INITIAL_STREAM_WINDOW,
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  FrameFlag,
  FrameReader,
  FrameType,
  FrameWriter,
  errorCodeName,
  frameTypeName,
  parseGoAway,
  type Settings,
} from "@petrel/protocol-native";
import {
  EchoRequestSchema,
  SleepRequestSchema,
  StreamRequestSchema,
  TestService,
  createTestServiceImpl,
  eventually,
} from "@petrel/testing";
import fc from "fast-check";
import { createNativeServer, createNativeTransport, type NativeServer } from "./index.js";

const WALL_MS = Number(process.env.PETREL_FUZZ_MS ?? 45_000);
const MAX_CONNECTIONS = Number(process.env.PETREL_FUZZ_CONNECTIONS ?? 2_500);
const MIN_FRAMES = 100_000;
const SEED = Number(process.env.PETREL_FUZZ_SEED ?? 0x9e7e1);
/** Connections run at once per fast-check run. */
const MAX_PARALLEL = 8;
/** After our FIN the server must close within this (it is the "no hang" bound; generous). */
const CLOSE_TIMEOUT_MS = 10_000;
/** A malformed input must make the server close within this (generous: it closes at once). */
const EXCHANGE_CLOSE_TIMEOUT_MS = 5_000;
const MIB = 1024 * 1024;

// ---- process-wide failure detector -------------------------------------------------------

const escaped: unknown[] = [];
const onEscaped = (e: unknown) => {
  escaped.push(e);
};

// ---- inputs -------------------------------------------------------------------------------

const SVC = "/petrel.testing.v1.TestService/";
const PATHS = [`${SVC}Echo`, `${SVC}Sleep`, `${SVC}ServerStream`, `${SVC}ClientStream`, `${SVC}Bidi`, `${SVC}Nope`, "/no.Such/Thing", "x"];
const CODECS = ["proto", "json", "cbor"];

type Op =
  | { k: "ping"; data: Uint8Array; ack: boolean }
  | { k: "wu"; conn: boolean; ref: number; inc: number }
  | { k: "settings"; s: Partial<Settings> }
  | { k: "settingsAck" }
  | { k: "open"; path: number; codec: number; timeoutMs: number | undefined; md: string[]; end: boolean; skip: number }
  | { k: "msg"; ref: number; text: string; payload: Uint8Array; n: number; raw: Uint8Array | undefined; chunk: number; end: boolean }
  | { k: "half"; ref: number }
  | { k: "cancel"; ref: number; code: number; reason: string }
  | { k: "goaway"; code: number };

type Mutation =
  | { k: "none" }
  | { k: "flip"; at: number[]; bits: number[] }
  | { k: "truncate"; at: number }
  | { k: "length"; frame: number; how: number; value: number }
  | { k: "streamId"; frame: number; how: number; value: number }
  | { k: "type"; frame: number; type: number }
  | { k: "flags"; frame: number; flags: number }
  | { k: "insert"; at: number; bytes: Uint8Array }
  | { k: "delete"; at: number; n: number };

type Chunking = { k: "whole" } | { k: "chunks"; sizes: number[]; yieldEvery: number } | { k: "bytes"; prefix: number };

interface ConnPlan {
  input:
    | { k: "random"; withPreface: boolean; bytes: Uint8Array }
    | { k: "frames"; strict: boolean; settings: Partial<Settings>; ops: Op[]; mutations: Mutation[] };
  chunking: Chunking;
  /** What we do once the input is written: FIN, RST, or wait a little for the server first. */
  close: "end" | "destroy" | "wait";
}

const ref = fc.nat({ max: 1000 });
const settingsArb: fc.Arbitrary<Partial<Settings>> = fc.record(
  {
    maxFrameSize: fc.integer({ min: 16_384, max: 16 * MIB }),
    initialStreamWindow: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(0x7fff_ffff)),
    initialConnectionWindow: fc.integer({ min: 0, max: 1 << 20 }),
    maxConcurrentStreams: fc.nat(),
    maxHeaderBytes: fc.integer({ min: 0, max: 20_000 }),
    maxMessageSize: fc.integer({ min: 0, max: 5 * MIB }),
    codecs: fc.constantFrom(["proto"], ["json"], ["proto", "json"], ["x"]),
    keepaliveMs: fc.nat(),
  },
  { requiredKeys: [] },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant("ping" as const), data: fc.uint8Array({ minLength: 8, maxLength: 8 }), ack: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("wu" as const),
      conn: fc.boolean(),
      ref,
      inc: fc.oneof({ weight: 30, arbitrary: fc.integer({ min: 1, max: 100_000 }) }, { weight: 1, arbitrary: fc.constant(0x7fff_ffff) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("settings" as const), s: settingsArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("settingsAck" as const) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant("open" as const),
      path: fc.oneof({ weight: 12, arbitrary: fc.nat({ max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 7 }) }),
      codec: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
      timeoutMs: fc.option(fc.oneof(fc.nat({ max: 5000 }), fc.constant(0xffff_ffff)), { freq: 3, nil: undefined }),
      md: fc.array(fc.constantFrom("x-echo", "hello", "x-echo-bin", "a.b_c-d", "v", "é"), { maxLength: 4 }),
      end: fc.boolean(),
      // Ids skipped before this one (strict inputs skip none: ids go up by 1, spec §7.1).
      skip: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 1000 }) }),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constant("msg" as const),
      ref,
      text: fc.oneof({ weight: 20, arbitrary: fc.string({ maxLength: 24 }) }, { weight: 1, arbitrary: fc.constant("throw-plain-error") }),
      payload: fc.uint8Array({ maxLength: 96 }),
      n: fc.nat({ max: 6 }),
      raw: fc.option(fc.uint8Array({ maxLength: 64 }), { freq: 8, nil: undefined }),
      chunk: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })),
      end: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("half" as const), ref }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("cancel" as const), ref, code: fc.nat({ max: 16 }), reason: fc.string({ maxLength: 12 }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("goaway" as const), code: fc.nat({ max: 9 }) }) },
);

const pos = fc.nat({ max: 1_000_000 });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("flip" as const),
      at: fc.array(pos, { minLength: 1, maxLength: 4 }),
      bits: fc.array(fc.nat({ max: 7 }), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("truncate" as const), at: pos }) },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant("length" as const), frame: pos, how: fc.nat({ max: 3 }), value: fc.nat({ max: 0xffff_ffff }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant("streamId" as const), frame: pos, how: fc.nat({ max: 3 }), value: fc.nat({ max: 0xffff_ffff }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("type" as const),
      frame: pos,
      type: fc.oneof(fc.nat({ max: 8 }), fc.integer({ min: 9, max: 255 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("flags" as const), frame: pos, flags: fc.nat({ max: 255 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("insert" as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("delete" as const), at: pos, n: fc.integer({ min: 1, max: 24 }) }) },
);

const chunkingArb: fc.Arbitrary<Chunking> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ k: "whole" as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("chunks" as const),
      sizes: fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4096 })), { minLength: 1, maxLength: 16 }),
      yieldEvery: fc.integer({ min: 1, max: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("bytes" as const), prefix: fc.integer({ min: 1, max: 1200 }) }) },
);

const connPlanArb: fc.Arbitrary<ConnPlan> = fc.record({
  input: fc.oneof(
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant("random" as const),
        withPreface: fc.boolean(),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 2048 }),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        k: fc.constant("frames" as const),
        strict: fc.boolean(),
        settings: settingsArb,
        ops: fc.array(opArb, { minLength: 100, maxLength: 600, size: "max" }),
        mutations: fc.oneof(
          { weight: 1, arbitrary: fc.constant<Mutation[]>([{ k: "none" }]) },
          { weight: 3, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) },
        ),
      }),
    },
  ),
  chunking: chunkingArb,
  close: fc.constantFrom("end" as const, "end" as const, "destroy" as const, "wait" as const),
});

/** A built input: bytes plus the end offset of every frame in them (to count frames actually sent). */
interface Built {
  bytes: Uint8Array;
  frameEnds: number[];
  /** Whether the bytes keep every rule of the spec (unmutated strict frames). */
  strictValid: boolean;
  mutated: boolean;
  /** For strictly valid input: what the server may send back (§5, §8). */
  limits?: {
    maxFrameSize: number;
    highestStreamId: number;
    /** Upper bounds of the server's send windows: initial window + every WINDOW_UPDATE we sent. */
    connWindow: number;
    streamWindow: Map<number, number>;
  };
}

function encodeBody(path: number, codec: number, op: Extract<Op, { k: "msg" }>): Uint8Array {
  if (op.raw !== undefined) return op.raw;
  const json = codec === 1;
  const enc = new TextEncoder();
  switch (path) {
    case 1: {
      const m = create(SleepRequestSchema, { sleepMs: op.n * 3 });
      return json ? enc.encode(toJsonString(SleepRequestSchema, m)) : toBinary(SleepRequestSchema, m);
    }
    case 2: {
      const m = create(StreamRequestSchema, {
        text: op.text,
        count: op.n,
        intervalMs: op.n % 3,
        payload: op.payload,
        failCode: op.n === 5 ? 9 : 0,
      });
      return json ? enc.encode(toJsonString(StreamRequestSchema, m)) : toBinary(StreamRequestSchema, m);
    }
    default: {
      const m = create(EchoRequestSchema, { text: op.text, payload: op.payload, seq: BigInt(op.n), failCode: op.n === 6 ? 5 : 0 });
      return json ? enc.encode(toJsonString(EchoRequestSchema, m)) : toBinary(EchoRequestSchema, m);
    }
  }
}

const PREFACE_AND_SETTINGS_MIN = 8 + 10;

/**
 * Encodes a plan's frames, then applies its mutations. Strict plans drop (or tame) every op that
 * would break a rule of the spec: a second SETTINGS or a second ACK (§2.2), skipped stream ids
 * (§7.1), frames after the client's own half-close or CANCEL (§7.3), window overflows (§8),
 * streams opened after the client's GOAWAY and GOAWAYs with an error code.
 */
function build(plan: ConnPlan): Built {
  const input = plan.input;
  if (input.k === "random") {
    if (!input.withPreface) return { bytes: input.bytes, frameEnds: [], strictValid: false, mutated: true };
    const w = new FrameWriter();
    w.writePreface();
    const pre = w.take();
    const out = new Uint8Array(pre.length + input.bytes.length);
    out.set(pre);
    out.set(input.bytes, pre.length);
    return { bytes: out, frameEnds: [], strictValid: false, mutated: true };
  }
  const strict = input.strict;
  const w = new FrameWriter();
  const frameEnds: number[] = [];
  const mark = () => frameEnds.push(w.size);
  w.writePreface();
  const settings = { ...input.settings };
  if (strict && settings.initialStreamWindow === 0x7fff_ffff) settings.initialStreamWindow = 65_535;
  w.writeSettings(settings);
  mark();
  type S = { id: number; path: number; codec: number; halfClosed: boolean; cancelled: boolean };
  const streams: S[] = [];
  let nextId = 1;
  let acked = false;
  let goneAway = false;
  const initialStreamWindow = settings.initialStreamWindow ?? DEFAULT_INITIAL_STREAM_WINDOW;
  let connWindow = settings.initialConnectionWindow ?? DEFAULT_INITIAL_CONNECTION_WINDOW;
  const streamWindow = new Map<number, number>();
  const pick = (r: number) => {
    const s = streams.length === 0 ? undefined : streams[r % streams.length];
    return strict && s?.cancelled ? undefined : s;
  };
  for (const op of input.ops) {
    switch (op.k) {
      case "ping":
        w.writePing(op.data, op.ack);
        mark();
        break;
      case "wu": {
        const s = pick(op.ref);
        const id = op.conn || s === undefined ? 0 : s.id;
        const inc = strict && op.inc === 0x7fff_ffff ? 1 : op.inc;
        w.writeWindowUpdate(id, inc);
        mark();
        if (id === 0) connWindow += inc;
        else streamWindow.set(id, (streamWindow.get(id) ?? initialStreamWindow) + inc);
        break;
      }
      case "settings":
        if (strict) break;
        w.writeSettings(op.s);
        mark();
        break;
      case "settingsAck":
        if (strict && acked) break;
        acked = true;
        w.writeSettingsAck();
        mark();
        break;
      case "open": {
        if (strict && goneAway) break;
        const id = nextId + (strict ? 0 : op.skip);
        nextId = id + 1;
        const md: Array<string | Uint8Array> = [];
        for (const k of op.md) md.push(k, k.endsWith("-bin") ? new Uint8Array([1, 2, 3]) : `v-${k}`);
        const codec = CODECS[op.codec] as string;
        const path = PATHS[op.path] as string;
        try {
          w.writeRequestHeaders(id, codec, path, op.timeoutMs, md, op.end);
        } catch {
          // Metadata the writer refuses (the non-token key "é"): send it without metadata.
          w.writeRequestHeaders(id, codec, path, op.timeoutMs, [], op.end);
        }
        mark();
        streams.push({ id, path: op.path, codec: op.codec, halfClosed: op.end, cancelled: false });
        if (!streamWindow.has(id)) streamWindow.set(id, initialStreamWindow);
        break;
      }
      case "msg": {
        const s = pick(op.ref);
        if (s === undefined || (strict && s.halfClosed)) break;
        const body = encodeBody(s.path, s.codec, op);
        const flags = op.end ? FrameFlag.END_STREAM : 0;
        if (op.chunk === 0 || body.length <= op.chunk) {
          w.writeMessage(s.id, flags, body);
          mark();
        } else {
          for (let off = 0; off < body.length; off += op.chunk) {
            const n = Math.min(op.chunk, body.length - off);
            const last = off + n >= body.length;
            w.writeMessage(s.id, last ? flags : FrameFlag.CONTINUED, body, off, n);
            mark();
          }
        }
        if (op.end) s.halfClosed = true;
        break;
      }
      case "half": {
        const s = pick(op.ref);
        if (s === undefined || (strict && s.halfClosed)) break;
        w.writeHalfClose(s.id);
        mark();
        s.halfClosed = true;
        break;
      }
      case "cancel": {
        const s = pick(op.ref);
        if (s === undefined) break;
        w.writeCancel(s.id, op.code, op.reason);
        mark();
        s.cancelled = true;
        break;
      }
      case "goaway":
        w.writeGoAway(0, strict ? ErrorCode.NO_ERROR : op.code, "fuzz");
        mark();
        goneAway = true;
        break;
    }
  }
  let bytes = w.take().slice();
  let mutated = false;
  let ends = frameEnds;
  for (const m of input.mutations) {
    if (m.k === "none") continue;
    mutated = true;
    // Mutations land after the preface + SETTINGS (except bit flips): earlier ones are boring.
    const span = Math.max(1, bytes.length - PREFACE_AND_SETTINGS_MIN);
    const at = (p: number) => PREFACE_AND_SETTINGS_MIN + (p % span);
    const frameStart = (f: number) => {
      const i = f % ends.length;
      return i === 0 ? 8 : (ends[i - 1] as number);
    };
    switch (m.k) {
      case "flip":
        for (let i = 0; i < m.at.length; i++) {
          const p = (m.at[i] as number) % bytes.length;
          bytes[p] = (bytes[p] as number) ^ (1 << (m.bits[i % m.bits.length] as number));
        }
        break;
      case "truncate":
        bytes = bytes.slice(0, at(m.at));
        ends = ends.filter((e) => e <= bytes.length);
        break;
      case "length": {
        const p = frameStart(m.frame);
        const cur = readU32(bytes, p);
        const v =
          m.how === 0
            ? m.value
            : m.how === 1
              ? cur + 1 + (m.value % 16)
              : m.how === 2
                ? Math.max(0, cur - 1 - (m.value % 16))
                : 0x10000 + (m.value % 256);
        writeU32(bytes, p, v >>> 0);
        break;
      }
      case "streamId": {
        const p = frameStart(m.frame);
        const cur = readU32(bytes, p + 6);
        const v = m.how === 0 ? 0 : m.how === 1 ? m.value : m.how === 2 ? Math.max(0, cur - 1 - (m.value % 8)) : cur + 1 + (m.value % 8);
        writeU32(bytes, p + 6, v >>> 0);
        break;
      }
      case "type":
        bytes[frameStart(m.frame) + 4] = m.type;
        break;
      case "flags":
        bytes[frameStart(m.frame) + 5] = m.flags;
        break;
      case "insert": {
        const p = at(m.at) % (bytes.length + 1);
        const out = new Uint8Array(bytes.length + m.bytes.length);
        out.set(bytes.subarray(0, p));
        out.set(m.bytes, p);
        out.set(bytes.subarray(p), p + m.bytes.length);
        bytes = out;
        ends = ends.filter((e) => e <= p);
        break;
      }
      case "delete": {
        const p = at(m.at) % bytes.length;
        const out = new Uint8Array(bytes.length - Math.min(m.n, bytes.length - p));
        out.set(bytes.subarray(0, p));
        out.set(bytes.subarray(p + m.n), p);
        bytes = out;
        ends = ends.filter((e) => e <= p);
        break;
      }
    }
  }
  const strictValid = strict && !mutated;
  const limits = strictValid
    ? { maxFrameSize: settings.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, highestStreamId: nextId - 1, connWindow, streamWindow }
    : undefined;
  return { bytes, frameEnds: ends, strictValid, mutated, limits };
}

function readU32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  if (at + 4 > b.length) return;
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

// ---- talking to the server ---------------------------------------------------------------

type GoAwayInfo = { lastStreamId: number; errorCode: number; debug: string };

/** What the server sent on one connection, decoded. */
interface ServerOutput {
  bytes: number;
  prefaceVersion: number | undefined;
  frames: Array<{ type: number; flags: number; streamId: number; payload: Uint8Array }>;
  /** Set if the server's bytes were not valid petrel/1 (reader error), with the reason. */
  malformed: string | undefined;
  goaways: GoAwayInfo[];
}

/**
 * Decodes the server's bytes. A partial frame at the end is fine (the connection may have been
 * reset); anything the reader rejects is not. `settingsFirst`: the spec's "SETTINGS first" rule,
 * which does not hold for the UNSUPPORTED_VERSION answer (preface + GOAWAY).
 */
function decodeServerOutput(chunks: Buffer[], settingsFirst = true): ServerOutput {
  const out: ServerOutput = { bytes: 0, prefaceVersion: undefined, frames: [], malformed: undefined, goaways: [] };
  const reader = new FrameReader(
    {
      onPreface(version) {
        out.prefaceVersion = version;
      },
      onFrame(type, flags, streamId, payload) {
        out.frames.push({ type, flags, streamId, payload: payload.slice() });
        if (type === FrameType.GOAWAY) out.goaways.push(parseGoAway(payload));
      },
    },
    { expectPreface: true, requireSettingsFirst: settingsFirst, maxFrameSize: 16 * MIB },
  );
  try {
    for (const c of chunks) {
      out.bytes += c.length;
      reader.push(c);
    }
  } catch (e) {
    out.malformed = (e as Error).message;
  }
  return out;
}

interface ConnResult {
  built: Built;
  framesSent: number;
  bytesSent: number;
  serverClosedFirst: boolean;
  hung: boolean;
  output: ServerOutput;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Runs one connection: writes the input as planned, then closes it as planned; never rejects. */
async function runConnection(port: number, plan: ConnPlan, built: Built): Promise<ConnResult> {
  const socket: Socket = connect({ port, host: "127.0.0.1" });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let closed = false;
  let serverEnded = false;
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  socket.on("end", () => {
    serverEnded = true;
  });
  const closedP = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve) => {
    socket.once("connect", () => resolve());
    socket.once("close", () => resolve());
  });
  const bytes = built.bytes;
  let sent = 0;
  const write = (from: number, to: number) => {
    if (closed || serverEnded || socket.destroyed || !socket.writable) return false;
    socket.write(bytes.subarray(from, to));
    sent = to;
    return true;
  };
  const c = plan.chunking;
  if (c.k === "whole") write(0, bytes.length);
  else if (c.k === "bytes") {
    const prefix = Math.min(c.prefix, bytes.length);
    for (let i = 0; i < prefix; i++) {
      if (!write(i, i + 1)) break;
      if (i % 8 === 7) await tick();
    }
    write(sent, bytes.length);
  } else {
    let i = 0;
    let n = 0;
    while (sent < bytes.length) {
      const size = c.sizes[i++ % c.sizes.length] as number;
      if (!write(sent, Math.min(bytes.length, sent + size))) break;
      if (++n % c.yieldEvery === 0) await tick();
      if (socket.writableLength > 256 * 1024) await sleep(1);
    }
  }
  if (plan.close === "wait") await Promise.race([closedP, sleep(50)]);
  const serverClosedFirst = closed || serverEnded;
  if (plan.close === "destroy") socket.destroy();
  else socket.end();
  let hung = false;
  const timer = setTimeout(() => {
    hung = !closed;
    socket.destroy();
  }, CLOSE_TIMEOUT_MS);
  await closedP;
  clearTimeout(timer);
  let framesSent = 0;
  for (const e of built.frameEnds) if (e <= sent) framesSent++;
  // A mutation may hit the preface's version byte; the server then answers preface + GOAWAY with no
  // SETTINGS, which is correct (spec §2.1), so "SETTINGS first" is not required here.
  return { built, framesSent, bytesSent: sent, serverClosedFirst, hung, output: decodeServerOutput(chunks, false) };
}

/** GOAWAY codes the server may send on strictly valid input (§9 ping abuse, §10). */
const CODES_FOR_VALID_INPUT: ReadonlySet<number> = new Set([ErrorCode.NO_ERROR, ErrorCode.ENHANCE_YOUR_CALM, ErrorCode.IDLE_TIMEOUT]);

/** What is wrong with one connection's outcome, if anything. */
function checkConnection(r: ConnResult): string | undefined {
  const o = r.output;
  if (r.hung) return `the server did not close within ${CLOSE_TIMEOUT_MS} ms of our FIN`;
  if (o.malformed !== undefined) return `the server sent malformed petrel/1: ${o.malformed}`;
  const gi = o.frames.findIndex((f) => f.type === FrameType.GOAWAY && parseGoAway(f.payload).errorCode !== ErrorCode.NO_ERROR);
  if (gi >= 0 && gi < o.frames.length - 1) {
    return `the server sent ${o.frames
      .slice(gi + 1)
      .map((f) => frameTypeName(f.type))
      .join(",")} after its GOAWAY ${errorCodeName(parseGoAway((o.frames[gi] as { payload: Uint8Array }).payload).errorCode)} (§11.1)`;
  }
  for (let i = 0; i < o.goaways.length; i++) {
    const g = o.goaways[i] as GoAwayInfo;
    if (g.errorCode === ErrorCode.INTERNAL_ERROR) return `input made the server fail with INTERNAL_ERROR: ${g.debug}`;
    if (r.built.strictValid && !CODES_FOR_VALID_INPUT.has(g.errorCode))
      return `valid input was rejected: GOAWAY ${errorCodeName(g.errorCode)}: ${g.debug}`;
    if (i > 0 && g.lastStreamId > (o.goaways[i - 1] as GoAwayInfo).lastStreamId) return "GOAWAY lastStreamId increased (§7.6)";
  }
  return checkServerStreams(o, r.built);
}

/**
 * What the server sends on each stream must follow §4 and §7.3 whatever the client sent: at most
 * one response HEADERS, before any MESSAGE; no END_STREAM on a MESSAGE; nothing after TRAILERS or
 * CANCEL; no HALF_CLOSE. For strictly valid input also §5 and §8: frames within the client's
 * MAX_FRAME_SIZE, MESSAGE bytes within the windows the client granted, only streams it opened.
 */
function checkServerStreams(o: ServerOutput, built: Built): string | undefined {
  const state = new Map<number, { headers: number; messages: number; ended: string | undefined; bytes: number }>();
  let connBytes = 0;
  const lim = built.limits;
  for (const f of o.frames) {
    const name = frameTypeName(f.type);
    if (lim !== undefined && f.payload.length > lim.maxFrameSize)
      return `${name} of ${f.payload.length} bytes exceeds our MAX_FRAME_SIZE ${lim.maxFrameSize}`;
    if (f.streamId === 0) continue;
    if (f.type === FrameType.HALF_CLOSE) return "the server sent HALF_CLOSE (§4.5)";
    if (lim !== undefined && f.streamId > lim.highestStreamId) return `${name} on stream ${f.streamId}, which we never opened (§7.1)`;
    let st = state.get(f.streamId);
    if (st === undefined) {
      st = { headers: 0, messages: 0, ended: undefined, bytes: 0 };
      state.set(f.streamId, st);
    }
    if (st.ended !== undefined && f.type !== FrameType.WINDOW_UPDATE) return `${name} on stream ${f.streamId} after its ${st.ended} (§7.3)`;
    switch (f.type) {
      case FrameType.HEADERS:
        if (st.headers > 0 || st.messages > 0) return `a second HEADERS, or HEADERS after MESSAGE, on stream ${f.streamId} (§4.2)`;
        if ((f.flags & FrameFlag.END_STREAM) !== 0) return "END_STREAM on a response HEADERS (§4.2)";
        st.headers++;
        break;
      case FrameType.MESSAGE:
        if ((f.flags & FrameFlag.END_STREAM) !== 0) return "END_STREAM on a server MESSAGE (§4.3)";
        st.messages++;
        st.bytes += f.payload.length;
        connBytes += f.payload.length;
        if (lim !== undefined) {
          const window = lim.streamWindow.get(f.streamId) ?? 0;
          if (st.bytes > window)
            return `the server sent ${st.bytes} MESSAGE bytes on stream ${f.streamId}; we granted at most ${window} (§8)`;
          if (connBytes > lim.connWindow)
            return `the server sent ${connBytes} MESSAGE bytes; the connection window we granted is at most ${lim.connWindow} (§8)`;
        }
        break;
      case FrameType.TRAILERS:
      case FrameType.CANCEL:
        st.ended = name;
        break;
    }
  }
  return undefined;
}

interface Step {
  send?: Uint8Array;
  /** Wait until the server's SETTINGS arrived (before sending this step's bytes). */
  awaitSettings?: boolean;
}

/** Plays `steps` (bytes at once or byte by byte) and collects what the server says until it closes. */
async function exchange(
  port: number,
  steps: Step[],
  byteByByte: boolean,
  settingsFirst = true,
): Promise<ServerOutput & { closed: boolean }> {
  const socket = connect({ port, host: "127.0.0.1" });
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  let closed = false;
  const closedP = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  for (const step of steps) {
    if (step.awaitSettings) {
      await eventually(
        () => closed || decodeServerOutput(chunks).frames.some((f) => f.type === FrameType.SETTINGS && f.flags === 0),
        10_000,
        "server SETTINGS",
      );
    }
    const bytes = step.send ?? new Uint8Array(0);
    if (byteByByte) {
      for (let i = 0; i < bytes.length && !closed && socket.writable; i++) {
        socket.write(bytes.subarray(i, i + 1));
        await tick();
      }
    } else if (!closed && socket.writable) socket.write(bytes);
  }
  // We do not close: the server must close by itself after a connection error.
  await Promise.race([closedP, sleep(EXCHANGE_CLOSE_TIMEOUT_MS)]);
  socket.destroy();
  return { ...decodeServerOutput(chunks, settingsFirst), closed };
}

function frameHeader(len: number, type: number, flags: number, streamId: number): Uint8Array {
  const b = new Uint8Array(10);
  writeU32(b, 0, len);
  b[4] = type;
  b[5] = flags;
  writeU32(b, 6, streamId);
  return b;
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Frames built with a FrameWriter: `f((w) => w.writePing(...))`. */
function frames(fill: (w: FrameWriter) => void): Uint8Array {
  const w = new FrameWriter();
  fill(w);
  return w.take().slice();
}

/** The client's preface and (empty) SETTINGS. */
const hello = () =>
  frames((w) => {
    w.writePreface();
    w.writeSettings({});
  });

interface MalformedCase {
  what: string;
  steps: Step[];
  /** The GOAWAY error code the spec requires; undefined = close without sending anything (§2). */
  code: number | undefined;
  lastStreamId?: number;
  /** Set while the implementation does not do what the spec says (node:test reports it as TODO). */
  todo?: string;
}

const ECHO = `${SVC}Echo`;
const SLEEP = `${SVC}Sleep`;
const BIDI = `${SVC}Bidi`;

const MALFORMED: MalformedCase[] = [
  {
    what: "bad magic (an HTTP/1 request): closed without a byte sent (§2)",
    steps: [{ send: new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }],
    code: undefined,
  },
  {
    what: "preface with version 2: preface(1) + GOAWAY UNSUPPORTED_VERSION, lastStreamId 0 (§2.1)",
    steps: [
      {
        send: frames((w) => {
          w.writePreface(2);
          w.writeSettings({});
        }),
      },
    ],
    code: ErrorCode.UNSUPPORTED_VERSION,
    lastStreamId: 0,
  },
  {
    what: "PING before SETTINGS (§2.2)",
    steps: [
      {
        send: frames((w) => {
          w.writePreface();
          w.writePing(new Uint8Array(8));
        }),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "SETTINGS ACK as the first frame (§2.2)",
    steps: [
      {
        send: frames((w) => {
          w.writePreface();
          w.writeSettingsAck();
        }),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "a second SETTINGS (§2.2)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeSettings({ maxFrameSize: 20_000 })),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "a SETTINGS ACK when none is outstanding (§2.2)",
    steps: [
      { send: hello() },
      {
        awaitSettings: true,
        send: frames((w) => {
          w.writeSettingsAck();
          w.writeSettingsAck();
        }),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "unknown frame type 0x42 (§3)",
    steps: [{ send: concatBytes(hello(), frameHeader(0, 0x42, 0, 0)) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "unknown frame type 9 on a stream (§3)",
    steps: [{ send: concatBytes(hello(), frameHeader(3, 9, 0, 1), new Uint8Array(3)) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "frame over MAX_FRAME_SIZE (§3)",
    steps: [{ send: concatBytes(hello(), frameHeader(0x00ff_ffff, FrameType.MESSAGE, 0, 1)) }],
    code: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    what: "length 0xffffffff (§3)",
    steps: [{ send: concatBytes(hello(), frameHeader(0xffff_ffff, FrameType.PING, 0, 0)) }],
    code: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    what: "PING with 4 bytes (§4)",
    steps: [{ send: concatBytes(hello(), frameHeader(4, FrameType.PING, 0, 0), new Uint8Array(4)) }],
    code: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    what: "WINDOW_UPDATE with 3 bytes (§4)",
    steps: [{ send: concatBytes(hello(), frameHeader(3, FrameType.WINDOW_UPDATE, 0, 0), new Uint8Array(3)) }],
    code: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    what: "HALF_CLOSE with a payload (§4.5)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeRequestHeaders(1, "proto", BIDI, undefined)),
          frameHeader(1, FrameType.HALF_CLOSE, 0, 1),
          new Uint8Array(1),
        ),
      },
    ],
    code: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    what: "SETTINGS ACK with a payload (§4.1)",
    steps: [{ send: concatBytes(hello(), frameHeader(2, FrameType.SETTINGS, 1, 0), new Uint8Array(2)) }],
    code: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    what: "MESSAGE on stream 0 (§3)",
    steps: [{ send: concatBytes(hello(), frameHeader(1, FrameType.MESSAGE, 0, 0), new Uint8Array(1)) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "SETTINGS on a stream (§3)",
    steps: [{ send: concatBytes(hello(), frameHeader(0, FrameType.SETTINGS, 0, 7)) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "SETTINGS with a truncated entry (§5)",
    steps: [
      {
        send: concatBytes(
          frames((w) => w.writePreface()),
          frameHeader(3, FrameType.SETTINGS, 0, 0),
          new Uint8Array([0, 1, 0]),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "SETTINGS window above 2^31-1 (§5)",
    steps: [
      {
        send: concatBytes(
          frames((w) => w.writePreface()),
          frameHeader(8, FrameType.SETTINGS, 0, 0),
          new Uint8Array([0, 2, 0, 4, 0x80, 0, 0, 0]),
        ),
      },
    ],
    code: ErrorCode.FLOW_CONTROL_ERROR,
  },
  {
    what: "HEADERS with a garbage payload (§4.2)",
    steps: [{ send: concatBytes(hello(), frameHeader(3, FrameType.HEADERS, 0, 1), new Uint8Array([0, 0xff, 0xff])) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "HEADERS with an uppercase metadata key (§6)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeRequestHeaders(1, "proto", ECHO, undefined, ["abc", "v"])).map((b, i, a) => (i === a.length - 6 ? 0x43 : b)),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "HEADERS reusing a stream id (§7.1)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => {
            w.writeRequestHeaders(1, "proto", SLEEP, undefined);
            w.writeRequestHeaders(1, "proto", SLEEP, undefined);
          }),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
    lastStreamId: 1,
  },
  {
    what: "TRAILERS from a client (§7.3)",
    steps: [{ send: concatBytes(hello(), frameHeader(0, FrameType.TRAILERS, 0, 1)) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "MESSAGE on an idle stream (§7.1)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeMessage(5, 0, new Uint8Array(1))),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "HALF_CLOSE on an idle stream (§7.1)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeHalfClose(5)),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "CANCEL on an idle stream (§7.4)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeCancel(5, 1)),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "WINDOW_UPDATE on an idle stream (§8)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeWindowUpdate(5, 100)),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "MESSAGE with END_STREAM and CONTINUED (§4.3)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => {
            w.writeRequestHeaders(1, "proto", BIDI, undefined);
            w.writeMessage(1, FrameFlag.END_STREAM | FrameFlag.CONTINUED, new Uint8Array(2));
          }),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
    lastStreamId: 1,
  },
  {
    // (COMPRESSED when the server advertised no compression: native-compression.test.ts.)
    what: "chunks of one message disagreeing on COMPRESSED (§4.3)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => {
            w.writeRequestHeaders(1, "proto", BIDI, undefined);
            w.writeMessage(1, FrameFlag.COMPRESSED | FrameFlag.CONTINUED, new Uint8Array(2));
            w.writeMessage(1, 0, new Uint8Array(2));
          }),
        ),
      },
    ],
    code: ErrorCode.PROTOCOL_ERROR,
    lastStreamId: 1,
  },
  {
    what: "CANCEL with status 17 (§4.6)",
    steps: [{ send: concatBytes(hello(), frameHeader(3, FrameType.CANCEL, 0, 1), new Uint8Array([17, 0, 0])) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "WINDOW_UPDATE increment 0 (§4.7)",
    steps: [{ send: concatBytes(hello(), frameHeader(4, FrameType.WINDOW_UPDATE, 0, 0), new Uint8Array(4)) }],
    code: ErrorCode.PROTOCOL_ERROR,
  },
  {
    what: "connection window overflow (§8)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => w.writeWindowUpdate(0, 0x7fff_ffff)),
        ),
      },
    ],
    code: ErrorCode.FLOW_CONTROL_ERROR,
  },
  {
    what: "stream window overflow (§8)",
    steps: [
      {
        send: concatBytes(
          hello(),
          frames((w) => {
            w.writeRequestHeaders(1, "proto", SLEEP, undefined);
            w.writeWindowUpdate(1, 0x7fff_ffff);
          }),
        ),
      },
    ],
    code: ErrorCode.FLOW_CONTROL_ERROR,
    lastStreamId: 1,
  },
];

// ---- the tests ----------------------------------------------------------------------------

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("petrel/1 live server under fuzzed input", () => {
  let server: NativeServer;
  let port: number;
  let transport: ReturnType<typeof createNativeTransport>;
  let client: ReturnType<typeof createClient<typeof TestService>>;
  let gc: () => void;

  before(async () => {
    process.on("uncaughtException", onEscaped);
    process.on("unhandledRejection", onEscaped);
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
    const router = createRouter().service(TestService, createTestServiceImpl());
    server = createNativeServer({ router });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
    transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    client = createClient(TestService, transport);
  });

  after(async () => {
    await transport?.close();
    await server?.close({ graceMs: 2000 });
    process.off("uncaughtException", onEscaped);
    process.off("unhandledRejection", onEscaped);
  });

  /** One echo on the healthy connection; resolves to an error description instead of throwing. */
  let healthySeq = 0;
  async function healthyEcho(): Promise<string | undefined> {
    const seq = ++healthySeq;
    const payload = new Uint8Array(32).fill(seq & 0xff);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const res = await Promise.race([
        client.echo({ text: `healthy ${seq}`, seq: BigInt(seq), payload }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer within 15 s")), 15_000);
        }),
      ]);
      if (res.text !== `healthy ${seq}` || res.seq !== BigInt(seq) || !Buffer.from(res.payload).equals(Buffer.from(payload))) {
        return `wrong answer to echo ${seq}: ${JSON.stringify({ text: res.text, seq: String(res.seq) })}`;
      }
      return undefined;
    } catch (e) {
      return `echo ${seq} failed: ${String(e)}`;
    } finally {
      clearTimeout(timer);
    }
  }

  describe("malformed input gets the GOAWAY the spec requires, then the connection closes", { concurrency: true }, () => {
    for (const c of MALFORMED) {
      it(c.what, c.todo === undefined ? {} : { todo: c.todo }, async () => {
        for (const byteByByte of [false, true]) {
          const what = byteByByte ? "byte by byte" : "in one write";
          const out = await exchange(port, c.steps, byteByByte, c.code !== ErrorCode.UNSUPPORTED_VERSION);
          assert.ok(out.closed, `${what}: the server did not close the connection`);
          if (c.code === undefined) {
            assert.equal(out.bytes, 0, `${what}: the server sent ${out.bytes} bytes`);
            continue;
          }
          assert.equal(out.malformed, undefined, `${what}: the server's bytes are not valid petrel/1: ${out.malformed}`);
          assert.equal(out.prefaceVersion, 1, `${what}: server preface version`);
          const types = out.frames.map((f) => frameTypeName(f.type) + (f.type === FrameType.SETTINGS && f.flags !== 0 ? "+ACK" : ""));
          const last = out.frames[out.frames.length - 1];
          assert.equal(last?.type, FrameType.GOAWAY, `${what}: the last frame is not a GOAWAY: ${types.join(",")}`);
          assert.equal(out.goaways.length, 1, `${what}: ${out.goaways.length} GOAWAY frames: ${types.join(",")}`);
          if (c.code === ErrorCode.UNSUPPORTED_VERSION) assert.deepEqual(types, ["GOAWAY"], `${what}: want preface + GOAWAY only`);
          const g = out.goaways[0] as GoAwayInfo;
          assert.equal(errorCodeName(g.errorCode), errorCodeName(c.code), `${what}: GOAWAY code (debug: ${g.debug})`);
          if (c.lastStreamId !== undefined) assert.equal(g.lastStreamId, c.lastStreamId, `${what}: GOAWAY lastStreamId`);
          assert.ok(g.debug.length > 0, `${what}: GOAWAY without debug text`);
        }
        assert.equal(escaped.length, 0, `escaped errors: ${escaped.map(String).join("; ")}`);
      });
    }
  });

  it("survives fuzzed connections and stays correct, responsive and flat in memory", { timeout: 240_000 }, async () => {
    await eventually(() => server.connections <= 1, 20_000, "earlier connections to close");
    assert.equal(await healthyEcho(), undefined);
    const stats = {
      connections: 0,
      strictValid: 0,
      framesSent: 0,
      bytesSent: 0,
      serverClosedFirst: 0,
      runs: 0,
      goaway: new Map<string, number>(),
    };
    const healthyErrors: string[] = [];

    const property = fc.asyncProperty(fc.array(connPlanArb, { minLength: 1, maxLength: MAX_PARALLEL }), async (plans) => {
      stats.runs++;
      const results = await Promise.all(plans.map((p) => runConnection(port, p, build(p))));
      for (const r of results) {
        stats.connections++;
        if (r.built.strictValid) stats.strictValid++;
        stats.framesSent += r.framesSent;
        stats.bytesSent += r.bytesSent;
        if (r.serverClosedFirst) stats.serverClosedFirst++;
        for (const g of r.output.goaways) {
          const name = errorCodeName(g.errorCode);
          stats.goaway.set(name, (stats.goaway.get(name) ?? 0) + 1);
        }
      }
      const problems = results.map(checkConnection).filter((p) => p !== undefined);
      assert.deepEqual(problems, [], "connections went wrong");
      assert.equal(escaped.length, 0, `escaped errors: ${escaped.map(String).join("; ")}`);
    });

    const runBatch = async (numRuns: number, seed: number) => {
      // fc.check rather than fc.assert: a counterexample holds ~300 frames, too long to print whole.
      const details = await fc.check(property, { numRuns, seed, endOnFailure: true });
      if (details.failed) {
        const plans = (details.counterexample?.[0] ?? []) as ConnPlan[];
        const summary = plans.map((p) => ({
          input:
            p.input.k === "random"
              ? `random ${p.input.bytes.length} bytes`
              : `${p.input.strict ? "strict " : ""}${p.input.ops.length} ops, mutations ${JSON.stringify(p.input.mutations)}`,
          chunking: p.chunking.k,
          close: p.close,
        }));
        const err = details.errorInstance;
        assert.fail(
          `fuzz property failed (fc seed ${seed}; PETREL_FUZZ_SEED=${SEED}): ${err instanceof Error ? err.message : String(err)}\nplans: ${JSON.stringify(summary)}`,
        );
      }
    };

    // Warm-up (fills code caches and pools), then the heap baseline.
    await runBatch(10, SEED - 1);
    await eventually(() => server.connections === 1, 20_000, "warm-up connections to close");
    const baseline = heapAfterGc(gc);

    // The healthy client keeps calling throughout.
    let fuzzing = true;
    let healthyCalls = 0;
    const healthyLoop = (async () => {
      while (fuzzing) {
        const err = await healthyEcho();
        healthyCalls++;
        if (err !== undefined) healthyErrors.push(err);
        await sleep(20);
      }
    })();

    const start = Date.now();
    let batch = 0;
    try {
      while (Date.now() - start < WALL_MS && stats.connections < MAX_CONNECTIONS) {
        await runBatch(5, SEED + batch++);
        const err = await healthyEcho();
        if (err !== undefined) healthyErrors.push(err);
      }
    } finally {
      fuzzing = false;
      await healthyLoop;
    }
    const fuzzMs = Date.now() - start;

    await eventually(
      () => server.connections === 1,
      20_000,
      `server connections to drop back to 1 (the healthy one), now ${server.connections}`,
    );
    for (let i = 0; i < 20; i++) {
      const err = await healthyEcho();
      if (err !== undefined) healthyErrors.push(err);
    }
    const end = heapAfterGc(gc);

    const report = {
      fuzzMs,
      connections: stats.connections,
      strictValid: stats.strictValid,
      framesSent: stats.framesSent,
      mibSent: +(stats.bytesSent / MIB).toFixed(1),
      serverClosedFirst: stats.serverClosedFirst,
      goaway: Object.fromEntries(stats.goaway),
      healthyCalls,
      heapBaselineMiB: +(baseline / MIB).toFixed(1),
      heapEndMiB: +(end / MIB).toFixed(1),
    };
    console.log(`# fuzz report: ${JSON.stringify(report)}`);

    assert.equal(escaped.length, 0, `escaped errors: ${escaped.map(String).join("; ")}`);
    assert.deepEqual(healthyErrors, [], "the healthy client saw errors");
    assert.ok(healthyCalls > 0, "the healthy client made no calls during the fuzzing");
    assert.ok(
      stats.framesSent >= MIN_FRAMES,
      `only ${stats.framesSent} frames sent in ${fuzzMs} ms (${stats.connections} connections); want >= ${MIN_FRAMES}`,
    );
    assert.ok(end - baseline < 50 * MIB, `heap grew by ${((end - baseline) / MIB).toFixed(1)} MiB`);
  });
});
