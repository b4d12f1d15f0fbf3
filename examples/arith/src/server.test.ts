// startArithServer in-process: the same errors on every protocol, REST details (status mapping,
// bad input, HTTP/2, OpenAPI), Connect GET, the interceptor hook, and close.
import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { Code as CCode, ConnectError, createClient as createConnectClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Code, createClient, RpcError, type ServerInterceptor } from "@petrel/core";
import { createGrpcTransport, createJsonRpcTransport, createNativeTransport } from "@petrel/node";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Arith } from "./gen/arith/arith_pb.js";
import { startArithServer, type ArithServer } from "./server.js";
import { wsCalls } from "./test-clients.js";

function request(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path, agent: false, headers: body === undefined ? {} : { "content-type": "application/json" } },
      (res) => {
        let data = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          data += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data, type: String(res.headers["content-type"]) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function h2Get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const req = session.request({ ":method": "GET", ":path": path });
    let status = 0;
    let data = "";
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.setEncoding("utf8").on("data", (d: string) => {
      data += d;
    });
    req.on("end", () => {
      session.close();
      resolve({ status, body: data });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("startArithServer (in-process)", () => {
  let server: ArithServer;
  const seen: string[] = [];
  // The hook a metrics endpoint would use: one interceptor sees every call, whatever the protocol.
  const recorder: ServerInterceptor = (next) => async (req) => {
    seen.push(`${req.ctx.peer.protocol} ${req.method.name}`);
    return next(req);
  };
  const base = () => `http://127.0.0.1:${server.port}`;

  before(async () => {
    server = await startArithServer({ interceptors: [recorder] });
  });
  after(async () => {
    await server.close({ graceMs: 2000 });
  });

  it("gives divide by zero as INVALID_ARGUMENT on every RPC protocol", async () => {
    const sessionManager = new Http2SessionManager(base());
    const connectClients = [
      createConnectTransport({ httpVersion: "1.1", baseUrl: base() }),
      createConnectTransport({ httpVersion: "2", baseUrl: base(), sessionManager }),
      createGrpcWebTransport({ httpVersion: "1.1", baseUrl: base(), useBinaryFormat: true }),
      createGrpcWebTransport({ httpVersion: "1.1", baseUrl: base(), useBinaryFormat: false }),
    ].map((t) => createConnectClient(Arith, t));
    try {
      for (const c of connectClients) {
        assert.equal((await c.multiply({ A: 7, B: 6 })).value, 42);
        await assert.rejects(
          c.divide({ A: 1, B: 0 }),
          (e: unknown) => e instanceof ConnectError && e.code === CCode.InvalidArgument && e.rawMessage === "divide by zero",
        );
      }
    } finally {
      sessionManager.abort();
    }
    const petrel = [
      createNativeTransport({ address: `127.0.0.1:${server.port}` }),
      createGrpcTransport({ baseUrl: base() }),
      createJsonRpcTransport({ url: `${base()}/` }),
      createJsonRpcTransport({ protocol: "tcp", port: server.port }),
    ];
    try {
      for (const t of petrel) {
        const arith = createClient(Arith, t);
        assert.equal((await arith.multiply({ A: 7, B: 6 })).value, 42);
        await assert.rejects(
          arith.divide({ A: 1, B: 0 }),
          (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT && e.rawMessage === "divide by zero",
        );
      }
    } finally {
      await Promise.all(petrel.map((t) => t.close()));
    }
    // Go's JSON-RPC 1.0 carries errors as a string; Petrel's client reads the code back from it.
    const go = createJsonRpcTransport({ protocol: "tcp", port: server.port, version: "1.0" });
    try {
      await assert.rejects(
        createClient(Arith, go).divide({ A: 1, B: 0 }),
        (e: unknown) => e instanceof RpcError && /divide by zero/.test(e.rawMessage),
      );
    } finally {
      await go.close();
    }
  });

  it("answers JSON-RPC errors with their codes over HTTP and WebSocket", async () => {
    const batch = JSON.stringify([
      { jsonrpc: "2.0", id: "a", method: "Arith.Divide", params: { A: 1, B: 0 } },
      { jsonrpc: "2.0", id: "b", method: "Arith.Nope", params: {} },
      { jsonrpc: "2.0", id: "c", method: "Arith.Multiply", params: { A: 7, C: 6 } },
      { jsonrpc: "2.0", id: "d", method: "arith.Arith/Multiply", params: [{ A: 7, B: 6 }] },
    ]);
    const res = await request(server.port, "POST", "/jsonrpc", batch);
    assert.equal(res.status, 200);
    const out = JSON.parse(res.body) as Array<{ id: string; result?: unknown; error?: { code: number; message: string } }>;
    const byId = new Map(out.map((r) => [r.id, r]));
    assert.equal(byId.get("a")?.error?.code, -32602);
    assert.equal(byId.get("a")?.error?.message, "divide by zero");
    assert.equal(byId.get("b")?.error?.code, -32601);
    assert.equal(byId.get("c")?.error?.code, -32602);
    assert.equal(byId.get("d")?.result, 42);
    const [ws] = await wsCalls(`ws://127.0.0.1:${server.port}/`, [{ jsonrpc: "2.0", id: 9, method: "Arith.Divide", params: { A: 1 } }]);
    const wsAnswer = ws as { jsonrpc: string; id: number; error: { code: number; message: string } };
    assert.deepEqual([wsAnswer.jsonrpc, wsAnswer.id, wsAnswer.error.code, wsAnswer.error.message], ["2.0", 9, -32602, "divide by zero"]);
  });

  it("REST: status mapping, bad input, HTTP/2, and a valid OpenAPI document", async () => {
    const over = await request(server.port, "GET", "/v1/arith/multiply?A=65536&B=32768");
    assert.equal(over.status, 400);
    assert.equal((JSON.parse(over.body) as { code: number }).code, Code.OUT_OF_RANGE);
    const badJson = await request(server.port, "POST", "/v1/arith/multiply", '{"A":7,');
    assert.equal(badJson.status, 400);
    assert.equal((JSON.parse(badJson.body) as { code: number }).code, Code.INVALID_ARGUMENT);
    const badType = await request(server.port, "GET", "/v1/arith/multiply?A=seven&B=6");
    assert.equal(badType.status, 400);
    const unknownField = await request(server.port, "POST", "/v1/arith/divide", '{"A":7,"C":1}');
    assert.equal(unknownField.status, 400);
    const notFound = await request(server.port, "GET", "/v1/arith/power?A=2&B=8");
    assert.equal(notFound.status, 404);
    assert.match(notFound.type, /application\/json/);
    JSON.parse(notFound.body);
    // Go's encoding/json writes zero fields too; so does the gateway here.
    assert.deepEqual(JSON.parse((await request(server.port, "GET", "/v1/arith/divide?A=10&B=5")).body), { Quo: 2, Rem: 0 });
    assert.deepEqual(await h2Get(server.port, "/v1/arith/multiply?A=7&B=6"), { status: 200, body: "42" });
    const doc = JSON.parse((await request(server.port, "GET", "/openapi.json")).body) as { info: { title: string } };
    assert.equal(doc.info.title, "Arith");
    const result = await new Validator().validate(doc as never);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
  });

  it("serves Connect GET for the side-effect-free methods", async () => {
    const message = encodeURIComponent(JSON.stringify({ A: 7, B: 6 }));
    const res = await request(server.port, "GET", `/arith.Arith/Multiply?connect=v1&encoding=json&message=${message}`);
    assert.deepEqual([res.status, res.body], [200, "42"]);
  });

  it("ran every call through the interceptor hook and counted the protocols it detected", () => {
    const protocols = new Set(seen.map((s) => s.split(" ")[0]));
    for (const p of ["petrel/1", "grpc", "connect", "grpc-web", "rest", "jsonrpc/http", "jsonrpc/tcp", "jsonrpc/ws"])
      assert.ok(protocols.has(p), `${p} in ${[...protocols]}`);
    assert.ok(server.detected.native >= 1 && server.detected.h2 >= 2 && server.detected.json >= 2 && server.detected.http1 >= 5);
    assert.equal(server.detected.refused, 0);
  });

  it("close is idempotent and stops accepting connections", async () => {
    const s = await startArithServer();
    await Promise.all([s.close({ graceMs: 1000 }), s.close()]);
    await s.close();
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const c = net.connect(s.port, "127.0.0.1");
      c.on("connect", () => {
        c.destroy();
        resolve(Object.assign(new Error("connected"), { code: "CONNECTED" }));
      });
      c.on("error", resolve);
    });
    assert.equal(err.code, "ECONNREFUSED");
  });
});
