// node-http-json: the ceiling for a Node HTTP/1.1 JSON server. A bare node:http handler with no
// framework: it reads the body, JSON.parse()s it and answers with JSON.stringify() —
//   POST /v1/echo   (REST)      -> the parsed body itself
//   POST any other  (JSON-RPC)  -> {"jsonrpc":"2.0","id":<id>,"result":<params>}
// No validation, no protobuf mapping, no metadata: the gap to it is what Petrel's JSON-RPC
// handler or REST gateway costs on top of node:http plus JSON parsing. Server only: h2load-h1
// rows drive it (`h2load-h1>node-http-json` sends JSON-RPC, `h2load-h1>node-http-rest` REST).
import type * as http from "node:http";
import { REST_PATH, listenHttp } from "./http1-common.ts";
import type { BenchClient, BenchServer, BenchSystem } from "./index.ts";

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== "POST") return send(res, 405, '{"error":"POST only"}');
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    let msg: { id?: unknown; params?: unknown };
    try {
      msg = JSON.parse((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8"));
    } catch {
      return send(res, 400, '{"error":"invalid JSON"}');
    }
    if (req.url === REST_PATH) return send(res, 200, JSON.stringify(msg));
    send(res, 200, JSON.stringify({ jsonrpc: "2.0", id: msg?.id ?? null, result: msg?.params ?? null }));
  });
}

export function startServer(port: number): Promise<BenchServer> {
  return listenHttp(port, handle);
}

const system: BenchSystem = {
  name: "node-http-json",
  startServer,
  createClient(): Promise<BenchClient> {
    return Promise.reject(new Error("node-http-json is a server only: drive it with h2load-h1"));
  },
};
export default system;
