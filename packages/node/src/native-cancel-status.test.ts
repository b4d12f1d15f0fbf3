// §4.6/§7.4: a client's CANCEL says why, and the server's handler sees that status. A response
// whose compressed form is a bomb (it decompresses above the client's MAX_MESSAGE_SIZE) fails the
// call with RESOURCE_EXHAUSTED at the client, which cancels the stream with RESOURCE_EXHAUSTED.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, RpcError, createClient, createRouter } from "@petrel/core";
import { type Compression, createCompressionRegistry } from "@petrel/protocol-grpc";
import { TestService, createTestServiceImpl, expectRpcError } from "@petrel/testing";
import { gzipCompression } from "./grpc-compression.js";
import { createNativeServer } from "./native-server.js";
import { createNativeTransport } from "./native-transport.js";

/** A "gzip" that answers every message with 64 MiB of zeros (~64 KiB on the wire). */
const bombGzip: Compression = {
  name: "gzip",
  compress: () => gzipCompression.compress(new Uint8Array(64 * 1024 * 1024)),
  decompress: (b, max) => gzipCompression.decompress(b, max),
};

describe("petrel/1 CANCEL status", () => {
  it("a response that decompresses over the client's limit: RESOURCE_EXHAUSTED at the client and in the handler's signal", async () => {
    let reason: unknown;
    let aborted!: () => void;
    const abortSeen = new Promise<void>((resolve) => {
      aborted = resolve;
    });
    const router = createRouter().service(TestService, {
      ...createTestServiceImpl(),
      async *serverStream(req, ctx) {
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          aborted();
        });
        // Above the bomb's compressed size, so the server does not fall back to identity.
        yield { text: req.text, count: 0, payload: new Uint8Array(256 * 1024).fill(7) };
        await abortSeen;
      },
    });
    const server = createNativeServer({ router, compressions: createCompressionRegistry(bombGzip), compression: "gzip" });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    try {
      const client = createClient(TestService, transport);
      const drain = async () => {
        for await (const _ of client.serverStream({ text: "big", count: 1 })) {
          // nothing: the first message already fails
        }
      };
      await expectRpcError(drain(), Code.RESOURCE_EXHAUSTED);
      await abortSeen;
      assert.ok(reason instanceof RpcError, `abort reason: ${String(reason)}`);
      assert.equal(reason.code, Code.RESOURCE_EXHAUSTED, reason.message);
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  });
});
