// Shared by the HTTP/1.1 JSON systems (JSON-RPC and REST): the echo request as JSON, the checks
// a probe applies to the answers, and a node:http server wrapper.
//
// Every JSON system echoes the same bench message, in protobuf JSON form (int64 as a string,
// bytes as base64), so Petrel (which maps JSON to protobuf and back), the bare node:http handler
// and jayson (which echo the parsed JSON) all answer the same bytes to within key order.
import * as http from "node:http";
import { type BenchServer, MESSAGE_PAYLOAD, MESSAGE_TEXT, seqOf } from "./index.ts";

/** The JSON-RPC method name of Echo (Petrel's "path" naming, also accepted as a plain key by jayson). */
export const ECHO_METHOD = "petrel.bench.v1.EchoService/Echo";
/** Path JSON-RPC requests are POSTed to (one of Petrel's defaults; jayson and the bare server take any path). */
export const JSONRPC_PATH = "/jsonrpc";
/** The REST route of Echo (`post: "/v1/echo" body: "*"`, see petrel-rest.ts). */
export const REST_PATH = "/v1/echo";

export interface EchoJson {
  text: string;
  seq: string;
  payload: string;
}

/** The bench EchoRequest in protobuf JSON. */
export function echoJson(n = 0): EchoJson {
  return { text: MESSAGE_TEXT, seq: String(seqOf(n)), payload: MESSAGE_PAYLOAD.toString("base64") };
}

/** One JSON-RPC 2.0 Echo request (what h2load-h1 sends on every request). */
export function jsonRpcEchoBody(id = 1): Buffer {
  return Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, method: ECHO_METHOD, params: echoJson() }));
}

/** The REST Echo request body: the EchoRequest itself (`body: "*"`). */
export function restEchoBody(): Buffer {
  return Buffer.from(JSON.stringify(echoJson()));
}

function parseObject(body: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error(`${what}: the response is not JSON: ${body.toString("utf8").slice(0, 200)}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${what}: the response is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Throws unless `v` is the echoed bench message (seq as a JSON string or number). */
function checkEcho(v: unknown, what: string): void {
  const want = echoJson();
  const got = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  if (got.text !== want.text || String(got.seq) !== want.seq || got.payload !== want.payload)
    throw new Error(`${what}: the response is not the request echoed: ${JSON.stringify(v)?.slice(0, 200)}`);
}

/** Checks a JSON-RPC 2.0 answer to `jsonRpcEchoBody(id)`. */
export function checkJsonRpcEcho(body: Buffer, id = 1): void {
  const res = parseObject(body, "JSON-RPC");
  if (res.jsonrpc !== "2.0" || res.id !== id)
    throw new Error(`JSON-RPC: not a response to id ${id}: ${body.toString("utf8").slice(0, 200)}`);
  if (res.error !== undefined) throw new Error(`JSON-RPC: error response: ${JSON.stringify(res.error).slice(0, 200)}`);
  checkEcho(res.result, "JSON-RPC");
}

/** Checks a REST answer to `restEchoBody()`. */
export function checkRestEcho(body: Buffer): void {
  checkEcho(parseObject(body, "REST"), "REST");
}

/** Serves `handler` on a node:http server at 127.0.0.1:port. */
export async function listenHttp(port: number, handler: http.RequestListener): Promise<BenchServer> {
  const server = http.createServer(handler);
  return listenServer(port, server);
}

/** Listens an already created node:http server at 127.0.0.1:port; close() also drops keep-alive sockets. */
export async function listenServer(port: number, server: http.Server): Promise<BenchServer> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("http server has no TCP address");
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** 404 with a JSON body, for requests no handler took. */
export function notFound(res: http.ServerResponse): void {
  const body = '{"error":"not found"}';
  res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
