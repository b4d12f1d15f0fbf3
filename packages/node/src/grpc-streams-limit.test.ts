/** Server maxConcurrentStreams: the client queues calls beyond the server's limit instead of failing them. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { createClient, createRouter, type ServiceImpl } from "@petrel/core";
import { createGrpcServer, createGrpcTransport } from "@petrel/node";
import { TestService, createTestServiceImpl, eventually } from "@petrel/testing";

it("with maxConcurrentStreams 2, six calls on a fresh connection all succeed and at most two run at once", async () => {
  let active = 0;
  let maxActive = 0;
  let started = 0;
  const waiting: Array<() => void> = [];
  const impl: ServiceImpl<typeof TestService> = {
    ...createTestServiceImpl(),
    async echo(req) {
      active++;
      started++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((resolve) => waiting.push(resolve));
      active--;
      return { text: req.text };
    },
  };
  const server = createGrpcServer({ router: createRouter().service(TestService, impl), maxConcurrentStreams: 2 });
  const { port } = await server.listen();
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
  try {
    const client = createClient(TestService, transport);
    // All six are issued at once on a new connection, before the server's SETTINGS arrive.
    const calls = Array.from({ length: 6 }, (_, i) => client.echo({ text: `call ${i}` }));
    await eventually(() => started === 2, 10_000, "two handlers running");
    // Release handlers one at a time; each release lets exactly one queued call in.
    for (let released = 0; released < 6; released++) {
      await eventually(() => waiting.length > 0, 10_000, "a blocked handler");
      waiting.shift()?.();
    }
    const results = await Promise.all(calls);
    assert.deepEqual(
      results.map((r) => r.text),
      Array.from({ length: 6 }, (_, i) => `call ${i}`),
    );
    assert.equal(started, 6);
    assert.equal(maxActive, 2, "the server never ran more than two handlers at once");
  } finally {
    for (const w of waiting) w();
    await transport.close();
    await server.close({ graceMs: 2000 });
  }
});

it("maxConcurrentStreams is validated", () => {
  const router = createRouter().service(TestService, createTestServiceImpl());
  assert.throws(() => createGrpcServer({ router, maxConcurrentStreams: -1 }), /maxConcurrentStreams/);
  assert.throws(() => createGrpcServer({ router, maxConcurrentStreams: 1.5 }), /maxConcurrentStreams/);
});
