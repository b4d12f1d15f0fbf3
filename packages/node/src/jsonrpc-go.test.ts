// Go net/rpc compatibility, proven with Go programs that use only the standard library:
// a `jsonrpc.Dial` client calls Petrel's TCP server; Petrel's client calls a `jsonrpc.ServeConn` server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, createClient, createRouter, RpcError } from "@petrel/core";
import { goAvailable } from "@petrel/testing";
import { ArithService, arithImpl } from "./jsonrpc-arith-fixture.js";
import {
  type ArithClient,
  assertArithAgainstGo,
  assertGoClientCallsArith,
  buildNetRpcPeer,
  peerMissing,
  type PeerServer,
  startNetRpcGoServer,
} from "./jsonrpc-peers-fixture.js";
import { createJsonRpcTcpServer, type JsonRpcTcpServer } from "./jsonrpc-tcp.js";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";

const noGo = peerMissing("a Go toolchain (Debian golang-go)", goAvailable());

describe("Go jsonrpc.Dial client -> Petrel TCP server", { skip: noGo }, () => {
  let server: JsonRpcTcpServer;
  let port: number;
  before(async () => {
    await buildNetRpcPeer("go-client");
    server = createJsonRpcTcpServer(createRouter().service(ArithService, arithImpl));
    port = (await server.listen()).port;
  });
  after(() => server?.close());

  it("gets Multiply's answer, Divide's struct, errors as Go errors, and pipelined replies", async () => {
    await assertGoClientCallsArith("json", port, /method not found: Arith.Nope/);
  });
});

describe("Petrel client (JSON-RPC 1.0) -> Go jsonrpc.ServeConn server", { skip: noGo }, () => {
  let peer: PeerServer;
  before(async () => {
    peer = await startNetRpcGoServer("json");
  });
  after(() => peer?.close());

  it("calls Arith.Multiply and Arith.Divide, and maps Go's error string", async () => {
    const transport = createJsonRpcTransport({ protocol: "tcp", port: peer.port, version: "1.0", connections: 2 });
    try {
      const arith = createClient(ArithService, transport) as unknown as ArithClient;
      await assertArithAgainstGo(arith);
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
