// jayson: the `jayson` package (v5), a popular JSON-RPC 2.0 library for Node — its HTTP server
// (`server.http()`, a node:http server) with an Echo method that answers the params it got, and
// its HTTP client with a keep-alive agent of the same pool size as Petrel's JSON-RPC client.
// Unary only: JSON-RPC has no streams.
import * as http from "node:http";
import jayson from "jayson";
import { ECHO_METHOD, JSONRPC_PATH, echoJson, listenServer } from "./http1-common.ts";
import type { BenchClient, BenchServer, BenchSystem } from "./index.ts";
import { MAX_SOCKETS } from "./petrel-jsonrpc.ts";

export function startServer(port: number): Promise<BenchServer> {
  const server = new jayson.Server({
    [ECHO_METHOD]: (params: unknown, callback: (err: null, result: unknown) => void) => callback(null, params),
  });
  return listenServer(port, server.http());
}

export async function createBenchClient(addr: { host: string; port: number }): Promise<BenchClient> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const client = jayson.Client.http({ host: addr.host, port: addr.port, path: JSONRPC_PATH, agent } as jayson.HttpClientOptions);
  const params = echoJson();
  return {
    unary: () =>
      new Promise<void>((resolve, reject) => {
        client.request(ECHO_METHOD, params, (err: unknown, res?: { error?: unknown }) => {
          if (err) reject(err instanceof Error ? err : new Error(`jayson: ${JSON.stringify(err)}`));
          else if (res?.error) reject(new Error(`jayson: error response ${JSON.stringify(res.error)}`));
          else resolve();
        });
      }),
    serverStream: () => Promise.reject(new Error("JSON-RPC carries unary calls only")),
    close: async () => agent.destroy(),
  };
}

const system: BenchSystem = { name: "jayson", startServer, createClient: createBenchClient };
export default system;
