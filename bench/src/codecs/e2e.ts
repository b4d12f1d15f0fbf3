// End-to-end unary calls per codec over petrel/1: one echo server and one client connection in
// this process (the codec runs on both sides of each call: client encode, server decode + encode,
// client decode), a closed loop with a fixed number of calls in flight, bounded in time.
import { create, createFileRegistry, type DescService, equals } from "@bufbuild/protobuf";
import { type BytesValue, BytesValueSchema, FileDescriptorProtoSchema, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
import { type Codec, createCodecRegistry, createClient, createRouter } from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { CodecBenchService } from "../gen/codecs_pb.js";
import type { BenchCodec, CarrierE2e } from "./codec-set.ts";
import { type MessageCase, messageCases } from "./messages.ts";
import type { CodecRow } from "./run.ts";

/**
 * `petrel.bench.codecs.v1.CodecBenchCarrierService`: the three echo methods with
 * google.protobuf.BytesValue in and out, for codecs that run through carriers (FlatBuffers).
 * Built from a FileDescriptorProto at load time: bench/proto stays one plain protobuf file.
 */
const CarrierService = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "petrel/bench/codecs/v1/carrier.proto",
    package: "petrel.bench.codecs.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "CodecBenchCarrierService",
        method: ["EchoSmall", "EchoOrder", "EchoBatch"].map((name) => ({
          name,
          inputType: ".google.protobuf.BytesValue",
          outputType: ".google.protobuf.BytesValue",
        })),
      },
    ],
  }),
  (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined),
).getService("petrel.bench.codecs.v1.CodecBenchCarrierService") as DescService;

export interface E2eOptions {
  measureMs: number;
  warmupMs: number;
  /** Calls in flight on the one connection. Default 32. */
  inflight?: number;
  log?: (line: string) => void;
}

/**
 * Unary rows for every codec that is a Petrel Codec (protobufjs static code is not one: skipped)
 * or runs through carrier methods. A carrier call (FlatBuffers): the client builds the payload
 * from the plain message, the server opens it and reads what a handler reads, then echoes the
 * received bytes unchanged; the client materialises the reply into a plain message.
 */
export async function runCodecE2e(codecs: BenchCodec[], opts: E2eOptions): Promise<CodecRow[]> {
  const log = opts.log ?? (() => {});
  const inflight = opts.inflight ?? 32;
  const wired = codecs.filter((c) => c.wire !== undefined);
  // One carrier service: its handlers serve one carrier codec (only FlatBuffers is one today).
  const carried = codecs.filter((c) => c.wire === undefined && c.carrier !== undefined).slice(0, 1);
  for (const c of codecs)
    if (!wired.includes(c) && !carried.includes(c))
      log(`  codec:${c.name} unary skipped: not a Petrel Codec (its messages are not protobuf-es messages)`);
  if (wired.length + carried.length === 0) return [];
  const cases = messageCases();
  // Distinct wire names: protobuf-es and Petrel's codec are both "proto" on the wire otherwise.
  const registry = createCodecRegistry([
    ...wired.map((c) => ({ ...(c.wire as Codec), name: wireName(c) })),
    ...carried.map((c) => (c.carrier as CarrierE2e).codec),
  ]);
  const carrier = carried[0]?.carrier;
  const caseOf = (typeName: string) => cases.find((m) => m.typeName === typeName) as MessageCase;
  const echoCarrier = (typeName: string) => (req: BytesValue) => {
    (carrier as CarrierE2e).handle(caseOf(typeName), req.value);
    return req;
  };
  const router = createRouter({ codecs: registry })
    .service(CodecBenchService, {
      echoSmall: (req) => req,
      echoOrder: (req) => req,
      echoBatch: (req) => req,
    })
    .service(CarrierService, {
      echoSmall: echoCarrier("Small"),
      echoOrder: echoCarrier("Order"),
      echoBatch: echoCarrier("Batch"),
    } as never);
  const server = createNativeServer({ router });
  const addr = await server.listen({ port: 0, host: "127.0.0.1" });
  const transport = createNativeTransport({ address: `127.0.0.1:${addr.port}`, poolSize: 1, codecs: registry });
  const client = createClient(CodecBenchService, transport);
  const carrierClient = createClient(CarrierService, transport);
  const rows: CodecRow[] = [];
  try {
    for (const c of carried) {
      const cc = c.carrier as CarrierE2e;
      for (const m of cases) {
        const system = `codec:${c.name}`;
        // biome-ignore lint/suspicious/noExplicitAny: one of the three echo methods
        const call = (carrierClient as any)[`echo${m.typeName}`] as (msg: BytesValue, o: object) => Promise<BytesValue>;
        const options = { codec: cc.codec.name, timeoutMs: 60_000 };
        const one = () => call(create(BytesValueSchema, { value: cc.encode(m) }), options).then((res) => cc.decode(m, res.value));
        const bytes = cc.encode(m).length;
        try {
          if (!equals(m.schema, m.message, (await one()) as never)) throw new Error("the echoed message differs from the original");
          await closedLoop(one, inflight, opts.warmupMs);
          const rps = await closedLoop(one, inflight, opts.measureMs);
          rows.push({ system, workload: "unary", message: m.name, inflight, rps, bytes });
          log(`  ${system} unary ${m.name} x${inflight} (carrier): ${Math.round(rps)} calls/s`);
        } catch (err) {
          const error = (err as Error).message.split("\n")[0];
          rows.push({ system, workload: "unary", message: m.name, inflight, rps: 0, bytes, error });
          log(`  ${system} unary ${m.name}: ERROR ${error}`);
        }
      }
    }
    for (const c of wired) {
      for (const m of cases) {
        const system = `codec:${c.name}`;
        // biome-ignore lint/suspicious/noExplicitAny: one of the three echo methods
        const call = (client as any)[`echo${m.typeName}`] as (msg: unknown, o: object) => Promise<unknown>;
        const options = { codec: wireName(c), timeoutMs: 60_000 };
        const bytes = (c.wire as NonNullable<BenchCodec["wire"]>).encode(m.schema, m.message).length;
        try {
          await closedLoop(() => call(m.message, options), inflight, opts.warmupMs);
          const rps = await closedLoop(() => call(m.message, options), inflight, opts.measureMs);
          rows.push({ system, workload: "unary", message: m.name, inflight, rps, bytes });
          log(`  ${system} unary ${m.name} x${inflight}: ${Math.round(rps)} calls/s`);
        } catch (err) {
          const error = (err as Error).message.split("\n")[0];
          rows.push({ system, workload: "unary", message: m.name, inflight, rps: 0, bytes, error });
          log(`  ${system} unary ${m.name}: ERROR ${error}`);
        }
      }
    }
  } finally {
    await transport.close();
    await server.close({ graceMs: 1000 });
  }
  return rows;
}

function wireName(c: BenchCodec): string {
  return c.name === "petrel-protobuf" ? "proto" : c.name;
}

/** Keeps `inflight` calls running for `ms`; resolves with completed calls per second. Rejects on the first failure. */
function closedLoop(call: () => Promise<unknown>, inflight: number, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const end = t0 + ms;
    let done = 0;
    let running = 0;
    let failed = false;
    const onDone = (): void => {
      running--;
      done++;
      if (failed) return;
      if (performance.now() < end) start();
      else if (running === 0) resolve((done * 1000) / (performance.now() - t0));
    };
    const onError = (err: unknown): void => {
      if (!failed) reject(err);
      failed = true;
    };
    const start = (): void => {
      running++;
      call().then(onDone, onError);
    };
    for (let i = 0; i < inflight; i++) start();
  });
}
