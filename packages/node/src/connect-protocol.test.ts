// The Connect handler against the real @connectrpc/connect-node client (HTTP/1.1 and HTTP/2,
// JSON and binary, GET), plus hand-made requests for what a client never sends.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { Code as CCode, ConnectError, createClient } from "@connectrpc/connect";
import { Http2SessionManager, compressionGzip, createConnectTransport } from "@connectrpc/connect-node";
import { createRouter } from "@petrel/core";
import { TestService, createTestServiceImpl, eventually } from "@petrel/testing";
import { createConnectHandler, parseConnectContentType } from "./connect-protocol.js";
import { type Fixture, LookupResponseSchema, LookupService, startFixture } from "./connect-test-fixture.js";

let fx: Fixture;
const managers: Http2SessionManager[] = [];

before(async () => {
  fx = await startFixture({ maxReceiveMessageSize: 64 * 1024 });
});
after(async () => {
  for (const m of managers) m.abort();
  await fx.close();
});

type Variant = { name: string; http: "1.1" | "2"; binary: boolean };
const variants: Variant[] = [
  { name: "HTTP/1.1 JSON", http: "1.1", binary: false },
  { name: "HTTP/1.1 binary", http: "1.1", binary: true },
  { name: "HTTP/2 JSON", http: "2", binary: false },
  { name: "HTTP/2 binary", http: "2", binary: true },
];

function transport(v: Variant, extra: { useHttpGet?: boolean; gzip?: boolean } = {}) {
  const gzip = extra.gzip ? { sendCompression: compressionGzip, acceptCompression: [compressionGzip], compressMinBytes: 1 } : {};
  if (v.http === "1.1") {
    return createConnectTransport({ httpVersion: "1.1", baseUrl: fx.h1, useBinaryFormat: v.binary, useHttpGet: extra.useHttpGet, ...gzip });
  }
  const sessionManager = new Http2SessionManager(fx.h2);
  managers.push(sessionManager);
  return createConnectTransport({
    httpVersion: "2",
    baseUrl: fx.h2,
    useBinaryFormat: v.binary,
    useHttpGet: extra.useHttpGet,
    sessionManager,
    ...gzip,
  });
}

async function rejects(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConnectError, `not a ConnectError: ${e}`);
    return e;
  }
  assert.fail("call succeeded");
}

