// Retry end to end over a real petrel/1 server (TCP on 127.0.0.1, port 0).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, RpcError, createClient, createRouter } from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createResilienceInterceptors } from "./service-config-interceptors.js";

describe("retry over petrel/1", () => {
  it("a handler failing twice with UNAVAILABLE, then succeeding: the client gets the success after 3 attempts", async () => {
    const seenAttempts: (string | undefined)[] = [];
    const impl = createTestServiceImpl();
    const router = createRouter().service(TestService, {
      ...impl,
      async echo(req, ctx) {
        seenAttempts.push(ctx.requestHeader.getString("grpc-previous-rpc-attempts"));
        if (seenAttempts.length <= 2) {
          // The second failure also asks for a precise wait, through the native trailers.
          if (seenAttempts.length === 2) ctx.responseTrailer.set("grpc-retry-pushback-ms", "20");
          throw new RpcError(Code.UNAVAILABLE, "warming up");
        }
        return { text: `ok ${req.text}` };
      },
    });
    const server = createNativeServer({ router });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    try {
      const events: string[] = [];
      const interceptors = createResilienceInterceptors(
        {
          methodConfig: [
            {
              name: [{ service: "petrel.testing.v1.TestService" }],
              retryPolicy: {
                maxAttempts: 4,
                initialBackoff: "0.01s",
                maxBackoff: "0.05s",
                backoffMultiplier: 2,
                retryableStatusCodes: ["UNAVAILABLE"],
              },
            },
          ],
        },
        { onEvent: (e) => events.push(`${e.type}${"pushback" in e && e.pushback ? ":pushback" : ""}`) },
      );
      const client = createClient(TestService, transport, { interceptors });
      const res = await client.echo({ text: "hi" }, { timeoutMs: 30_000 });
      assert.equal(res.text, "ok hi");
      assert.deepEqual(seenAttempts, [undefined, "1", "2"]);
      assert.deepEqual(events, ["retry", "retry:pushback"]);
    } finally {
      await transport.close();
      await server.close({ graceMs: 5000 });
    }
  });
});
