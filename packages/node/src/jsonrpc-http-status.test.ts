// The JSON-RPC HTTP client maps a non-200 answer (a proxy's, or a server's refusal) to a status.
import * as http from "node:http";
import { after, before, describe, it } from "node:test";
import { Code, createClient } from "@petrel/core";
import { TestService, expectRpcError } from "@petrel/testing";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";

describe("JSON-RPC over HTTP: non-200 answers", () => {
  let server: http.Server;
  let port: number;
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(Number(req.url?.slice(1)), { "content-type": "text/html" });
      res.end("<html>proxy says no</html>");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const [status, code] of [
    [400, Code.INVALID_ARGUMENT],
    [413, Code.RESOURCE_EXHAUSTED],
    [401, Code.UNAUTHENTICATED],
    [404, Code.UNIMPLEMENTED],
    [503, Code.UNAVAILABLE],
    [418, Code.UNKNOWN],
  ] as const) {
    it(`HTTP ${status} -> code ${code}`, async () => {
      const transport = createJsonRpcTransport({ url: `http://127.0.0.1:${port}/${status}` });
      try {
        await expectRpcError(createClient(TestService, transport).echo({ text: "x" }), code);
      } finally {
        await transport.close();
      }
    });
  }
});
