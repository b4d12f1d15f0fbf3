// petrel/1 transport connect(): it resolves once the server's SETTINGS arrived, so the server's
// limits already apply to the first call (before, the first call could go out under the 4 MiB
// default message size of spec §5.1 and fail against a server that allows more).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createRouter } from "@petrel/core";
import { TestService, createTestServiceImpl, expectRpcError } from "@petrel/testing";
import { createNativeServer } from "./native-server.js";
import { createNativeTransport } from "./native-transport.js";

describe("petrel/1 connect()", () => {
  it("waits for the server's SETTINGS: a first message above the 4 MiB default goes through", async () => {
    const max = 32 * 1024 * 1024;
    const server = createNativeServer({
      router: createRouter().service(TestService, createTestServiceImpl()),
      settings: { maxMessageSize: max },
      maxSendMessageSize: max,
    });
    const { port } = await server.listen();
    const transport = createNativeTransport({ address: `127.0.0.1:${port}`, settings: { maxMessageSize: max }, maxSendMessageSize: max });
    try {
      await transport.connect();
      const payload = new Uint8Array(6 * 1024 * 1024).fill(7);
      const res = await createClient(TestService, transport).echo({ text: "big", payload });
      assert.equal(res.payload.length, payload.length);
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  });

  it("rejects with UNAVAILABLE when nothing listens", async () => {
    const server = createNativeServer({ router: createRouter().service(TestService, createTestServiceImpl()) });
    const { port } = await server.listen();
    await server.close({ graceMs: 0 });
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    try {
      await expectRpcError(transport.connect(), Code.UNAVAILABLE);
    } finally {
      await transport.close();
    }
  });
});
