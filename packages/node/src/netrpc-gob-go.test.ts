// Go net/rpc's default (gob) protocol, proven with Go programs that use only the standard
// library: an `rpc.Dial` client calls Petrel's server; Petrel's client calls an `rpc.ServeConn` server.
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { looksLikeGobRpc } from "@petrel/protocol-gob";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, createClient, createRouter, Metadata, RpcError } from "@petrel/core";
import { ArgsSchema, ArithService, arithImpl } from "./jsonrpc-arith-fixture.js";
import { goAvailable } from "@petrel/testing";
import {
  type ArithClient,
  assertArithAgainstGo,
  assertGoClientCallsArith,
  buildNetRpcPeer,
  peerMissing,
  type PeerServer,
  run,
  startNetRpcGoServer,
} from "./jsonrpc-peers-fixture.js";
import { createGobRpcServer, type GobRpcServer } from "./netrpc-gob-server.js";
import { createGobRpcTransport } from "./netrpc-gob-transport.js";

const noGo = peerMissing("a Go toolchain (Debian golang-go)", goAvailable());

describe("Go rpc.Dial (gob) client -> Petrel net/rpc server", { skip: noGo }, () => {
  let server: GobRpcServer;
  let bin: string;
  let port: number;
  const handlerErrors: unknown[] = [];
  before(async () => {
    bin = await buildNetRpcPeer("go-client");
    const router = createRouter().service(ArithService, arithImpl);
    server = createGobRpcServer(router, { onHandlerError: (e) => handlerErrors.push(e) });
    port = (await server.listen()).port;
  });
  after(() => server?.close());

  it("gets Multiply's answer, Divide's struct, errors as Go errors, and pipelined replies", async () => {
    await assertGoClientCallsArith("gob", port, /^rpc: can't find method Arith\.Nope$/);
  });

  it("closes a connection that sends bytes that are not gob, and keeps serving others", async () => {
    const closed = await new Promise<boolean>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port });
      s.on("error", reject);
      s.on("close", () => resolve(true));
      s.on("data", () => {});
      s.end(Buffer.from("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    });
    assert.ok(closed);
    // A message length over the limit ends the connection before the bytes arrive.
    const big = await new Promise<boolean>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port });
      s.on("error", reject);
      s.on("close", () => resolve(true));
      s.write(Uint8Array.of(0xfc, 0x7f, 0xff, 0xff, 0xff));
    });
    assert.ok(big);
    const out = JSON.parse(await run(bin, ["-codec=gob", `127.0.0.1:${port}`]));
    assert.equal(out.multiply, 42);
    assert.deepEqual(handlerErrors, []);
  });
});

describe("protocol detection", { skip: noGo }, () => {
  it("recognises a Go gob client's first bytes (and not JSON, HTTP or TLS)", async () => {
    const bin = await buildNetRpcPeer("go-client");
    let head: Buffer | undefined;
    const sniffer = createServer((s) => {
      s.once("data", (d: Buffer) => {
        head ??= d;
        s.destroy(); // the Go client's calls then fail with ErrShutdown and it exits
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => sniffer.listen(0, "127.0.0.1", r));
    try {
      const { port } = sniffer.address() as { port: number };
      await run(bin, ["-codec=gob", `127.0.0.1:${port}`]);
    } finally {
      await new Promise((r) => sniffer.close(r));
    }
    assert.ok(head !== undefined && looksLikeGobRpc(head), `Go's first bytes: ${head?.subarray(0, 4).toString("hex")}`);
    for (const other of ['{"id":1}', "[1]", "GET / HTTP/1.1", "PRI * HTTP/2.0"])
      assert.equal(looksLikeGobRpc(Buffer.from(other)), false, other);
    assert.equal(looksLikeGobRpc(Uint8Array.of(0x16, 0x03, 0x01)), false);
  });
});

describe("Petrel client (gob) -> Go rpc.ServeConn server", { skip: noGo }, () => {
  let peer: PeerServer;
  before(async () => {
    peer = await startNetRpcGoServer("gob");
  });
  after(() => peer?.close());

  it("calls Arith.Multiply and Arith.Divide, pipelines by Seq, and maps Go's error strings", async () => {
    const transport = createGobRpcTransport({ port: peer.port });
    try {
      const arith = createClient(ArithService, transport) as unknown as ArithClient;
      await assertArithAgainstGo(arith);
      // Go's server answers each connection's calls concurrently; Seq matches them up.
      const many = await Promise.all(Array.from({ length: 40 }, (_, i) => arith.multiply({ A: i, B: -2 })));
      assert.deepEqual(
        many.map((m) => m.value),
        Array.from({ length: 40 }, (_, i) => 0 - 2 * i),
      );
      // The connection survives errors: one more call on it.
      assert.equal((await arith.multiply({ A: 3, B: 3 })).value, 9);
    } finally {
      await transport.close();
    }
  });

  it("maps an unknown method to UNIMPLEMENTED and a closed transport to UNAVAILABLE", async () => {
    const transport = createGobRpcTransport({ port: peer.port });
    const method = { ...ArithService.methods[0]!, name: "Nope" } as (typeof ArithService.methods)[0];
    try {
      await assert.rejects(
        transport.unary({
          stream: false,
          service: ArithService,
          method,
          path: "/petrel.jsonrpc.test.Arith/Nope",
          header: new Metadata(),
          deadline: undefined,
          signal: undefined,
          codec: undefined,
          message: create(ArgsSchema, { A: 1 } as never) as never,
        }),
        (e: unknown) => e instanceof RpcError && e.code === Code.UNIMPLEMENTED && /can't find method Arith.Nope/.test(e.rawMessage),
      );
    } finally {
      await transport.close();
    }
    const arith = createClient(ArithService, transport) as unknown as ArithClient;
    // Closing fails calls in flight; a new call reconnects.
    const pending = arith.multiply({ A: 2, B: 2 });
    await transport.close();
    await assert.rejects(pending, (e: unknown) => e instanceof RpcError && e.code === Code.UNAVAILABLE);
    assert.equal((await arith.multiply({ A: 5, B: 5 })).value, 25);
    await transport.close();
  });
});

describe("Petrel client (gob) -> Petrel net/rpc server", () => {
  it("round-trips without Go, and keeps error codes", async () => {
    const server = createGobRpcServer(createRouter().service(ArithService, arithImpl));
    const { port } = await server.listen();
    const transport = createGobRpcTransport({ port });
    try {
      const arith = createClient(ArithService, transport) as unknown as ArithClient;
      assert.equal((await arith.multiply({ A: -7, B: 6 })).value, -42);
      await assert.rejects(
        arith.divide({ A: 1, B: 0 }),
        (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT && e.rawMessage === "divide by zero",
      );
      const q = await arith.divide({ A: 2 ** 31 - 1, B: 10 });
      assert.deepEqual([q.Quo, q.Rem], [214748364, 7]);
    } finally {
      await transport.close();
      await server.close();
    }
  });
});
