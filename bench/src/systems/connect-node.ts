// connect-node: Connect-ES v2 (@connectrpc/connect-node) speaking the gRPC protocol over HTTP/2,
// both sides: createGrpcTransport (one Http2SessionManager = one connection) against
// connectNodeAdapter on http2.createServer. Uses the same generated descriptors as Petrel
// (bench/src/gen/echo_pb.ts).
import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { Http2SessionManager, connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { EchoRequestSchema, EchoService } from "../gen/echo_pb.js";
import { type BenchClient, type BenchServer, type BenchSystem, MESSAGE_PAYLOAD, MESSAGE_TEXT, seqOf } from "./index.ts";

export async function startServer(port: number): Promise<BenchServer> {
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(EchoService, {
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
    },
  });
  const server = http2.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("connect-node: server has no TCP address");
  return { port: addr.port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export async function createBenchClient(addr: { host: string; port: number }): Promise<BenchClient> {
  const baseUrl = `http://${addr.host}:${addr.port}`;
  // An explicit session manager so close() can end the one connection.
  const sessionManager = new Http2SessionManager(baseUrl);
  if ((await sessionManager.connect()) === "error") throw new Error(`connect-node: cannot connect to ${baseUrl}`);
  const client = createClient(EchoService, createGrpcTransport({ baseUrl, sessionManager }));
  let n = 0;
  return {
    async unary() {
      await client.echo(create(EchoRequestSchema, { text: MESSAGE_TEXT, seq: BigInt(seqOf(n++)), payload: MESSAGE_PAYLOAD }));
    },
    async serverStream(count, onMessage) {
      const req = { count, template: { text: MESSAGE_TEXT, seq: BigInt(seqOf(0)), payload: MESSAGE_PAYLOAD } };
      for await (const _ of client.streamEcho(req)) onMessage();
    },
    async close() {
      sessionManager.abort();
    },
  };
}

const system: BenchSystem = { name: "connect-node", startServer, createClient: createBenchClient };
export default system;
