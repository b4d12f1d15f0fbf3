// connect() of the Node transports, which the channel uses for CONNECTING -> READY.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { Code, createClient, createRouter } from "@petrel/core";
import { createGrpcServer, createGrpcTransport, createNativeServer, createNativeTransport } from "@petrel/node";
import { TestService, createTestServiceImpl, expectRpcError } from "@petrel/testing";

/** A port nobody listens on: bound, then released. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const router = () => createRouter().service(TestService, createTestServiceImpl());

describe("transport connect()", () => {
  it("petrel/1: resolves once connected (calls then work), rejects UNAVAILABLE for a dead port", async () => {
    const server = createNativeServer({ router: router() });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const t = createNativeTransport({ address: `127.0.0.1:${port}` });
    const bad = createNativeTransport({ address: `127.0.0.1:${await deadPort()}`, connectTimeoutMs: 10_000 });
    try {
      await t.connect();
      await t.connect(); // already connected: resolves at once
      assert.equal((await createClient(TestService, t).echo({ text: "hi" })).text, "hi");
      await expectRpcError(bad.connect(), Code.UNAVAILABLE);
    } finally {
      await Promise.all([t.close(), bad.close()]);
      await server.close({ graceMs: 1_000 });
    }
  });

  it("gRPC: resolves on the HTTP/2 handshake, rejects UNAVAILABLE for a dead port or a closed transport", async () => {
    const server = createGrpcServer({ router: router() });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const t = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const bad = createGrpcTransport({ baseUrl: `http://127.0.0.1:${await deadPort()}` });
    try {
      await t.connect();
      await t.connect();
      assert.equal((await createClient(TestService, t).echo({ text: "hi" })).text, "hi");
      const err = await expectRpcError(bad.connect(), Code.UNAVAILABLE);
      assert.match(err.message, /cannot connect to http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      await Promise.all([t.close(), bad.close()]);
      await server.close({ graceMs: 1_000 });
    }
    await expectRpcError(t.connect(), Code.UNAVAILABLE);
  });
});
