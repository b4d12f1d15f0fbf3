// Early load shedding: both servers ask an AdmissionController before decoding a request; a
// refusal is RESOURCE_EXHAUSTED with grpc-retry-pushback-ms and never reaches the handler; each
// admitted call releases its permit once, with an outcome that says how it ended.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Code,
  createClient,
  createRouter,
  type AdmissionController,
  type AdmissionOutcome,
  type AdmissionPermit,
  type ServiceImpl,
} from "@petrel/core";
import { TestService, createTestServiceImpl, eventually, expectRpcError } from "@petrel/testing";
import { createGrpcServer } from "./grpc-server.js";
import { createGrpcTransport } from "./grpc-transport.js";
import { createNativeServer } from "./native-server.js";
import { createNativeTransport } from "./native-transport.js";

/** Admits while `open`; records every release. */
class Gate implements AdmissionController {
  open = true;
  admitted = 0;
  readonly released: AdmissionOutcome[] = [];
  readonly pushbackMs = 250;
  admit(): AdmissionPermit | undefined {
    if (!this.open) return undefined;
    this.admitted++;
    let done = false;
    return {
      release: (outcome = "success") => {
        assert.equal(done, false, "a permit is released once");
        done = true;
        this.released.push(outcome);
      },
    };
  }
}

function counted() {
  const impl = createTestServiceImpl();
  const seen = { calls: 0 };
  const wrapped: ServiceImpl<typeof TestService> = {
    ...impl,
    echo(req, ctx) {
      seen.calls++;
      return impl.echo(req, ctx);
    },
  };
  return { router: createRouter().service(TestService, wrapped), seen };
}

const protocols = [
  {
    name: "petrel/1",
    async start(gate: Gate) {
      const { router, seen } = counted();
      const server = createNativeServer({ router, admission: gate });
      const { port } = await server.listen();
      const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
      return { seen, transport, stop: async () => (await transport.close(), await server.close({ graceMs: 1000 })) };
    },
  },
  {
    name: "gRPC",
    async start(gate: Gate) {
      const { router, seen } = counted();
      const server = createGrpcServer({ router, admission: gate });
      const { port } = await server.listen();
      const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
      return { seen, transport, stop: async () => (await transport.close(), await server.close({ graceMs: 1000 })) };
    },
  },
];

for (const p of protocols) {
  describe(`admission control on ${p.name}`, () => {
    it("refuses before the handler with RESOURCE_EXHAUSTED and pushback; releases permits with the outcome", async () => {
      const gate = new Gate();
      const { seen, transport, stop } = await p.start(gate);
      try {
        const client = createClient(TestService, transport);
        assert.equal((await client.echo({ text: "in" })).text, "in");
        await expectRpcError(client.echo({ text: "bad", failCode: Code.INVALID_ARGUMENT, failMessage: "no" }), Code.INVALID_ARGUMENT);
        // A call that ends for load reasons (the handler's own overload or deadline answer) is "dropped".
        await expectRpcError(
          client.echo({ text: "busy", failCode: Code.RESOURCE_EXHAUSTED, failMessage: "busy" }),
          Code.RESOURCE_EXHAUSTED,
        );
        const ac = new AbortController();
        const cancelled = client.sleep({ sleepMs: 60_000 }, { signal: ac.signal });
        await eventually(() => gate.admitted === 4, 10_000, "the sleep call admitted");
        ac.abort();
        await expectRpcError(cancelled, Code.CANCELLED);
        await eventually(() => gate.released.length === 4, 10_000, "four releases");
        assert.deepEqual(gate.released, ["success", "success", "dropped", "ignore"]);

        gate.open = false;
        const before = seen.calls;
        const err = await expectRpcError(client.echo({ text: "shed" }), Code.RESOURCE_EXHAUSTED);
        assert.match(err.rawMessage, /overloaded/);
        assert.equal(err.metadata.get("grpc-retry-pushback-ms"), "250");
        assert.equal(seen.calls, before, "the handler never ran");
        gate.open = true;
        assert.equal((await client.echo({ text: "again" })).text, "again");
      } finally {
        await stop();
      }
    });
  });
}
