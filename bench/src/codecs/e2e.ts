// End-to-end unary calls per codec over petrel/1: one echo server and one client connection in
// this process (the codec runs on both sides of each call: client encode, server decode + encode,
// client decode), a closed loop with a fixed number of calls in flight, bounded in time.
import { createCodecRegistry, createClient, createRouter } from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { CodecBenchService } from "../gen/codecs_pb.js";
import type { BenchCodec } from "./codec-set.ts";
import { messageCases } from "./messages.ts";
import type { CodecRow } from "./run.ts";

export interface E2eOptions {
  measureMs: number;
  warmupMs: number;
  /** Calls in flight on the one connection. Default 32. */
  inflight?: number;
  log?: (line: string) => void;
}

/** Unary rows for every codec that is a Petrel Codec (protobufjs static code is not one: skipped). */
export async function runCodecE2e(codecs: BenchCodec[], opts: E2eOptions): Promise<CodecRow[]> {
  const log = opts.log ?? (() => {});
  const inflight = opts.inflight ?? 32;
  const wired = codecs.filter((c) => c.wire !== undefined);
  for (const c of codecs)
    if (c.wire === undefined) log(`  codec:${c.name} unary skipped: not a Petrel Codec (its messages are not protobuf-es messages)`);
  if (wired.length === 0) return [];
  // Distinct wire names: protobuf-es and Petrel's codec are both "proto" on the wire otherwise.
  const registry = createCodecRegistry(wired.map((c) => ({ ...(c.wire as NonNullable<BenchCodec["wire"]>), name: wireName(c) })));
  const router = createRouter({ codecs: registry }).service(CodecBenchService, {
    echoSmall: (req) => req,
    echoOrder: (req) => req,
    echoBatch: (req) => req,
  });
  const server = createNativeServer({ router });
  const addr = await server.listen({ port: 0, host: "127.0.0.1" });
  const transport = createNativeTransport({ address: `127.0.0.1:${addr.port}`, poolSize: 1, codecs: registry });
  const client = createClient(CodecBenchService, transport);
  const rows: CodecRow[] = [];
  try {
    const cases = messageCases();
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
