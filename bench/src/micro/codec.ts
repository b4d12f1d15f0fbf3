// Micro-benchmark (not a test): protobuf-es toBinary/fromBinary vs Petrel's protoFastCodec,
// ops/s and ratios in one run.
// `node --import tsx bench/src/micro/codec.ts [msPerRound] [rounds]`
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_descriptor } from "@bufbuild/protobuf/wkt";
import { protoFastCodec } from "../../../packages/core/src/codec-protobuf-fast.js";
import { file_petrel_testing_v1_test } from "../../../packages/testing/src/gen/petrel/testing/v1/test_pb.js";
import { EchoRequestSchema } from "../gen/echo_pb.js";

const msPerRound = Number(process.argv[2] ?? 400);
const rounds = Number(process.argv[3] ?? 5);

interface Case {
  name: string;
  schema: DescMessage;
  // biome-ignore lint/suspicious/noExplicitAny: any message of `schema`
  message: any;
}

const cases: Case[] = [
  {
    name: "EchoRequest",
    schema: EchoRequestSchema,
    message: create(EchoRequestSchema, {
      text: "petrel-bench-echo-message-012345",
      seq: 1048576n,
      payload: new Uint8Array(60).fill(0xab),
    }),
  },
  { name: "FileDescriptorProto(test.proto)", schema: FileDescriptorProtoSchema, message: file_petrel_testing_v1_test.proto },
  {
    name: "FileDescriptorProto(descriptor.proto)",
    schema: FileDescriptorProtoSchema,
    message: file_google_protobuf_descriptor.proto,
  },
];

let sink = 0;

/** Runs `fn` in batches for `ms` milliseconds; returns ops/s. */
function measure(fn: () => number, ms: number): number {
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  const end = t0 + ms;
  while (t < end) {
    for (let i = 0; i < 200; i++) sink ^= fn();
    ops += 200;
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`;
}

console.log(`node ${process.version}, ${msPerRound} ms x ${rounds} rounds (alternating), median ops/s`);
for (const c of cases) {
  const { schema, message } = c;
  const bytes = toBinary(schema, message);
  const fast = protoFastCodec.encode(schema, message);
  if (Buffer.compare(bytes, fast) !== 0) throw new Error(`${c.name}: encodings differ`);
  const variants: [string, () => number][] = [
    ["encode protobuf-es", () => toBinary(schema, message).length],
    ["encode fast", () => protoFastCodec.encode(schema, message).length],
    ["decode protobuf-es", () => (fromBinary(schema, bytes) === message ? 1 : 0)],
    ["decode fast", () => (protoFastCodec.decode(schema, bytes) === message ? 1 : 0)],
    ["round trip protobuf-es", () => toBinary(schema, fromBinary(schema, bytes)).length],
    ["round trip fast", () => protoFastCodec.encode(schema, protoFastCodec.decode(schema, bytes)).length],
  ];
  // warm up
  for (const [, fn] of variants) measure(fn, Math.min(300, msPerRound));
  const results = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [n, fn] of variants) results.get(n)?.push(measure(fn, msPerRound));
  }
  const med = (n: string) => median(results.get(n) ?? [0]);
  console.log(`\n${c.name} (${bytes.length} bytes)`);
  for (const op of ["encode", "decode", "round trip"]) {
    const base = med(`${op} protobuf-es`);
    const mine = med(`${op} fast`);
    console.log(
      `  ${op.padEnd(10)}  protobuf-es ${fmt(base).padStart(8)}/s   fast ${fmt(mine).padStart(8)}/s   ratio ${(mine / base).toFixed(2)}x`,
    );
  }
}
if (sink === 0.5) console.log(sink);
