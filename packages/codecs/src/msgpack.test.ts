// msgpack codec: round-trip property tests over the @petrel/testing messages and the core
// fixture schemas (every field kind, proto2, editions, well-known types), the wire shape, clear
// errors on bad input, and interop with Python's msgpack (Debian python3-msgpack) both ways.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { create, type DescMessage, toBinary, toJson } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema, SleepRequestSchema, SleepResponseSchema, StreamRequestSchema } from "@petrel/testing";
import fc from "fast-check";
import { Packr, Unpackr } from "msgpackr";
// The core codec's fixtures: schemas covering every field kind plus arbitraries for any message.
import { arbMessage, EdSchema, KitchenSchema, P2Schema } from "../../core/src/codec-protobuf-fast.fixtures.js";
import { createMsgpackCodec, msgpackCodec } from "./msgpack.js";

const recordsCodec = createMsgpackCodec({ records: true });

/**
 * A deep copy with the codec's documented losses applied: -0 reads as 0, and a
 * google.protobuf.Value holding an out-of-range NullValue number reads as NULL_VALUE (MessagePack nil).
 * Prototypes (proto2 defaults) are kept.
 */
function normalized(v: unknown): unknown {
  if (Object.is(v, -0)) return 0;
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(normalized);
  const o = v as Record<string, unknown>;
  const out = Object.create(Object.getPrototypeOf(v));
  for (const k of Object.keys(o))
    Object.defineProperty(out, k, { value: normalized(o[k]), enumerable: true, writable: true, configurable: true });
  if (o.$typeName === "google.protobuf.Value" && (o.kind as { case?: string }).case === "nullValue")
    out.kind = { case: "nullValue", value: 0 };
  return out;
}

