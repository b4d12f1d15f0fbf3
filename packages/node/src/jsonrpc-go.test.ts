// Go net/rpc compatibility, proven with Go programs that use only the standard library:
// a `jsonrpc.Dial` client calls Petrel's TCP server; Petrel's client calls a `jsonrpc.ServeConn` server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, createClient, createRouter, RpcError } from "@petrel/core";
import { ArithService, arithImpl } from "./jsonrpc-arith-fixture.js";
import { buildGo, goAvailable, peerMissing, run, startServer, type PeerServer } from "./jsonrpc-peers-fixture.js";
import { createJsonRpcTcpServer, type JsonRpcTcpServer } from "./jsonrpc-tcp.js";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";

const noGo = peerMissing("a Go toolchain (Debian golang-go)", goAvailable());
type ArithClient = Record<"multiply" | "divide", (req: { A: number; B: number }) => Promise<Record<string, number>>>;

describe("Go jsonrpc.Dial client -> Petrel TCP server", { skip: noGo }, () => {
  let server: JsonRpcTcpServer;
  let bin: string;
  let addr: string;
  before(async () => {
    bin = await buildGo("go-client");
    server = createJsonRpcTcpServer(createRouter().service(ArithService, arithImpl));
    const { port } = await server.listen();
    addr = `127.0.0.1:${port}`;
  });
  after(() => server?.close());

  it("gets Multiply's answer, Divide's struct, errors as Go errors, and pipelined replies", async () => {
    const out = JSON.parse(await run(bin, [addr]));
    assert.equal(out.multiply, 42);
    assert.deepEqual(out.divide, { Quo: 3, Rem: 2 });
    assert.equal(out.divZeroError, "[invalid_argument] divide by zero");
    assert.match(out.unknownError, /method not found: Arith.Nope/);
    assert.deepEqual(
      out.squares,
      Array.from({ length: 20 }, (_, i) => i * i),
    );
  });
});

describe("Petrel client (JSON-RPC 1.0) -> Go jsonrpc.ServeConn server", { skip: noGo }, () => {
  let peer: PeerServer;
  before(async () => {
    peer = await startServer(await buildGo("go-server"), []);
  });
  after(() => peer?.close());

  it("calls Arith.Multiply and Arith.Divide, and maps Go's error string", async () => {
    const transport = createJsonRpcTransport({ protocol: "tcp", port: peer.port, version: "1.0", connections: 2 });
    try {
      const arith = createClient(ArithService, transport) as unknown as ArithClient;
      assert.equal((await arith.multiply({ A: 7, B: 6 })).value, 42);
      const q = await arith.divide({ A: 17, B: 5 });
      assert.deepEqual([q.Quo, q.Rem], [3, 2]);
      await assert.rejects(
        arith.divide({ A: 1, B: 0 }),
        (e: unknown) => e instanceof RpcError && e.code === Code.UNKNOWN && e.rawMessage === "divide by zero",
      );
      // Pipelined on two connections; Go answers each connection's calls concurrently.
      const many = await Promise.all(Array.from({ length: 40 }, (_, i) => arith.multiply({ A: i, B: 2 })));
      assert.deepEqual(
        many.map((m) => m.value),
        Array.from({ length: 40 }, (_, i) => i * 2),
      );
      await assert.rejects(
        transport.batch([{ method: ArithService.methods[0]!, message: {} as never }]),
        (e: unknown) => e instanceof RpcError && e.code === Code.UNIMPLEMENTED,
      );
    } finally {
      await transport.close();
    }
  });
});
