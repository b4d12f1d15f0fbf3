import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createRouter } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import WebSocket from "ws";
import { createJsonRpcHttpHandler } from "./jsonrpc-http.js";
import { createJsonRpcWsHandler, type JsonRpcWsHandler } from "./jsonrpc-ws.js";

describe("JSON-RPC over WebSocket (sharing an HTTP server)", () => {
  let server: Server;
  let ws: JsonRpcWsHandler;
  let port: number;
  const probe = { cancelled: [] as string[], lastHeaders: {} as Record<string, string> };
  before(async () => {
    const router = createRouter().service(TestService, createTestServiceImpl(probe));
    const http = createJsonRpcHttpHandler(router);
    ws = createJsonRpcWsHandler(router, { paths: ["/ws"], maxMessageBytes: 8192 });
    server = createServer((req, res) => {
      if (!http(req, res)) {
        res.writeHead(404);
        res.end();
      }
    });
    server.on("upgrade", (req, socket, head) => {
      if (!ws.handleUpgrade(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await ws.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function open(): Promise<{ sock: WebSocket; next: () => Promise<unknown> }> {
    return new Promise((resolve, reject) => {
      const sock = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { "x-user": "ws-user" } });
      const queue: unknown[] = [];
      const waiters: ((v: unknown) => void)[] = [];
      sock.on("message", (d) => {
        const v = JSON.parse(d.toString());
        const w = waiters.shift();
        if (w) w(v);
        else queue.push(v);
      });
      sock.on("open", () =>
        resolve({ sock, next: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))) }),
      );
      sock.on("error", reject);
    });
  }

  it("answers requests and batches, skips notifications, reports parse errors", async () => {
    const { sock, next } = await open();
    try {
      sock.send(JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo" }));
      sock.send(JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo", params: { text: "w" }, id: 1 }));
      const r = (await next()) as { id: number; result: { text: string } };
      assert.equal(r.id, 1);
      assert.equal(r.result.text, "w");
      assert.equal(probe.lastHeaders["x-user"], "ws-user");
      sock.send(
        JSON.stringify([
          { jsonrpc: "2.0", method: "TestService.Echo", id: "a" },
          { jsonrpc: "2.0", method: "Nope.X", id: "b" },
        ]),
      );
      const batch = (await next()) as { id: string; error?: { code: number } }[];
      assert.deepEqual(batch.map((x) => [x.id, x.error?.code]).sort(), [
        ["a", undefined],
        ["b", -32601],
      ]);
      sock.send("{oops");
      assert.equal(((await next()) as { error: { code: number } }).error.code, -32700);
    } finally {
      sock.close();
    }
  });

  it("closes on an oversized message; the HTTP side is untouched", async () => {
    const { sock } = await open();
    const code = await new Promise<number>((resolve) => {
      sock.on("close", (c) => resolve(c));
      sock.send("x".repeat(10_000));
    });
    assert.equal(code, 1009);
  });
});