/** Same message? The decoded message must encode to the very same protobuf bytes as the original after {@link normalized}. */
function assertSame(schema: DescMessage, actual: unknown, original: unknown): void {
  const expected = normalized(original);
  assert.equal(
    Buffer.from(toBinary(schema, actual as never)).toString("hex"),
    Buffer.from(toBinary(schema, expected as never)).toString("hex"),
  );
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Does any object key in the tree hold a lone surrogate? */
function loneSurrogateKey(v: unknown): boolean {
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return false;
  for (const k of Object.keys(v)) if (LONE_SURROGATE.test(k) || loneSurrogateKey((v as Record<string, unknown>)[k])) return true;
  return false;
}

/**
 * Has the message an exact round trip through any UTF-8 format? Not when protobuf-es itself
 * refuses it, nor when two map keys with lone surrogates would both become the same U+FFFD key
 * (the U+FFFD replacement itself is tested apart below).
 */
function roundTrippable(schema: DescMessage, msg: unknown): boolean {
  try {
    toBinary(schema, msg as never);
  } catch {
    return false;
  }
  return !loneSurrogateKey(msg);
}

describe("msgpack codec round trip (property)", () => {
  const schemas: DescMessage[] = [
    EchoRequestSchema,
    EchoResponseSchema,
    SleepRequestSchema,
    SleepResponseSchema,
    StreamRequestSchema,
    KitchenSchema,
    P2Schema,
    EdSchema,
  ];
  for (const codec of [msgpackCodec, recordsCodec]) {
    for (const schema of schemas) {
      it(`${codec.name}: ${schema.typeName}`, () => {
        fc.assert(
          fc.property(arbMessage(schema), (msg) => {
            fc.pre(roundTrippable(schema, msg));
            let bytes: Uint8Array;
            try {
              bytes = codec.encode(schema, msg as never);
            } catch (err) {
              // Only google.protobuf.Value can refuse (NaN/Infinity have no JSON form), and protobuf JSON refuses it too.
              assert.throws(() => toJson(schema, msg as never));
              assert.match((err as Error).message, /NaN|Infinity|Value|JSON/i);
              return;
            }
            assertSame(schema, codec.decode(schema, bytes), msg);
          }),
          { numRuns: schema.fields.length > 10 ? 300 : 500, includeErrorInReport: true },
        );
      });
    }
  }
});

describe("msgpack wire shape", () => {
  const unpackr = new Unpackr({ mapsAsObjects: true, int64AsType: "bigint", useRecords: false });
  it("uses protobuf JSON names, native int64 and bin, and leaves out defaults", () => {
    const msg = create(EchoRequestSchema, { text: "hi", failCode: 0, payload: new Uint8Array([1, 2, 3]), seq: 2n ** 60n });
    const plain = unpackr.unpack(msgpackCodec.encode(EchoRequestSchema, msg));
    assert.deepEqual(Object.keys(plain), ["text", "payload", "seq"]);
    assert.equal(plain.seq, 2n ** 60n);
    assert.ok(plain.payload instanceof Uint8Array);
    assert.deepEqual([...plain.payload], [1, 2, 3]);
    // A small int64 is a small MessagePack integer, not 9 bytes.
    const small = msgpackCodec.encode(EchoRequestSchema, create(EchoRequestSchema, { seq: 5n }));
    assert.deepEqual([...small], [0x81, 0xa3, 0x73, 0x65, 0x71, 0x05]);
  });
  it("writes a lone surrogate as U+FFFD (UTF-8 has no other way), like the json codec", () => {
    const msg = create(EchoRequestSchema, { text: "a\uD800b" });
    assert.equal(msgpackCodec.decode(EchoRequestSchema, msgpackCodec.encode(EchoRequestSchema, msg)).text, "a\uFFFDb");
  });
  it("decodes proto names, string integers, ignores unknown keys and nil", () => {
    const bytes = new Packr({ useRecords: false }).pack({ fail_code: 7, seq: "-9007199254740993", extra: [1], text: null });
    const msg = msgpackCodec.decode(EchoRequestSchema, bytes);
    assert.equal(msg.failCode, 7);
    assert.equal(msg.seq, -9007199254740993n);
    assert.equal(msg.text, "");
  });
  it("records: smaller for a batch of same-shaped messages, same message back", () => {
    const children = Array.from({ length: 200 }, (_, i) =>
      create(KitchenSchema, {
        fString: `item-${i}`,
        fInt32: i + 1,
        fInt64: BigInt(i) * 1000n + 1n,
        fDouble: i + 0.5,
        fBool: true,
      } as never),
    );
    const batch = create(KitchenSchema, { children } as never);
    const plain = msgpackCodec.encode(KitchenSchema, batch);
    const rec = recordsCodec.encode(KitchenSchema, batch);
    assert.ok(rec.length < plain.length * 0.7, `records ${rec.length} vs plain ${plain.length}`);
    assertSame(KitchenSchema, recordsCodec.decode(KitchenSchema, rec), batch);
  });
});

describe("msgpack bad input", () => {
  const packr = new Packr({ useRecords: false });
  const cases: [string, unknown, RegExp][] = [
    ["not a map", [1, 2], /petrel\.testing\.v1\.EchoRequest: expected a map .* got array/],
    ["wrong scalar type", { text: 5 }, /EchoRequest\.text: expected string, got number 5/],
    ["int32 out of range", { failCode: 2 ** 40 }, /fail_code: expected int32/],
    ["int64 out of range", { seq: 2n ** 63n }, /seq: expected int64/],
    ["bytes as string", { payload: "AQI=" }, /payload: expected bytes, got string/],
  ];
  for (const [name, value, re] of cases) {
    it(name, () => assert.throws(() => msgpackCodec.decode(EchoRequestSchema, packr.pack(value)), re));
  }
  it("truncated bytes", () => {
    const good = msgpackCodec.encode(EchoRequestSchema, create(EchoRequestSchema, { text: "hello world" }));
    assert.throws(
      () => msgpackCodec.decode(EchoRequestSchema, good.subarray(0, good.length - 3)),
      /msgpack: malformed input for petrel\.testing\.v1\.EchoRequest/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Python interop

const PYTHON = "/usr/bin/python3";
function pythonMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  try {
    execFileSync(PYTHON, ["-c", "import msgpack"], { stdio: "ignore", timeout: 30_000 });
    return undefined;
  } catch {
    return "Debian python3-msgpack is not installed";
  }
}
const missing = pythonMissing();
if (missing && !process.env.CI) console.warn(`\n*** SKIPPING msgpack Python interop: ${missing} ***\n`);

function python(script: string, input: Uint8Array): Buffer {
  return execFileSync(PYTHON, ["-c", script], { input, timeout: 30_000 });
}

describe("msgpack interop with Python msgpack", { skip: !process.env.CI && missing }, () => {
  it("CI has the peer", () => assert.equal(missing, undefined));
  it("Python writes, Petrel reads", () => {
    const out = python(
      `import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({"text": "héllo 😀", "failCode": -3, "payload": bytes([0, 255, 7]), "seq": -(2**63), "fromTheFuture": {"x": 1}}, use_bin_type=True))`,
      new Uint8Array(),
    );
    const msg = msgpackCodec.decode(EchoRequestSchema, out);
    assert.equal(msg.text, "héllo 😀");
    assert.equal(msg.failCode, -3);
    assert.deepEqual([...msg.payload], [0, 255, 7]);
    assert.equal(msg.seq, -(2n ** 63n));
  });
  it("Petrel writes, Python reads and echoes back (random messages)", () => {
    const msgs = fc.sample(arbMessage(EchoResponseSchema), { numRuns: 50, seed: 8 });
    const batch = new Packr({ useRecords: false }).pack(msgs.map((m) => msgpackCodec.encode(EchoResponseSchema, m as never)));
    // Python decodes each message strictly (raw=False: str must be UTF-8), checks the types,
    // re-encodes it with its own encoder; Petrel must read every one back unchanged.
    const out = python(
      `import msgpack, sys
items = msgpack.unpackb(sys.stdin.buffer.read(), raw=False)
res = []
for b in items:
    m = msgpack.unpackb(b, raw=False)
    assert isinstance(m, dict), m
    for k, v in m.items():
        t = {"text": str, "count": int, "payload": bytes, "seq": int, "deadlineMs": int}[k]
        assert isinstance(v, t), (k, v)
    res.append(msgpack.packb(m, use_bin_type=True))
sys.stdout.buffer.write(msgpack.packb(res, use_bin_type=True))`,
      batch,
    );
    const back = new Unpackr({ useRecords: false }).unpack(out) as Uint8Array[];
    assert.equal(back.length, msgs.length);
    for (let i = 0; i < msgs.length; i++) assertSame(EchoResponseSchema, msgpackCodec.decode(EchoResponseSchema, back[i]), msgs[i]);
  });
});