for (const v of variants) {
  describe(`Connect ${v.name}`, () => {
    it("unary: message, headers and trailers", async () => {
      const client = createClient(TestService, transport(v));
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      const res = await client.echo(
        { text: "héllo", payload: new Uint8Array([0, 1, 255]), seq: 7n },
        { headers: { "x-echo": "e1" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
      );
      assert.equal(res.text, "héllo");
      assert.deepEqual([...res.payload], [0, 1, 255]);
      assert.equal(res.seq, 7n);
      assert.equal(res.deadlineMs, -1n);
      assert.equal(header?.get("x-echo"), "e1");
      assert.equal(trailer?.get("x-echo-trailer"), "e1");
      assert.equal(fx.probe.lastHeaders["x-echo"], "e1");
      assert.equal(fx.probe.lastHeaders["connect-protocol-version"], undefined, "protocol headers are not metadata");
    });

    it("unary: error code, message and metadata", async () => {
      const client = createClient(TestService, transport(v));
      const err = await rejects(client.echo({ failCode: 5, failMessage: "no such thing" }));
      assert.equal(err.code, CCode.NotFound);
      assert.equal(err.rawMessage, "no such thing");
      assert.equal(err.metadata.get("x-fail"), "yes");
    });

    it("unary: error details", async () => {
      const client = createClient(LookupService, transport(v)) as unknown as Record<string, (r: unknown) => Promise<unknown>>;
      const err = await rejects((client.fail as (r: unknown) => Promise<unknown>)({ key: "go" }));
      assert.equal(err.code, CCode.FailedPrecondition);
      assert.equal(err.rawMessage, "cannot go ✗");
      assert.equal(err.metadata.get("x-why"), "because");
      const details = err.findDetails(LookupResponseSchema) as unknown as Array<{ value: string }>;
      assert.equal(details.length, 1);
      assert.equal(details[0]?.value, "detail");
    });

    it("unary: a non-RpcError reaches the client as internal, without its text", async () => {
      const client = createClient(TestService, transport(v));
      const err = await rejects(client.echo({ text: "throw-plain-error" }));
      assert.equal(err.code, CCode.Internal);
      assert.equal(err.rawMessage, "internal error");
    });

    it("unary: deadline is propagated and enforced", async () => {
      const client = createClient(TestService, transport(v));
      const ok = await client.echo({ text: "x" }, { timeoutMs: 60_000 });
      assert.ok(ok.deadlineMs > 0n && ok.deadlineMs <= 60_000n, `deadline ${ok.deadlineMs}`);
      const before = fx.probe.cancelled.filter((c) => c === "Sleep").length;
      const err = await rejects(client.sleep({ sleepMs: 30_000 }, { timeoutMs: 200 }));
      assert.equal(err.code, CCode.DeadlineExceeded);
      await eventually(() => fx.probe.cancelled.filter((c) => c === "Sleep").length > before);
    });

    it("unary: gzip both ways", async () => {
      const client = createClient(TestService, transport(v, { gzip: true }));
      const payload = new Uint8Array(5000).fill(7);
      const res = await client.echo({ text: "zip", payload });
      assert.equal(res.text, "zip");
      assert.ok(Buffer.from(res.payload).equals(payload));
      // Streaming: envelopes compressed per message (connect-content-encoding).
      let n = 0;
      for await (const m of client.serverStream({ text: "zs", count: 2, payload })) {
        assert.ok(Buffer.from(m.payload).equals(payload));
        n++;
      }
      assert.equal(n, 2);
    });

    it("server streaming: messages, trailers and an error at the end", async () => {
      const client = createClient(TestService, transport(v));
      let trailer: Headers | undefined;
      const got: number[] = [];
      for await (const m of client.serverStream(
        { text: "s", count: 3 },
        { headers: { "x-echo": "st" }, onTrailer: (t) => (trailer = t) },
      )) {
        got.push(m.count);
      }
      assert.deepEqual(got, [0, 1, 2]);
      assert.equal(trailer?.get("x-echo-trailer"), "st");
      const seen: number[] = [];
      const err = await rejects(
        (async () => {
          for await (const m of client.serverStream({ text: "s", count: 2, failCode: 10 })) seen.push(m.count);
        })(),
      );
      assert.deepEqual(seen, [0, 1]);
      assert.equal(err.code, CCode.Aborted);
      assert.equal(err.rawMessage, "stream failed on purpose");
    });

    it("server streaming: a client that goes away cancels the handler", async () => {
      const client = createClient(TestService, transport(v));
      const ac = new AbortController();
      const before = fx.probe.cancelled.filter((c) => c === "ServerStream").length;
      await rejects(
        (async () => {
          for await (const _ of client.serverStream({ text: "s", count: 1000, intervalMs: 20 }, { signal: ac.signal })) ac.abort();
        })(),
      );
      await eventually(() => fx.probe.cancelled.filter((c) => c === "ServerStream").length > before);
    });

    it("GET for a NO_SIDE_EFFECTS method", async () => {
      const client = createClient(LookupService, transport(v, { useHttpGet: true })) as unknown as Record<
        string,
        (r: unknown) => Promise<{ value: string }>
      >;
      const n = fx.methods.length;
      const got = await (client.get as (r: unknown) => Promise<{ value: string }>)({ key: "k ü/+" });
      assert.equal(got.value, "got k ü/+");
      assert.match(fx.methods.slice(n).join("\n"), /^GET \/petrel\.testing\.v1\.LookupService\/Get\?/m);
      // Other methods still POST.
      const put = await (client.put as (r: unknown) => Promise<{ value: string }>)({ key: "p" });
      assert.equal(put.value, "put p");
      assert.match(fx.methods.slice(n).join("\n"), /^POST \/petrel\.testing\.v1\.LookupService\/Put/m);
    });

    if (v.http === "2") {
      it("client streaming and bidi", async () => {
        const client = createClient(TestService, transport(v));
        async function* reqs() {
          for (const t of ["a", "b", "c"]) yield { text: t };
        }
        const cs = await client.clientStream(reqs(), { headers: { "x-echo": "cs" } });
        assert.equal(cs.text, "abc");
        assert.equal(cs.count, 3);
        const out: string[] = [];
        for await (const m of client.bidi(reqs())) out.push(`${m.text}${m.count}`);
        assert.deepEqual(out, ["a0", "b1", "c2"]);
        async function* bad() {
          yield { text: "ok" };
          yield { text: "x", failCode: 7, failMessage: "nope" };
        }
        const err = await rejects(client.clientStream(bad()));
        assert.equal(err.code, CCode.PermissionDenied);
        assert.equal(err.metadata.get("x-fail"), "yes");
      });
    }
  });
}

describe("Connect wire details", () => {
  it("unknown method: 404 with code unimplemented", async () => {
    const res = await fetch(`${fx.h1}/petrel.testing.v1.TestService/Nope`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: "{}",
    });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { code: "unimplemented", message: "unknown method /petrel.testing.v1.TestService/Nope" });
    const client = createClient(TestService, createConnectTransport({ httpVersion: "1.1", baseUrl: `${fx.h1}/nothing` }));
    assert.equal((await rejects(client.echo({}))).code, CCode.Unimplemented);
  });

  it("curl-style unary POST, with trailers as trailer- headers and the error JSON with details", async () => {
    const res = await fetch(`${fx.h1}/petrel.testing.v1.TestService/Echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-echo": "c" },
      body: JSON.stringify({ text: "hi" }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("x-echo"), "c");
    assert.equal(res.headers.get("trailer-x-echo-trailer"), "c");
    assert.deepEqual(await res.json(), { text: "hi", deadlineMs: "-1" });
    // Large responses are compressed when the client accepts it (fetch inflates transparently).
    const big = await fetch(`${fx.h1}/petrel.testing.v1.TestService/Echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "accept-encoding": "gzip" },
      body: JSON.stringify({ text: "y".repeat(4000) }),
    });
    assert.equal(big.headers.get("content-encoding"), "gzip");
    assert.equal(((await big.json()) as { text: string }).text, "y".repeat(4000));
    const bad = await fetch(`${fx.h1}/petrel.testing.v1.LookupService/Fail`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: "x" }),
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get("x-why"), "because");
    const body = (await bad.json()) as { code: string; details: Array<{ type: string; value: string }> };
    assert.equal(body.code, "failed_precondition");
    assert.deepEqual(body.details, [{ type: "petrel.testing.v1.LookupResponse", value: "CgZkZXRhaWw" }]);
  });

  it("bad input: invalid JSON, bad timeout, unsupported media, oversized body, GET on a side-effecting method", async () => {
    const url = `${fx.h1}/petrel.testing.v1.TestService/Echo`;
    const post = (headers: Record<string, string>, body: string | Uint8Array) =>
      fetch(url, { method: "POST", headers: { "connect-protocol-version": "1", ...headers }, body });
    let res = await post({ "content-type": "application/json" }, "{not json");
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, "invalid_argument");
    res = await post({ "content-type": "application/json", "connect-timeout-ms": "soon" }, "{}");
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /connect-timeout-ms/);
    res = await post({ "content-type": "text/xml" }, "<x/>");
    assert.equal(res.status, 415);
    await res.arrayBuffer();
    res = await post({ "content-type": "application/connect+json" }, "{}");
    assert.equal(res.status, 415, "streaming content-type on a unary method");
    await res.arrayBuffer();
    res = await post({ "content-type": "application/json" }, JSON.stringify({ text: "x".repeat(70 * 1024) }));
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code: string }).code, "resource_exhausted");
    res = await post({ "content-type": "application/json", "content-encoding": "br0tli" }, "{}");
    assert.equal(res.status, 501);
    await res.arrayBuffer();
    res = await fetch(`${fx.h1}/petrel.testing.v1.LookupService/Put?encoding=json&message=%7B%7D`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    await res.arrayBuffer();
    res = await fetch(`${fx.h1}/petrel.testing.v1.LookupService/Get?encoding=json`);
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    res = await fetch(`${fx.h1}/petrel.testing.v1.LookupService/Get?encoding=json&message=%7B%22key%22%3A%22q%22%7D`);
    assert.deepEqual(await res.json(), { value: "got q" });
  });

  it("streaming end-stream message over raw HTTP/2, and an unknown stream method", async () => {
    const session = http2.connect(fx.h2);
    try {
      const body = Buffer.from(JSON.stringify({ text: "r", count: 2 }));
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
      const stream = session.request({
        ":method": "POST",
        ":path": "/petrel.testing.v1.TestService/ServerStream",
        "content-type": "application/connect+json",
        "x-echo": "raw",
      });
      stream.end(frame);
      const chunks: Buffer[] = [];
      const headers = await new Promise<http2.IncomingHttpHeaders>((r) => stream.on("response", r));
      for await (const c of stream) chunks.push(c as Buffer);
      assert.equal(headers[":status"], 200);
      assert.equal(headers["content-type"], "application/connect+json");
      const all = Buffer.concat(chunks);
      const frames: Array<{ flag: number; json: unknown }> = [];
      for (let off = 0; off < all.length; ) {
        const len = all.readUInt32BE(off + 1);
        frames.push({ flag: all[off] as number, json: JSON.parse(all.subarray(off + 5, off + 5 + len).toString()) });
        off += 5 + len;
      }
      assert.deepEqual(frames, [
        { flag: 0, json: { text: "r" } },
        { flag: 0, json: { text: "r", count: 1 } },
        { flag: 2, json: { metadata: { "x-echo-trailer": ["raw"] } } },
      ]);
    } finally {
      session.close();
    }
  });

  it("never takes plain gRPC, and leaves unknown JSON POSTs to other handlers", () => {
    const handler = createConnectHandler(createRouter().service(TestService, createTestServiceImpl()));
    const untouched = new Proxy({}, { get: () => assert.fail("response touched") }) as never;
    const req = (method: string, url: string, headers: Record<string, string>) => ({ method, url, headers }) as never;
    assert.equal(handler(req("POST", "/petrel.testing.v1.TestService/Echo", { "content-type": "application/grpc" }), untouched), false);
    assert.equal(
      handler(
        req("POST", "/petrel.testing.v1.TestService/Echo", { "content-type": "application/grpc+proto", "connect-protocol-version": "1" }),
        untouched,
      ),
      false,
    );
    assert.equal(handler(req("POST", "/rpc", { "content-type": "application/json" }), untouched), false);
    assert.equal(handler(req("GET", "/v1/things/1", {}), untouched), false);
  });

  it("parses content types", () => {
    assert.deepEqual(parseConnectContentType("application/json; charset=utf-8"), { codec: "json", stream: false });
    assert.deepEqual(parseConnectContentType("application/connect+proto"), { codec: "proto", stream: true });
    assert.equal(parseConnectContentType("application/connect+"), undefined);
    assert.equal(parseConnectContentType("application/grpc-web"), undefined);
    assert.equal(parseConnectContentType("text/plain"), undefined);
  });
});
