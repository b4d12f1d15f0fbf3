// raw-http2: the ceiling for any Node HTTP/2 server or client. A minimal node:http2 gRPC echo —
// no router, no codec on the unary path, no metadata handling — so the gap to it is what a gRPC
// layer costs on top of node:http2 itself.
//
// Server: Echo answers each POST with the same gRPC-framed body and trailers grpc-status 0 (what
// h2load>raw-http2 measures). StreamEcho decodes the request once, encodes the template once and
// writes it `count` times, honouring stream backpressure.
// Client: one http2 session; each call is one stream with the pre-encoded framed request.
import * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EchoRequestSchema, EchoResponseSchema, StreamEchoRequestSchema } from "../gen/echo_pb.js";
import { type BenchClient, type BenchServer, type BenchSystem, MESSAGE_PAYLOAD, MESSAGE_TEXT, seqOf } from "./index.ts";

const ECHO_PATH = "/petrel.bench.v1.EchoService/Echo";
const STREAM_PATH = "/petrel.bench.v1.EchoService/StreamEcho";
const RESPONSE_HEADERS = { ":status": 200, "content-type": "application/grpc" };
const OK_TRAILERS = { "grpc-status": "0" };

/** One gRPC length-prefixed message: u8 flags (0 = uncompressed) | u32 length | payload. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** The bench's ~100-byte EchoRequest with gRPC framing (also h2load's request body). */
export function framedEchoRequest(n = 0): Buffer {
  return grpcFrame(
    toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: MESSAGE_TEXT, seq: BigInt(seqOf(n)), payload: MESSAGE_PAYLOAD })),
  );
}

function collect(stream: http2.ServerHttp2Stream, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.on("end", () => done(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
}

function respond(stream: http2.ServerHttp2Stream, status: string): void {
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(status === "0" ? OK_TRAILERS : { "grpc-status": status }));
}

function streamEcho(stream: http2.ServerHttp2Stream, body: Buffer): void {
  let count: number;
  let frame: Buffer;
  try {
    const req = fromBinary(StreamEchoRequestSchema, body.subarray(5));
    count = req.count;
    const t = req.template;
    frame = grpcFrame(
      toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: t?.text ?? "", seq: BigInt(seqOf(0)), payload: t?.payload })),
    );
  } catch {
    respond(stream, "3"); // INVALID_ARGUMENT
    stream.end();
    return;
  }
  respond(stream, "0");
  let i = 0;
  const pump = (): void => {
    while (i < count) {
      if (stream.destroyed) return;
      i++;
      if (!stream.write(frame)) {
        stream.once("drain", pump);
        return;
      }
    }
    stream.end();
  };
  pump();
}

async function startServer(port: number): Promise<BenchServer> {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {}); // a reset stream must not crash the server
    const path = headers[":path"];
    if (path === ECHO_PATH) {
      collect(stream, (body) => {
        respond(stream, "0");
        stream.end(body);
      });
    } else if (path === STREAM_PATH) {
      collect(stream, (body) => streamEcho(stream, body));
    } else {
      respond(stream, "12"); // UNIMPLEMENTED
      stream.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("raw-http2: server has no TCP address");
  return { port: addr.port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function createClient(addr: { host: string; port: number }): Promise<BenchClient> {
  const session = http2.connect(`http://${addr.host}:${addr.port}`);
  session.on("error", () => {}); // surfaced through the failing calls
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  const headers = (path: string) => ({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
  const echoHeaders = headers(ECHO_PATH);
  const body = framedEchoRequest();

  /** One call; resolves when the stream ends with grpc-status 0. */
  const call = (path: string, req: Buffer, onData: ((chunk: Buffer) => void) | undefined): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const stream = session.request(path === ECHO_PATH ? echoHeaders : headers(path));
      let status: string | undefined;
      stream.on("response", (h) => {
        if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]); // trailers-only response
      });
      stream.on("trailers", (t) => {
        status = String(t["grpc-status"]);
      });
      stream.on("data", onData ?? (() => {}));
      stream.on("error", reject);
      stream.on("close", () =>
        status === "0" ? resolve() : reject(new Error(`raw-http2: call ended with grpc-status ${status ?? "(none)"}`)),
      );
      stream.end(req);
    });

  return {
    unary: () => call(ECHO_PATH, body, undefined),
    serverStream(count, onMessage) {
      const req = grpcFrame(
        toBinary(
          StreamEchoRequestSchema,
          create(StreamEchoRequestSchema, { count, template: { text: MESSAGE_TEXT, seq: BigInt(seqOf(0)), payload: MESSAGE_PAYLOAD } }),
        ),
      );
      // Count messages by walking the 5-byte gRPC prefixes across chunk boundaries.
      let need = 5; // bytes still to skip before the next prefix starts, or prefix bytes left
      let inPrefix = true;
      let len = 0;
      const onData = (chunk: Buffer): void => {
        let off = 0;
        while (off < chunk.length) {
          if (inPrefix) {
            const take = Math.min(need, chunk.length - off);
            for (let i = 0; i < take; i++) if (need - i <= 4) len = len * 256 + chunk[off + i];
            need -= take;
            off += take;
            if (need === 0) {
              inPrefix = false;
              need = len;
              len = 0;
              if (need === 0) {
                onMessage();
                inPrefix = true;
                need = 5;
              }
            }
          } else {
            const take = Math.min(need, chunk.length - off);
            need -= take;
            off += take;
            if (need === 0) {
              onMessage();
              inPrefix = true;
              need = 5;
            }
          }
        }
      };
      return call(STREAM_PATH, req, onData);
    },
    close: () => new Promise<void>((resolve) => session.close(() => resolve())),
  };
}

const system: BenchSystem = { name: "raw-http2", startServer, createClient };
export default system;
