import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { connect as h2connect, createServer as createH2Server, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, createClient, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, eventually, TestService } from "@petrel/testing";
import { chainHttpHandlers } from "./http-handler.js";
import { createJsonRpcHttpHandler } from "./jsonrpc-http.js";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";

function post(port: number, path: string, body: string | Buffer, headers: Record<string, string> = {}, method = "POST") {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers: { "content-type": "application/json", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("JSON-RPC over HTTP/1.1", () => {
  let server: Server;
  let port: number;
  const probe = { cancelled: [] as string[], lastHeaders: {} as Record<string, string> };
  before(async () => {
    const router = createRouter().service(TestService, createTestServiceImpl(probe));
    server = createServer(chainHttpHandlers([createJsonRpcHttpHandler(router, { maxBodyBytes: 64 * 1024, notificationStatus: 204 })]));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("serves a call on / and /jsonrpc, passing headers as metadata", async () => {
    for (const path of ["/", "/jsonrpc", "/jsonrpc?x=1"]) {
      const r = await post(port, path, JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo", params: { text: path }, id: 1 }), {
        "x-user": "u1",
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers["content-type"], "application/json");
      assert.equal(JSON.parse(r.body).result.text, path);
      assert.equal(probe.lastHeaders["x-user"], "u1");
    }
  });

  it("answers 204 to notifications only, 405 to GET, 415 to text, 404 elsewhere", async () => {
    const n = await post(port, "/", JSON.stringify([{ jsonrpc: "2.0", method: "TestService.Echo" }]));
    assert.equal(n.status, 204);
    assert.equal(n.body, "");
    const g = await post(port, "/jsonrpc", "", {}, "GET");
    assert.equal(g.status, 405);
    assert.equal(g.headers.allow, "POST");
    assert.equal((await post(port, "/", "{}", { "content-type": "text/plain" })).status, 415);
    const nf = await post(port, "/other", "{}");
    assert.equal(nf.status, 404);
    assert.equal(typeof JSON.parse(nf.body).message, "string");
  });

  it("answers 413 over the body limit and keeps serving", async () => {
    const big = JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo", params: { text: "x".repeat(100 * 1024) }, id: 1 });
    assert.equal((await post(port, "/", big)).status, 413);
    const ok = await post(port, "/", JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo", params: { text: "after" }, id: 2 }));
    assert.equal(JSON.parse(ok.body).result.text, "after");
  });

  it("answers bad input with JSON-RPC errors, never a crash", async () => {
    const cases: [string, number][] = [
      ["{", -32700],
      ["[]", -32600],
      ['{"jsonrpc":"2.0","method":"TestService.Echo","params":{"text":1},"id":1}', -32602],
      ['{"jsonrpc":"2.0","method":"TestService.Echo","params":{"bogus":1},"id":1}', -32602],
      ['{"jsonrpc":"2.0","method":"TestService.Echo","params":"str","id":1}', -32600],
      ['{"jsonrpc":"2.0","method":"TestService.Nope","id":1}', -32601],
    ];
    for (const [body, code] of cases) {
      const r = await post(port, "/", body);
      assert.equal(r.status, 200, body);
      assert.equal(JSON.parse(r.body).error.code, code, body);
    }
    const huge = JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ jsonrpc: "2.0", method: "TestService.Echo", id: i })));
    assert.equal(JSON.parse((await post(port, "/", huge)).body).error.code, -32600);
  });

  it("cancels the handler when the client goes away before the answer", async () => {
    // Its own server, whose interceptor says when the handler has started.
    const local = { cancelled: [] as string[], lastHeaders: {} as Record<string, string> };
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const router = createRouter({
      interceptors: [
        (next) => (req) => {
          started();
          return next(req);
        },
      ],
    }).service(TestService, createTestServiceImpl(local));
    const srv = createServer(chainHttpHandlers([createJsonRpcHttpHandler(router)]));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const body = JSON.stringify({ jsonrpc: "2.0", method: "TestService.Sleep", params: { sleepMs: 60_000 }, id: 1 });
      const req = request({
        host: "127.0.0.1",
        port: (srv.address() as AddressInfo).port,
        path: "/jsonrpc",
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json" },
      });
      req.on("error", () => {});
      req.end(body);
      await running;
      req.destroy();
      await eventually(() => local.cancelled.length > 0, 10_000, "handler cancelled after the client went away");
      assert.deepEqual(local.cancelled, ["Sleep"]);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it("gives a typed client with pooling, deadlines and exact errors", async () => {
    const transport = createJsonRpcTransport({ url: `http://127.0.0.1:${port}/jsonrpc`, maxSockets: 4 });
    try {
      const client = createClient(TestService, transport);
      const res = await Promise.all(Array.from({ length: 30 }, (_, i) => client.echo({ text: `t${i}`, seq: BigInt(i) })));
      assert.deepEqual(
        res.map((r) => r.text),
        Array.from({ length: 30 }, (_, i) => `t${i}`),
      );
      assert.equal(res[7]?.seq, 7n);
      await assert.rejects(client.echo({ failCode: Code.PERMISSION_DENIED, failMessage: "nope" }), (e: unknown) => {
        return e instanceof RpcError && e.code === Code.PERMISSION_DENIED && e.rawMessage === "nope" && e.metadata.get("x-fail") === "yes";
      });
      await assert.rejects(
        client.sleep({ sleepMs: 60_000 }, { timeoutMs: 100 }),
        (e: unknown) => e instanceof RpcError && e.code === Code.DEADLINE_EXCEEDED,
      );
      // The server saw the deadline header and the handler was cancelled.
      const seen = await client.echo({ text: "d" }, { timeoutMs: 30_000 });
      assert.ok(seen.deadlineMs > 0n && seen.deadlineMs <= 30_000n);
      await assert.rejects(
        (async () => {
          for await (const _ of client.serverStream({ count: 1 })) break;
        })(),
        (e: unknown) => e instanceof RpcError && e.code === Code.UNIMPLEMENTED,
      );
    } finally {
      await transport.close();
    }
  });

  it("sends batches and returns each result or error in order", async () => {
    const transport = createJsonRpcTransport({ url: `http://127.0.0.1:${port}/` });
    try {
      const out = await transport.batch([
        { method: TestService.method.echo, message: { text: "a" } },
        { method: TestService.method.echo, message: { failCode: Code.NOT_FOUND, failMessage: "missing" } },
        { method: TestService.method.echo, message: { text: "n" }, notify: true },
        { method: TestService.method.echo, message: { text: "c" } },
      ]);
      assert.equal(out.length, 4);
      assert.equal((out[0] as unknown as { text: string }).text, "a");
      assert.ok(out[1] instanceof RpcError && out[1].code === Code.NOT_FOUND && out[1].rawMessage === "missing");
      assert.equal(out[2], undefined);
      assert.equal((out[3] as unknown as { text: string }).text, "c");
      assert.deepEqual(await transport.batch([{ method: TestService.method.echo, message: {}, notify: true }]), [undefined]);
    } finally {
      await transport.close();
    }
  });

  it("maps an unreachable server to UNAVAILABLE", async () => {
    const probeServer = createServer();
    await new Promise<void>((r) => probeServer.listen(0, "127.0.0.1", r));
    const deadPort = (probeServer.address() as AddressInfo).port;
    await new Promise((r) => probeServer.close(r));
    const transport = createJsonRpcTransport({ url: `http://127.0.0.1:${deadPort}/` });
    await assert.rejects(
      createClient(TestService, transport).echo({}),
      (e: unknown) => e instanceof RpcError && e.code === Code.UNAVAILABLE,
    );
    await transport.close();
  });
});

describe("JSON-RPC over HTTP/2 (compat API)", () => {
  let server: Http2Server;
  let port: number;
  before(async () => {
    const router = createRouter().service(TestService, createTestServiceImpl());
    server = createH2Server(chainHttpHandlers([createJsonRpcHttpHandler(router)]));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise((r) => server.close(r)));

  it("serves calls, notifications (200, empty) and 405 over h2c", async () => {
    const session = h2connect(`http://127.0.0.1:${port}`);
    const exchange = (method: string, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = session.request({ ":method": method, ":path": "/jsonrpc", "content-type": "application/json" });
        let status = 0;
        let text = "";
        s.on("response", (h) => {
          status = Number(h[":status"]);
        });
        s.on("data", (d: Buffer) => {
          text += d.toString();
        });
        s.on("end", () => resolve({ status, body: text }));
        s.on("error", reject);
        s.end(body);
      });
    try {
      const r = await exchange("POST", JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo", params: { text: "h2" }, id: "x" }));
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).result.text, "h2");
      assert.deepEqual(await exchange("POST", JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo" })), { status: 200, body: "" });
      assert.equal((await exchange("GET")).status, 405);
    } finally {
      session.close();
    }
  });
});
