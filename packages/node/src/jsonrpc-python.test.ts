// Cross-language JSON-RPC 2.0 proof: Python clients (jsonrpclib-pelix, and the standard library
// alone) call a Petrel HTTP server; a Petrel client calls a jsonrpclib-pelix server.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, createClient, createRouter, RpcError } from "@petrel/core";
import { ArgsSchema, ArithService, arithImpl } from "./jsonrpc-arith-fixture.js";
import { createJsonRpcHttpHandler } from "./jsonrpc-http.js";
import { PEER_DIR, PYTHON, peerMissing, pythonHas, run, startServer, type PeerServer } from "./jsonrpc-peers-fixture.js";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";
import { join } from "node:path";

const noPython = peerMissing("/usr/bin/python3", pythonHas(undefined));
const noPelix = noPython ?? peerMissing("python3-jsonrpclib-pelix (Debian)", pythonHas("jsonrpclib"));

describe("Python clients -> Petrel JSON-RPC over HTTP", () => {
  let server: Server;
  let url: string;
  before(async () => {
    const router = createRouter().service(ArithService, arithImpl);
    const handler = createJsonRpcHttpHandler(router);
    server = createServer((req, res) => {
      if (!handler(req, res)) {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jsonrpc`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("jsonrpclib-pelix: calls, errors, batch, notification", { skip: noPelix }, async () => {
    const out = JSON.parse(await run(PYTHON, [join(PEER_DIR, "pelix_client.py"), url]));
    assert.equal(out.multiply, 42);
    assert.equal(out.multiplyPositional, 12);
    assert.deepEqual(out.divide, { Quo: 3, Rem: 2 });
    assert.deepEqual(out.divZero, [-32602, "divide by zero"]);
    assert.equal(out.unknown[0], -32601);
    assert.equal(out.unknownField[0], -32602);
    assert.equal(out.fullName, 42);
    assert.deepEqual(out.batch, [6, { Quo: 4, Rem: 1 }]);
  });

  it("standard library only: single, batch with notifications, empty answer, parse error", { skip: noPython }, async () => {
    const out = JSON.parse(await run(PYTHON, [join(PEER_DIR, "stdlib_client.py"), url]));
    assert.deepEqual(out.single, [200, { jsonrpc: "2.0", result: 42, id: "a" }]);
    const [status, batch] = out.batch;
    assert.equal(status, 200);
    // Three replies (the id-less notification gets none), matched by id: order is not promised.
    assert.equal(batch.length, 3);
    const byId = new Map(batch.map((r: { id: unknown }) => [r.id, r]));
    assert.equal((byId.get(1) as { result: number }).result, 10);
    const e = (byId.get(2) as { error: { code: number; message: string; data: { codeName: string } } }).error;
    assert.equal(e.code, -32602);
    assert.equal(e.message, "divide by zero");
    assert.equal(e.data.codeName, "INVALID_ARGUMENT");
    assert.deepEqual((byId.get(null) as { result: unknown }).result, { Quo: 3, Rem: 1 });
    assert.deepEqual(out.notification, [200, null]);
    assert.equal(out.parseError[1].error.code, -32700);
    assert.equal(out.parseError[1].id, null);
    assert.equal(out.emptyBatch[1].error.code, -32600);
    assert.equal(out.wrongType[1].error.code, -32602);
    assert.equal(out.wrongContentType[0], 415);
  });
});

describe("Petrel client -> Python jsonrpclib-pelix server", () => {
  let peer: PeerServer | undefined;
  before(async () => {
    if (noPelix === undefined) peer = await startServer(PYTHON, [join(PEER_DIR, "pelix_server.py")]);
  });
  after(() => peer?.close());

  it("calls Arith with by-name params and maps its errors", { skip: noPelix }, async () => {
    const transport = createJsonRpcTransport({ url: `http://127.0.0.1:${peer?.port}/`, naming: "go" });
    try {
      const arith = createClient(ArithService, transport) as unknown as Record<string, (req: unknown) => Promise<Record<string, unknown>>>;
      const product = await arith.multiply?.(create(ArgsSchema, { A: 7, B: 6 } as never));
      assert.equal(product?.value, 42);
      const q = await arith.divide?.({ A: 17, B: 5 });
      assert.equal(q?.Quo, 3);
      assert.equal(q?.Rem, 2);
      await assert.rejects(arith.divide?.({ A: 1, B: 0 }) as Promise<unknown>, (e: unknown) => {
        // jsonrpclib answers an exception with -32603 and its text: INTERNAL.
        return e instanceof RpcError && e.code === Code.INTERNAL && /divide by zero/.test(e.rawMessage);
      });
      const out = await transport.batch([
        { method: ArithService.methods[0]!, message: { A: 2, B: 3 } as never },
        { method: ArithService.methods[1]!, message: { A: 9, B: 0 } as never },
        { method: ArithService.methods[1]!, message: { A: 9, B: 4 } as never },
      ]);
      assert.equal((out[0] as unknown as { value: number }).value, 6);
      assert.ok(out[1] instanceof RpcError);
      assert.equal((out[2] as unknown as { Quo: number }).Quo, 2);
    } finally {
      await transport.close();
    }
  });
});
