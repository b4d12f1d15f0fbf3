// Micro-benchmark (not a test): CPU microseconds per unary call, client and server in ONE
// process over loopback TCP, so both sides' costs add up. Used to compare hot-path changes:
// `node --import tsx bench/src/micro/call-cost.ts [inflight] [seconds]`.
import { create } from "@bufbuild/protobuf";
import { createClient, createRouter, type Interceptor, type ServerInterceptor } from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { EchoRequestSchema, EchoService } from "../gen/echo_pb.js";

const inflight = Number(process.argv[2] ?? 256);
const seconds = Number(process.argv[3] ?? 3);
const pass: ServerInterceptor = (next) => (req) => next(req);
const stamp: Interceptor = (next) => (req) => {
  req.header.set("x-bench-client", "petrel");
  return next(req);
};
const router = createRouter({ interceptors: [pass, pass] }).service(EchoService, {
  echo: (req) => ({ text: req.text, seq: req.seq, payload: req.payload }),
  async *streamEcho() {},
});
const server = createNativeServer({ router });
const { port } = await server.listen({ port: 0 });
const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
const client = createClient(EchoService, transport, { interceptors: [stamp] });
const msg = create(EchoRequestSchema, { text: "petrel-bench-echo-message-012345", seq: 1048576n, payload: new Uint8Array(60).fill(0xab) });
const options = { timeoutMs: 30_000, headers: { "x-bench": "1" } };

async function run(ms: number): Promise<number> {
  let calls = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (Date.now() < end) {
        await client.echo(msg, options);
        calls++;
      }
    }),
  );
  return calls;
}
await run(1500);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const calls = await run(seconds * 1000);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(
  `inflight=${inflight} calls=${calls} rps=${Math.round((calls * 1000) / wall)} cpu_us_per_call=${((cpu.user + cpu.system) / calls).toFixed(2)}`,
);
await transport.close();
await server.close({ graceMs: 100 });
