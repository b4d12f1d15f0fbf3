import assert from "node:assert/strict";
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, createClient, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { createJsonRpcTcpServer, type JsonRpcTcpServer } from "./jsonrpc-tcp.js";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";

/** A raw client: sends bytes, collects newline-separated replies until `count` or the socket closes. */
function raw(port: number) {
  const socket: Socket = connect({ host: "127.0.0.1", port });
  let buf = "";
  let closed = false;
  const waiters: (() => void)[] = [];
  socket.on("data", (d: Buffer) => {
    buf += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  socket.on("close", () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  socket.on("error", () => {});
  const lines = () => buf.split("\n").filter((l) => l !== "");
  return {
    socket,
    send: (s: string | Buffer) => socket.write(s),
    async replies(count: number): Promise<unknown[]> {
      while (lines().length < count && !closed) await new Promise<void>((r) => waiters.push(r));
      return lines().map((l) => JSON.parse(l));
    },
    async closedNow(): Promise<boolean> {
      while (!closed) await new Promise<void>((r) => waiters.push(r));
      return true;
    },
  };
}

describe("JSON-RPC over raw TCP", () => {
  let server: JsonRpcTcpServer;
  let port: number;
  before(async () => {
    server = createJsonRpcTcpServer(createRouter().service(TestService, createTestServiceImpl()), { maxMessageBytes: 4096 });
    ({ port } = await server.listen());
  });
  after(() => server.close());

  it("splits values written back to back and in pieces; answers 2.0 and 1.0 on one connection", async () => {
    const c = raw(port);
    const msg = `{"jsonrpc":"2.0","method":"TestService.Echo","params":{"text":"a"},"id":1}{"method":"TestService.Echo","params":[{"text":"b"}],"id":2}`;
    c.send(msg.slice(0, 10));
    await new Promise((r) => setImmediate(r));
    c.send(`${msg.slice(10)}\n [{"jsonrpc":"2.0","method":"TestService.Echo","params":{"text":"c"},"id":"3"}]`);
    const replies = (await c.replies(3)) as Record<string, unknown>[];
    const v2 = replies.find((r) => r.id === 1) as { jsonrpc: string; result: { text: string } };
    assert.equal(v2.jsonrpc, "2.0");
    assert.equal(v2.result.text, "a");
    const v1 = replies.find((r) => r.id === 2) as Record<string, unknown>;
    assert.deepEqual(Object.keys(v1).sort(), ["error", "id", "result"]);
    assert.equal((v1.result as unknown as { text: string }).text, "b");
    const batch = replies.find(Array.isArray) as unknown as { result: { text: string } }[];
    assert.equal(batch[0]?.result.text, "c");
    c.socket.destroy();
  });

  it("answers out of order: a slow call does not hold back a fast one", async () => {
    const c = raw(port);
    c.send(
      `{"jsonrpc":"2.0","method":"TestService.Sleep","params":{"sleepMs":300},"id":"slow"}{"jsonrpc":"2.0","method":"TestService.Echo","id":"fast"}`,
    );
    const replies = (await c.replies(2)) as { id: string }[];
    assert.deepEqual(
      replies.map((r) => r.id),
      ["fast", "slow"],
    );
    c.socket.destroy();
  });

  it("answers invalid JSON inside a balanced value and goes on", async () => {
    const c = raw(port);
    c.send(`{"jsonrpc": nope}{"jsonrpc":"2.0","method":"TestService.Echo","params":{"text":"ok"},"id":1}`);
    const [bad, good] = (await c.replies(2)) as { error?: { code: number }; id: unknown; result?: { text: string } }[];
    assert.equal(bad?.error?.code, -32700);
    assert.equal(bad?.id, null);
    assert.equal(good?.result?.text, "ok");
    c.socket.destroy();
  });

  it("closes on garbage and on oversized values, after a parse error; others keep being served", async () => {
    for (const junk of ["hello", "\u0000\u0001", "42", `{"a":"${"x".repeat(5000)}"}`]) {
      const c = raw(port);
      c.send(junk);
      const [r] = (await c.replies(1)) as { error: { code: number; message: string } }[];
      assert.equal(r?.error.code, -32700, junk.slice(0, 10));
      assert.equal(await c.closedNow(), true);
    }
    const c = raw(port);
    c.send(`{"jsonrpc":"2.0","method":"TestService.Echo","params":{"text":"still"},"id":1}`);
    assert.equal(((await c.replies(1))[0] as { result: { text: string } }).result.text, "still");
    c.socket.destroy();
  });

  it("answers what it has when the peer half-closes mid-value", async () => {
    const c = raw(port);
    c.send(`{"jsonrpc":"2.0","method":"TestService.Echo","id":1}{"jsonrpc":`);
    c.socket.end();
    const replies = (await c.replies(2)) as { error?: { code: number }; id: unknown }[];
    assert.equal(replies.length, 2);
    assert.ok(replies.some((r) => r.id === 1));
    assert.ok(replies.some((r) => r.error?.code === -32700));
  });

  it("gives a typed client that pipelines on a small pool, with deadlines and batches", async () => {
    const transport = createJsonRpcTransport({ protocol: "tcp", port, connections: 2 });
    try {
      const client = createClient(TestService, transport);
      const res = await Promise.all(Array.from({ length: 50 }, (_, i) => client.echo({ text: `n${i}` })));
      assert.deepEqual(
        res.map((r) => r.text),
        Array.from({ length: 50 }, (_, i) => `n${i}`),
      );
      await assert.rejects(
        client.echo({ failCode: Code.ALREADY_EXISTS, failMessage: "dup" }),
        (e: unknown) => e instanceof RpcError && e.code === Code.ALREADY_EXISTS,
      );
      await assert.rejects(
        client.sleep({ sleepMs: 60_000 }, { timeoutMs: 50 }),
        (e: unknown) => e instanceof RpcError && e.code === Code.DEADLINE_EXCEEDED,
      );
      // The connection is still usable after an abandoned call.
      assert.equal((await client.echo({ text: "again" })).text, "again");
      const out = await transport.batch([
        { method: TestService.method.echo, message: { text: "b1" } },
        { method: TestService.method.echo, message: { failCode: Code.NOT_FOUND } },
      ]);
      assert.equal((out[0] as unknown as { text: string }).text, "b1");
      assert.ok(out[1] instanceof RpcError && out[1].code === Code.NOT_FOUND);
      const v1 = createJsonRpcTransport({ protocol: "tcp", port, version: "1.0", naming: "path" });
      try {
        assert.equal((await createClient(TestService, v1).echo({ text: "one-oh" })).text, "one-oh");
        await assert.rejects(
          createClient(TestService, v1).echo({ failCode: Code.ABORTED, failMessage: "x" }),
          (e: unknown) => e instanceof RpcError && e.code === Code.ABORTED && e.rawMessage === "x",
        );
      } finally {
        await v1.close();
      }
    } finally {
      await transport.close();
    }
  });

  it("a client call ends CANCELLED when its signal aborts, and the connection keeps serving", async () => {
    const transport = createJsonRpcTransport({ protocol: "tcp", port, connections: 1 });
    try {
      const client = createClient(TestService, transport);
      const ac = new AbortController();
      const pending = client.sleep({ sleepMs: 60_000 }, { signal: ac.signal });
      ac.abort();
      await assert.rejects(pending, (e: unknown) => e instanceof RpcError && e.code === Code.CANCELLED);
      assert.equal((await client.echo({ text: "after" })).text, "after");
    } finally {
      await transport.close();
    }
  });

  it("an id-less error reply (a peer's parse error) fails the calls waiting on that connection", async () => {
    // A peer that answers every line with a JSON-RPC parse error, id null, as a server does
    // for input it could not parse.
    const peer = createNetServer((sock) => {
      sock.on("data", () => sock.write('{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error: bad"},"id":null}\n'));
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
    const transport = createJsonRpcTransport({ protocol: "tcp", port: (peer.address() as AddressInfo).port });
    try {
      await assert.rejects(
        createClient(TestService, transport).echo({ text: "x" }, { timeoutMs: 30_000 }),
        (e: unknown) => e instanceof RpcError && e.code !== Code.DEADLINE_EXCEEDED && /parse error/.test(e.rawMessage),
      );
    } finally {
      await transport.close();
      await new Promise((r) => peer.close(r));
    }
  });

  it("fails calls in flight with UNAVAILABLE when the server goes away", async () => {
    const s2 = createJsonRpcTcpServer(createRouter().service(TestService, createTestServiceImpl()));
    const { port: p2 } = await s2.listen();
    const transport = createJsonRpcTransport({ protocol: "tcp", port: p2 });
    const pending = createClient(TestService, transport).sleep({ sleepMs: 60_000 });
    await new Promise((r) => setTimeout(r, 50));
    await s2.close();
    await assert.rejects(pending, (e: unknown) => e instanceof RpcError && e.code === Code.UNAVAILABLE);
    await transport.close();
  });
});
