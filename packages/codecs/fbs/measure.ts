// Micro-measure: FlatBuffers decode + header-field read vs protobuf decode of the same order,
// as the payload grows. Not a test (no thresholds); run:
//   node --import tsx packages/codecs/fbs/measure.ts
import { fromBinary, toBinary, create, type DescMessage } from "@bufbuild/protobuf";
import { BytesValueSchema } from "@bufbuild/protobuf/wkt";
import { protoFastCodec } from "@petrel/core";
import { Order } from "./gen/order_generated.js";
import { fbView, flatbuffersCodec } from "../src/flatbuffers-codec.js";
import { buildFbOrder, PbOrderSchema, pbOrderInit, type OrderShape } from "../src/flatbuffers-test-fixture.js";

let sink = 0;

/** Median ns per op over a few rounds of `n` ops. */
function measure(fn: () => void, minMs = 200): number {
  const rounds: number[] = [];
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > minMs / 5) break;
    n *= 2;
  }
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / n);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

const shapes: Array<[string, OrderShape]> = [
  ["1 KB", { payloadBytes: 512, samples: 32 }],
  ["100 KB", { payloadBytes: 64 << 10, samples: 4 << 10 }],
  ["1 MB", { payloadBytes: 640 << 10, samples: 48 << 10 }],
  ["10 MB", { payloadBytes: 6400 << 10, samples: 480 << 10 }],
];
const fmt = (ns: number) => (ns < 1e3 ? `${ns.toFixed(0)} ns` : ns < 1e6 ? `${(ns / 1e3).toFixed(1)} us` : `${(ns / 1e6).toFixed(2)} ms`);
console.log("| order | fb bytes | pb bytes | flatbuffers decode+id+customer | petrel proto decode+read | protobuf-es fromBinary+read |");
console.log("|---|---|---|---|---|---|");
for (const [label, shape] of shapes) {
  const fb = buildFbOrder(shape);
  const pb = toBinary(PbOrderSchema, create(PbOrderSchema as DescMessage, pbOrderInit(shape) as never));
  const tFb = measure(() => {
    const v = fbView(flatbuffersCodec.decode(BytesValueSchema, fb), Order);
    sink += Number(v.id() & 1n) + (v.customer()?.length ?? 0);
  });
  const tPetrel = measure(() => {
    const m = protoFastCodec.decode(PbOrderSchema, pb) as unknown as { id: bigint; customer: string };
    sink += Number(m.id & 1n) + m.customer.length;
  });
  const tEs = measure(() => {
    const m = fromBinary(PbOrderSchema, pb) as unknown as { id: bigint; customer: string };
    sink += Number(m.id & 1n) + m.customer.length;
  });
  console.log(`| ${label} | ${fb.length} | ${pb.length} | ${fmt(tFb)} | ${fmt(tPetrel)} | ${fmt(tEs)} |`);
}
if (sink === -1) console.log(sink);
