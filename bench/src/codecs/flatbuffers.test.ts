import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { equals } from "@bufbuild/protobuf";
import { Builder } from "flatbuffers";
import type { Order } from "../gen/codecs_pb.js";
import { loadCodecs } from "./codec-set.ts";
import { runCodecE2e } from "./e2e.ts";
import { type BenchMessages, fbDecode, fbEncode, fbView } from "./flatbuffers.ts";
import { makeOrder, messageCases } from "./messages.ts";
import { runCodecMicro } from "./run.ts";

/** `bytes` at an odd offset inside a larger buffer, as a payload sits inside a received frame. */
function misaligned(bytes: Uint8Array): Uint8Array {
  const frame = new Uint8Array(bytes.length + 3);
  frame.set(bytes, 1);
  return frame.subarray(1, 1 + bytes.length);
}

/** A proxy over `bytes` recording every index read (ByteBuffer reads bytes_[i] and subarray()). */
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
      const v = Reflect.get(t, k, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
  return { proxy, touched };
}

/** The view checksum computed from the plain message (fbView's documented reads). */
function expectedView(name: keyof BenchMessages, m: BenchMessages[keyof BenchMessages]): number {
  const nz = (v: bigint) => (v === 0n ? 0 : 1);
  const orderHead = (o: Order) =>
    o.id.length +
    nz(o.customerId) +
    o.status +
    (o.total ? o.total.currency.length + nz(o.total.units) + o.total.nanos : 0) +
    o.items.length;
  if (name === "small") {
    const s = m as BenchMessages["small"];
    return s.id + s.name.length + (s.active ? 1 : 0) + s.score + nz(s.createdAt);
  }
  if (name === "order") return orderHead(m as Order);
  const b = m as BenchMessages["batch"];
  let sum = b.source.length + nz(b.sequence);
  for (const o of b.orders) sum += o.id.length + o.status + nz(o.total?.units ?? 0n);
  return sum;
}

describe("FlatBuffers bench codec", () => {
  it("round-trips every bench message into a deep-equal plain message, also from a misaligned payload", () => {
    const builder = new Builder(64);
    for (const c of messageCases()) {
      const bytes = fbEncode(builder, c.name, c.message).slice();
      for (const input of [bytes, misaligned(bytes)]) {
        const back = fbDecode(c.name, input);
        assert.deepStrictEqual(back, c.message, `${c.name}: deep-equal`);
        assert.ok(equals(c.schema, c.message, back as never), `${c.name}: protobuf-es equals`);
      }
    }
  });

  it("encodes deterministically while reusing one builder across messages", () => {
    const builder = new Builder(64);
    const cases = messageCases();
    const first = cases.map((c) => fbEncode(builder, c.name, c.message).slice());
    const again = [...cases].reverse().map((c) => fbEncode(builder, c.name, c.message).slice());
    assert.deepEqual(again.reverse(), first);
    // A different order encodes differently (the bytes depend on the message).
    assert.notDeepEqual(fbEncode(builder, "order", makeOrder(1)).slice(), first[1]);
  });

  it("keeps empty strings, absent sub-messages and empty repeated fields as proto3 defaults", () => {
    const o = makeOrder(3);
    o.id = "";
    o.shipping = undefined;
    o.items = [];
    o.attributes = { "": "empty key" };
    o.couponCodes = [];
    o.signature = new Uint8Array(0);
    o.items = [{ ...makeOrder(3).items[0], tags: ["", "x"], unitPrice: undefined }];
    const back = fbDecode("order", fbEncode(new Builder(64), "order", o).slice());
    assert.deepStrictEqual(back, o);
  });

  it("view reads the documented fields straight from the buffer, without touching the rest", () => {
    const builder = new Builder(64);
    for (const c of messageCases()) {
      const bytes = fbEncode(builder, c.name, c.message).slice();
      assert.equal(fbView(c.name, bytes), expectedView(c.name, c.message), `${c.name}: checksum`);
    }
    // Order: the signature bytes and the item titles are never read.
    const order = makeOrder();
    const bytes = fbEncode(builder, "order", order).slice();
    const { proxy, touched } = traced(bytes);
    fbView("order", proxy);
    const sig = fbDecode("order", bytes).signature;
    const sigStart = sig.byteOffset - bytes.byteOffset;
    for (let i = sigStart; i < sigStart + sig.length; i++) assert.ok(!touched.has(i), `signature byte ${i} was read`);
    const title = new TextEncoder().encode(order.items[0].title);
    const at = Buffer.from(bytes).indexOf(title);
    assert.ok(at > 0);
    for (let i = at; i < at + title.length; i++) assert.ok(!touched.has(i), `item title byte ${i} was read`);
    assert.ok(touched.size < bytes.length / 4, `view read ${touched.size} of ${bytes.length} bytes`);
  });

  it("rejects a buffer too short to be a FlatBuffer with a clear error", () => {
    assert.throws(() => fbDecode("order", new Uint8Array(3)), /flatbuffers: 3 bytes are too short/);
    assert.throws(() => fbView("small", new Uint8Array(0)), /too short/);
  });

  it("bench rows: codec:flatbuffers encode/decode and codec:flatbuffers-view decode per message, JSON shape as issue 8 says", async () => {
    const { rows, skipped } = await runCodecMicro({ codecs: ["flatbuffers"], measureMs: 5, warmupMs: 1 });
    assert.equal(skipped.size, 0);
    const got = rows.map((r) => `${r.system} ${r.workload} ${r.message}`);
    assert.deepEqual(got, [
      "codec:flatbuffers encode small",
      "codec:flatbuffers decode small",
      "codec:flatbuffers encode order",
      "codec:flatbuffers decode order",
      "codec:flatbuffers encode batch",
      "codec:flatbuffers decode batch",
      "codec:flatbuffers-view decode small",
      "codec:flatbuffers-view decode order",
      "codec:flatbuffers-view decode batch",
    ]);
    for (const r of rows) {
      assert.deepEqual(Object.keys(r).sort(), ["bytes", "message", "rps", "system", "workload"], JSON.stringify(r));
      assert.ok(r.rps > 0 && r.bytes > 0, JSON.stringify(r));
    }
    const size = (system: string, message: string) => rows.find((r) => r.system === system && r.message === message)?.bytes;
    assert.equal(size("codec:flatbuffers-view", "order"), size("codec:flatbuffers", "order"));
  });

  it("end to end over petrel/1 through carrier methods: echoed messages come back equal", async () => {
    const { codecs } = await loadCodecs(["flatbuffers"]);
    const rows = await runCodecE2e(codecs, { measureMs: 50, warmupMs: 10, inflight: 4 });
    assert.deepEqual(
      rows.map((r) => [r.system, r.workload, r.message, r.error]),
      ["small", "order", "batch"].map((m) => ["codec:flatbuffers", "unary", m, undefined]),
    );
    for (const r of rows) assert.ok(r.rps > 0 && r.bytes > 0);
  });
});
