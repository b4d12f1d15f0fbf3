import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { DescMessage } from "@bufbuild/protobuf";
import { BytesValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, type CallOptions, type Codec, RpcError, createClient, createDefaultCodecRegistry, createRouter } from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { Builder } from "flatbuffers";
import { Order, Status } from "../fbs/gen/order_generated.js";
import { checkRoot, fbAligned, fbMessage, fbView, flatbuffersCodec } from "./flatbuffers-codec.js";
import {
  buildFbOrder,
  FbOrderService,
  NotCarrierSchema,
  OrderFbSchema,
  orderData,
  SAMPLE_CUSTOMER,
  SAMPLE_ID,
  SAMPLE_TOTAL,
} from "./flatbuffers-test-fixture.js";

/** `bytes` copied to offset `at` of a larger ArrayBuffer, as a payload sits inside a received frame. */
function inFrame(bytes: Uint8Array, at: number): Uint8Array {
  const frame = new Uint8Array(at + bytes.length + 16);
  frame.set(bytes, at);
  return frame.subarray(at, at + bytes.length);
}

/** A proxy over `bytes` that records every index read and every subarray taken. */
function traced(bytes: Uint8Array): { proxy: Uint8Array; touched: Set<number> } {
  const touched = new Set<number>();
  const proxy = new Proxy(bytes, {
    get(t, k) {
      if (typeof k === "string" && /^\d+$/.test(k)) {
        touched.add(Number(k));
        return t[Number(k)];
      }
      if (k === "subarray") {
        return (s: number, e: number) => {
          for (let i = s; i < e; i++) touched.add(i);
          return t.subarray(s, e);
        };
      }
      // Typed-array getters need the real array as receiver.
      const v = Reflect.get(t, k, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
  return { proxy, touched };
}

/** Byte ranges [start, end) of the two large vectors inside `bytes`. */
function vectorRanges(bytes: Uint8Array): Array<[number, number]> {
  const v = fbView(bytes, Order);
  const bb = v.bb!;
  const samples = bb.__vector(v.bb_pos + bb.__offset(v.bb_pos, 16));
  const payload = v.payloadArray()!;
  return [
    [payload.byteOffset - bytes.byteOffset, payload.byteOffset - bytes.byteOffset + payload.length],
    [samples, samples + 8 * v.samplesLength()],
  ];
}

describe("flatbuffers codec", () => {
  it("encodes a carrier as its bytes and decodes into a carrier over the same bytes (no copy)", () => {
    const fb = buildFbOrder({ payloadBytes: 100, samples: 10 });
    for (const schema of [BytesValueSchema as DescMessage, OrderFbSchema]) {
      const msg = fbMessage(fb, schema);
      const wire = flatbuffersCodec.encode(schema, msg);
      assert.equal(wire, fb, "encode returns the builder's bytes themselves");
      const back = flatbuffersCodec.decode(schema, wire) as unknown as Record<string, unknown>;
      assert.equal(back.$typeName, schema.typeName);
      assert.equal(
        Object.values(back).find((v) => v instanceof Uint8Array),
        wire,
        "decode keeps the received Uint8Array",
      );
      const view = fbView(back, Order);
      assert.equal(view.id(), SAMPLE_ID);
      assert.equal(view.customer(), SAMPLE_CUSTOMER);
      assert.equal(view.status(), Status.Open);
      assert.equal(view.total(), SAMPLE_TOTAL);
      assert.equal(view.itemsLength(), 3);
      assert.equal(view.items(2)!.sku(), "sku-2");
      assert.deepEqual(view.payloadArray(), orderData({ payloadBytes: 100, samples: 0 }).payload);
      assert.equal(view.samples(9), 4.5);
    }
  });

  it("refuses messages that are not carriers, with the type name", () => {
    assert.throws(
      () => flatbuffersCodec.encode(NotCarrierSchema, { a: new Uint8Array(12), b: 1 } as never),
      /petrel\.fb\.v1\.NotCarrier is not a FlatBuffers carrier/,
    );
    assert.throws(
      () => flatbuffersCodec.decode(NotCarrierSchema, buildFbOrder({ payloadBytes: 1, samples: 1 })),
      /not a FlatBuffers carrier/,
    );
    assert.throws(() => flatbuffersCodec.encode(BytesValueSchema, { value: "x" } as never), /must be a Uint8Array/);
  });

  it("rejects bytes that are not a FlatBuffer with a clear error, and never crashes on random input", () => {
    assert.throws(() => flatbuffersCodec.decode(BytesValueSchema, new Uint8Array([1, 2, 3])), /too short/);
    assert.throws(() => flatbuffersCodec.decode(BytesValueSchema, new Uint8Array(16).fill(0xff)), /outside the 16-byte buffer/);
    assert.throws(
      () => fbView(new Uint8Array(0), Order),
      (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT && /empty/.test(e.message),
    );
    // A valid FlatBuffer with another file identifier.
    const b = new Builder(64);
    Order.startOrder(b);
    Order.addId(b, 1n);
    b.finish(Order.endOrder(b), "XXXX");
    assert.throws(
      () => fbView(b.asUint8Array(), Order),
      (e: unknown) => e instanceof RpcError && /file identifier "XXXX"/.test(e.message),
    );
    // Truncations of a real order and random bytes: either a clear Error or a carrier, never anything else.
    const good = buildFbOrder({ payloadBytes: 64, samples: 4 });
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = i < good.length ? good.subarray(0, i) : Uint8Array.from({ length: rnd() % 64 }, () => rnd() & 0xff);
      try {
        checkRoot(bytes);
        const v = fbView(bytes.length === 0 ? good : bytes, Order);
        v.id();
        v.status();
      } catch (e) {
        assert.ok(e instanceof Error, "only Errors are thrown");
        assert.match(e.message, /FlatBuffer|flatbuffers/);
      }
    }
  });

  it("zero-copy: reading a header field of a large order touches a fixed set of bytes, none of the vectors", (t) => {
    const counts: number[] = [];
    for (const [payloadBytes, samples] of [
      [1024, 128],
      [1 << 20, 1 << 14],
      [10 << 20, 1 << 17],
    ]) {
      // Odd offset inside a bigger buffer: where a payload may sit in a received frame.
      const received = inFrame(buildFbOrder({ payloadBytes, samples }), 13);
      const ranges = vectorRanges(received);
      const { proxy, touched } = traced(received);
      const carrier = flatbuffersCodec.decode(BytesValueSchema, proxy);
      const view = fbView(carrier, Order);
      assert.equal(view.id(), SAMPLE_ID);
      assert.equal(view.customer(), SAMPLE_CUSTOMER);
      // The view reads the received buffer itself: same ArrayBuffer, same offset, same length.
      const viewed = view.bb!.bytes();
      assert.equal(viewed, proxy);
      assert.equal(viewed.buffer, received.buffer);
      assert.equal(viewed.byteOffset, received.byteOffset);
      assert.equal(viewed.length, received.length);
      for (const i of touched) {
        for (const [s, e] of ranges) assert.ok(i < s || i >= e, `byte ${i} inside a vector [${s}, ${e}) was read`);
      }
      counts.push(touched.size);
      t.diagnostic(`${received.length} bytes: decode + id() + customer() read ${touched.size} bytes`);
    }
    assert.equal(new Set(counts).size, 1, `bytes read must not depend on the message size: ${counts.join(", ")}`);
  });

  it("fbAligned copies only a misaligned buffer", () => {
    const fb = buildFbOrder({ payloadBytes: 8, samples: 4 });
    const aligned = inFrame(fb, 16);
    assert.equal(fbAligned(aligned), aligned);
    const odd = inFrame(fb, 3);
    assert.throws(() => fbView(odd, Order).samplesArray(), RangeError, "typed-array accessors need alignment");
    assert.equal(fbView(odd, Order).samples(3), 1.5, "element accessors do not");
    const copy = fbAligned(odd);
    assert.notEqual(copy.buffer, odd.buffer);
    assert.deepEqual(Array.from(fbView(copy, Order).samplesArray()!), [0, 0.5, 1, 1.5]);
  });
});

describe("flatbuffers over petrel/1", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  const LIMIT = 32 << 20;

  async function start(received: Uint8Array[], seen: Array<{ sameBytes: boolean; byteOffset: number; payloadLast: number }>) {
    // The server's flatbuffers codec, recording the bytes each decode receives.
    const recording: Codec = {
      name: "flatbuffers",
      encode: (s, m) => flatbuffersCodec.encode(s, m),
      decode: (s, b) => {
        received.push(b);
        return flatbuffersCodec.decode(s, b);
      },
    };
    const codecs = createDefaultCodecRegistry();
    codecs.register(recording);
    const summarize = (req: object) => {
      const order = fbView(req, Order);
      const n = order.payloadLength();
      seen.push({
        sameBytes: order.bb!.bytes() === received[received.length - 1],
        byteOffset: order.bb!.bytes().byteOffset,
        payloadLast: n === 0 ? -1 : (order.payload(n - 1) as number),
      });
      const b = new Builder(256);
      const customer = b.createString(`${order.customer()} (summary)`);
      Order.startOrder(b);
      Order.addId(b, order.id());
      Order.addCustomer(b, customer);
      Order.addStatus(b, Status.Closed);
      Order.addTotal(b, n + order.samplesLength());
      Order.finishOrderBuffer(b, Order.endOrder(b));
      return b;
    };
    const router = createRouter({ codecs }).service(FbOrderService, {
      summarize: (req: object) => fbMessage(summarize(req)),
      summarizeNamed: (req: object) => fbMessage(summarize(req), OrderFbSchema),
      wrong: () => fbMessage(new Uint8Array(0)),
    } as never);
    const srv = createNativeServer({ router, settings: { maxMessageSize: LIMIT } });
    const { port } = await srv.listen({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => srv.close({ graceMs: 1000 }));
    const clientCodecs = createDefaultCodecRegistry();
    clientCodecs.register(flatbuffersCodec);
    const transport = createNativeTransport({
      address: `127.0.0.1:${port}`,
      codecs: clientCodecs,
      defaultCodec: "flatbuffers",
      maxSendMessageSize: LIMIT,
    });
    cleanups.push(() => transport.close());
    // The descriptor is built at runtime, so the client is untyped here.
    const client = createClient(FbOrderService, transport) as unknown as Record<
      "summarize" | "summarizeNamed" | "wrong",
      (req: unknown, opts?: CallOptions) => Promise<object>
    >;
    // A first small call: afterwards the server's SETTINGS (its larger maxMessageSize) have arrived.
    await client.summarize(fbMessage(buildFbOrder({ payloadBytes: 1, samples: 1 })));
    received.length = 0;
    seen.length = 0;
    return client;
  }

  it("the handler reads fields straight from the received buffer of a 10 MB order", async (t) => {
    const received: Uint8Array[] = [];
    const seen: Array<{ sameBytes: boolean; byteOffset: number; payloadLast: number }> = [];
    const client = await start(received, seen);
    const shape = { payloadBytes: 8 << 20, samples: 1 << 18 };
    const fb = buildFbOrder(shape);
    assert.ok(fb.length > 10 << 20);
    const res = await client.summarize(fbMessage(fb), { timeoutMs: 60_000 });
    const summary = fbView(res, Order);
    assert.equal(summary.id(), SAMPLE_ID);
    assert.equal(summary.customer(), `${SAMPLE_CUSTOMER} (summary)`);
    assert.equal(summary.status(), Status.Closed);
    assert.equal(summary.total(), shape.payloadBytes + shape.samples);
    assert.equal(summary.payloadLength(), 0);
    assert.equal(received.length, 1);
    assert.equal(received[0].length, fb.length);
    assert.deepEqual(seen, [
      {
        sameBytes: true,
        byteOffset: received[0].byteOffset,
        payloadLast: orderData({ payloadBytes: shape.payloadBytes, samples: 0 }).payload[shape.payloadBytes - 1],
      },
    ]);
    t.diagnostic(
      `request payload byteOffset in its ArrayBuffer on the server: ${received[0].byteOffset} (mod 8 = ${received[0].byteOffset % 8})`,
    );

    // A named carrier works the same; so does the `proto` codec (the bytes wrapped in BytesValue).
    const named = await client.summarizeNamed(fbMessage(buildFbOrder({ payloadBytes: 10, samples: 2 }), OrderFbSchema));
    assert.equal(fbView(named, Order).total(), 12);
    const viaProto = await client.summarize(fbMessage(buildFbOrder({ payloadBytes: 5, samples: 1 })), { codec: "proto" });
    assert.equal(fbView(viaProto, Order).total(), 6);
  });

  it("bad input fails the call with INVALID_ARGUMENT and a clear message", async () => {
    const client = await start([], []);
    await assert.rejects(client.summarize(fbMessage(new TextEncoder().encode("definitely not a flatbuffer"))), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, Code.INVALID_ARGUMENT);
      assert.match(e.message, /google\.protobuf\.BytesValue: flatbuffers: root table offset/);
      return true;
    });
    await assert.rejects(client.wrong({ a: new Uint8Array(12) }), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.match(e.message, /NotCarrier is not a FlatBuffers carrier/);
      return true;
    });
  });
});
