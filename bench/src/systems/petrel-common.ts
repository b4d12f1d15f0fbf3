// The echo service and client shared by the Petrel systems, with the full call path on — a
// client interceptor, two server interceptors, a per-call deadline and request metadata — so the
// numbers are what an application would see, not a stripped-down fast path.
import { create } from "@bufbuild/protobuf";
import { type Interceptor, type Router, type ServerInterceptor, createClient, createRouter } from "@petrel/core";
import type { ClosableTransport } from "@petrel/protocol-native";
import { EchoRequestSchema, EchoService } from "../gen/echo_pb.js";
import { type BenchClient, type BenchServer, MESSAGE_PAYLOAD, MESSAGE_TEXT, seqOf } from "./index.ts";

/** A pass-through server interceptor, standing for logging/metrics. */
function countCalls(): ServerInterceptor {
  const counter = { calls: 0 };
  return (next) => (req) => {
    counter.calls++;
    return next(req);
  };
}

/** A client interceptor that stamps a request header, standing for auth/tracing. */
const stamp: Interceptor = (next) => (req) => {
  req.header.set("x-bench-client", "petrel");
  return next(req);
};

/** Starts the echo service on any Petrel server (petrel/1 or gRPC share the router). */
export async function startPetrelServer(
  port: number,
  serve: (router: Router) => {
    listen(o: { port: number; host: string }): Promise<{ port: number }>;
    close(o: { graceMs: number }): Promise<void>;
  },
): Promise<BenchServer> {
  const router = createRouter({ interceptors: [countCalls(), countCalls()] }).service(EchoService, {
    echo: (req) => ({ text: req.text, seq: req.seq, payload: req.payload }),
    async *streamEcho(req, ctx) {
      const t = req.template;
      const text = t?.text ?? "";
      const payload = t?.payload ?? new Uint8Array(0);
      for (let i = 0; i < req.count; i++) {
        if (ctx.signal.aborted) return;
        yield { text, seq: BigInt(seqOf(i)), payload };
      }
    },
  });
  const server = serve(router);
  const addr = await server.listen({ port, host: "127.0.0.1" });
  return { port: addr.port, close: () => server.close({ graceMs: 1000 }) };
}

/** A bench client over any Petrel transport. */
export async function createPetrelClient(transport: ClosableTransport): Promise<BenchClient> {
  const client = createClient(EchoService, transport, { interceptors: [stamp] });
  let n = 0;
  const options = { timeoutMs: 30_000, headers: { "x-bench": "1" } };
  return {
    async unary() {
      await client.echo(create(EchoRequestSchema, { text: MESSAGE_TEXT, seq: BigInt(seqOf(n++)), payload: MESSAGE_PAYLOAD }), options);
    },
    async serverStream(count, onMessage) {
      const req = { count, template: { text: MESSAGE_TEXT, seq: BigInt(seqOf(0)), payload: MESSAGE_PAYLOAD } };
      for await (const _ of client.streamEcho(req)) onMessage();
    },
    close: () => transport.close(),
  };
}
