// JSON-RPC over HTTP with content codings: Petrel client and server both ways, the server's
// answers to bombs, corrupt and unknown codings, and interop with jsonrpclib-pelix and curl.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as zlib from "node:zlib";
import { Code, createClient, createRouter, RpcError } from "@petrel/core";
import { createCompressionRegistry } from "@petrel/protocol-grpc";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { createDefaultGrpcCompressions } from "./grpc-compression.js";
import { createJsonRpcHttpHandler, type JsonRpcHttpOptions } from "./jsonrpc-http.js";
import { ArithService, arithImpl } from "./jsonrpc-arith-fixture.js";
import { PEER_DIR, PYTHON, peerMissing, pythonHas, run } from "./jsonrpc-peers-fixture.js";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";

interface Raw {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

function post(port: number, body: string | Buffer, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/jsonrpc",
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const echo = (text: string, id = 1) => JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo", params: { text }, id });

function decode(r: Raw): string {
  const ce = r.headers["content-encoding"];
  if (ce === undefined) return r.body.toString();
  if (ce === "gzip") return zlib.gunzipSync(r.body).toString();
  if (ce === "deflate") return zlib.inflateSync(r.body).toString();
  if (ce === "br") return zlib.brotliDecompressSync(r.body).toString();
  throw new Error(`unexpected content-encoding ${ce}`);
}

/** A server recording each exchange's request and response Content-Encoding. */
async function startWire(handler: ReturnType<typeof createJsonRpcHttpHandler>) {
  const wire = { requests: [] as (string | undefined)[], responses: [] as (string | undefined)[] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    wire.requests.push(req.headers["content-encoding"]);
    // writeHead with a header object bypasses getHeader(): read what the handler passes.
    const writeHead = res.writeHead;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      const headers = rest.find((h) => typeof h === "object") as Record<string, unknown> | undefined;
      wire.responses.push(headers?.["content-encoding"] as string | undefined);
      return (writeHead as (...a: unknown[]) => ServerResponse).call(res, status, ...rest);
    }) as typeof res.writeHead;
    if (!handler(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, wire, port: (server.address() as AddressInfo).port };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

describe("JSON-RPC over HTTP: content codings", () => {
  let server: Server;
  let port: number;
  let wire: Awaited<ReturnType<typeof startWire>>["wire"];
  const big = "petrel ".repeat(1000);
  before(async () => {
    const router = createRouter().service(TestService, createTestServiceImpl({ cancelled: [], lastHeaders: {} }));
    const options: JsonRpcHttpOptions = { maxBodyBytes: 64 * 1024 };
    ({ server, wire, port } = await startWire(createJsonRpcHttpHandler(router, options)));
  });
  after(() => stop(server));

  it("decodes gzip, deflate and x-gzip request bodies and compresses large responses per Accept-Encoding", async () => {
    const body = Buffer.from(echo(big));
    const cases: [string, Buffer, string, string][] = [
      ["gzip", zlib.gzipSync(body), "gzip", "gzip"],
      ["x-gzip", zlib.gzipSync(body), "deflate", "deflate"],
      ["deflate", zlib.deflateSync(body), "gzip;q=0.5, deflate;q=0.8", "deflate"],
      ["identity", body, "deflate;q=0.1, gzip", "gzip"],
    ];
    for (const [coding, bytes, accept, want] of cases) {
      const r = await post(port, bytes, { "content-encoding": coding, "accept-encoding": accept });
      assert.equal(r.status, 200, `${coding}: ${r.body}`);
      assert.equal(r.headers["content-encoding"], want, coding);
      assert.equal(r.headers.vary, "Accept-Encoding");
      assert.ok(r.body.length < body.length / 4, "the response is compressed");
      assert.equal(JSON.parse(decode(r)).result.text, big);
    }
  });

  it("keeps small responses identity, and honours q=0 and refused identity", async () => {
    const small = await post(port, echo("hi"), { "accept-encoding": "gzip, deflate" });
    assert.equal(small.headers["content-encoding"], undefined);
    assert.equal(small.headers.vary, "Accept-Encoding");
    assert.equal(JSON.parse(small.body.toString()).result.text, "hi");
    // identity refused: even a small body is compressed.
    const forced = await post(port, echo("hi"), { "accept-encoding": "identity;q=0, deflate" });
    assert.equal(forced.headers["content-encoding"], "deflate");
    assert.equal(JSON.parse(decode(forced)).result.text, "hi");
    // Everything refused, identity included: the server ignores the header rather than fail.
    const none = await post(port, echo(big), { "accept-encoding": "gzip;q=0, deflate;q=0, br;q=0, identity;q=0" });
    assert.equal(none.status, 200);
    assert.equal(none.headers["content-encoding"], undefined);
    const noGzip = await post(port, echo(big), { "accept-encoding": "gzip;q=0, *" });
    assert.notEqual(noGzip.headers["content-encoding"], "gzip");
    assert.notEqual(noGzip.headers["content-encoding"], undefined);
    assert.equal(JSON.parse(decode(noGzip)).result.text, big);
    const identityPreferred = await post(port, echo(big), { "accept-encoding": "gzip;q=0.5, identity" });
    assert.equal(identityPreferred.headers["content-encoding"], undefined);
    const noHeader = await post(port, echo(big));
    assert.equal(noHeader.headers["content-encoding"], undefined);
  });

  it("answers a bomb with 413, corrupt data with 400, an unknown coding with 415; the server keeps serving", async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < 64 * 1024);
    const b = await post(port, bomb, { "content-encoding": "gzip" });
    assert.equal(b.status, 413);
    assert.match(JSON.parse(b.body.toString()).error, /decompresses \(gzip\) to more than 65536 bytes/);

    const c = await post(port, Buffer.from("this is not gzip at all"), { "content-encoding": "gzip" });
    assert.equal(c.status, 400);
    assert.match(JSON.parse(c.body.toString()).error, /not valid gzip data/);

    const u = await post(port, echo("x"), { "content-encoding": "zstd" });
    assert.equal(u.status, 415);
    assert.match(JSON.parse(u.body.toString()).error, /unsupported content-encoding "zstd"/);
    const accepted = String(u.headers["accept-encoding"]).split(", ");
    assert.ok(accepted.includes("gzip") && accepted.includes("deflate"), String(u.headers["accept-encoding"]));

    const stacked = await post(port, zlib.deflateSync(zlib.gzipSync(Buffer.from(echo("two layers")))), {
      "content-encoding": "gzip, deflate",
    });
    assert.equal(stacked.status, 200);
    assert.equal(JSON.parse(decode(stacked)).result.text, "two layers");

    const ok = await post(port, echo("still here"));
    assert.equal(JSON.parse(ok.body.toString()).result.text, "still here");
  });

  it("Petrel client: Accept-Encoding on every call, decompressed responses, optional request compression", async () => {
    const plain = createJsonRpcTransport({ url: `http://127.0.0.1:${port}/jsonrpc` });
    const zipping = createJsonRpcTransport({ url: `http://127.0.0.1:${port}/jsonrpc`, compression: "gzip", compressMinBytes: 512 });
    try {
      wire.requests.length = 0;
      wire.responses.length = 0;
      const c = createClient(TestService, plain);
      assert.equal((await c.echo({ text: big })).text, big);
      assert.equal((await c.echo({ text: "small" })).text, "small");
      assert.deepEqual(wire.requests, [undefined, undefined]);
      assert.ok(wire.responses[0] !== undefined, "the large response came compressed");
      assert.equal(wire.responses[1], undefined);

      wire.requests.length = 0;
      const z = createClient(TestService, zipping);
      assert.equal((await z.echo({ text: big })).text, big);
      assert.equal((await z.echo({ text: "small" })).text, "small");
      assert.deepEqual(wire.requests, ["gzip", undefined]);
      const batch = await zipping.batch([
        { method: TestService.method.echo, message: { text: big } },
        { method: TestService.method.echo, message: { text: "b" } },
      ]);
      assert.equal((batch[0] as unknown as { text: string }).text, big);
      assert.equal((batch[1] as unknown as { text: string }).text, "b");
      assert.equal(wire.requests.at(-1), "gzip");
    } finally {
      await plain.close();
      await zipping.close();
    }
    assert.throws(
      () => createJsonRpcTransport({ url: "http://127.0.0.1:1/", compression: "zstd" }),
      /compression "zstd" is not registered/,
    );
  });

  it("an empty registry turns codings off on the server and the client", async () => {
    const router = createRouter().service(TestService, createTestServiceImpl({ cancelled: [], lastHeaders: {} }));
    const off = await startWire(createJsonRpcHttpHandler(router, { compressions: createCompressionRegistry() }));
    try {
      const r = await post(off.port, echo(big), { "accept-encoding": "gzip" });
      assert.equal(r.headers["content-encoding"], undefined);
      assert.equal(r.headers.vary, undefined);
      const u = await post(off.port, zlib.gzipSync(echo("x")), { "content-encoding": "gzip" });
      assert.equal(u.status, 415);
      assert.equal(u.headers["accept-encoding"], "identity");
    } finally {
      await stop(off.server);
    }
  });
});

describe("JSON-RPC client: a server that refuses compressed requests", () => {
  it("415 to a gzip request: the call is resent uncompressed, and later calls are not compressed", async () => {
    const router = createRouter().service(TestService, createTestServiceImpl({ cancelled: [], lastHeaders: {} }));
    const off = await startWire(createJsonRpcHttpHandler(router, { compressions: createCompressionRegistry() }));
    const transport = createJsonRpcTransport({ url: `http://127.0.0.1:${off.port}/jsonrpc`, compression: "gzip", compressMinBytes: 0 });
    try {
      const client = createClient(TestService, transport);
      assert.equal((await client.echo({ text: "first" })).text, "first");
      assert.equal((await client.echo({ text: "second" })).text, "second");
      assert.deepEqual(off.wire.requests, ["gzip", undefined, undefined]);
    } finally {
      await transport.close();
      await stop(off.server);
    }
  });
});

describe("JSON-RPC client: bad compressed responses", () => {
  let server: Server;
  let port: number;
  let reply: (res: ServerResponse) => void = () => {};
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => reply(res));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => stop(server));

  it("a response bomb is RESOURCE_EXHAUSTED, an unknown coding and corrupt data INTERNAL", async () => {
    const transport = createJsonRpcTransport({ url: `http://127.0.0.1:${port}/`, maxResponseBytes: 64 * 1024 });
    const client = createClient(TestService, transport);
    const send = (headers: Record<string, string>, body: Buffer) => (res: ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length, ...headers });
      res.end(body);
    };
    try {
      reply = send({ "content-encoding": "gzip" }, zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20)));
      await assert.rejects(client.echo({ text: "x" }), (e: unknown) => e instanceof RpcError && e.code === Code.RESOURCE_EXHAUSTED);
      reply = send({ "content-encoding": "zstd" }, Buffer.from("{}"));
      await assert.rejects(
        client.echo({ text: "x" }),
        (e: unknown) => e instanceof RpcError && e.code === Code.INTERNAL && /zstd/.test(e.rawMessage),
      );
      reply = send({ "content-encoding": "deflate" }, Buffer.from("garbage"));
      await assert.rejects(
        client.echo({ text: "x" }),
        (e: unknown) => e instanceof RpcError && e.code === Code.INTERNAL && /deflate/.test(e.rawMessage),
      );
      reply = send({ "content-encoding": "gzip" }, zlib.gzipSync(JSON.stringify({ jsonrpc: "2.0", result: { text: "ok" }, id: 4 })));
      assert.equal((await client.echo({ text: "x" })).text, "ok");
    } finally {
      await transport.close();
    }
  });
});

const noPython = peerMissing("/usr/bin/python3", pythonHas(undefined));
const noPelix = noPython ?? peerMissing("python3-jsonrpclib-pelix (Debian)", pythonHas("jsonrpclib"));

// jsonrpclib-pelix's client asks for gzip and reads gzip answers (xmlrpc.client's Transport),
// but never compresses requests itself; this subclass does, as a Python peer that does would.
const PELIX_GZIP_CLIENT = `
import gzip, json, sys
import jsonrpclib
from jsonrpclib.jsonrpc import Transport

class GzipTransport(Transport):
    def send_content(self, connection, request_body):
        body = gzip.compress(request_body.encode("utf-8") if isinstance(request_body, str) else request_body)
        connection.putheader("Content-Type", self._config.content_type)
        connection.putheader("Content-Encoding", "gzip")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        connection.send(body)

proxy = jsonrpclib.ServerProxy(sys.argv[1], transport=GzipTransport(jsonrpclib.config.DEFAULT))
print(json.dumps({"multiply": proxy.Arith.Multiply(A=7, B=6), "divide": proxy.Arith.Divide(A=17, B=5)}))
`;

describe("content codings with jsonrpclib-pelix", () => {
  let server: Server;
  let port: number;
  let wire: Awaited<ReturnType<typeof startWire>>["wire"];
  before(async () => {
    const router = createRouter().service(ArithService, arithImpl);
    // Arith's answers are tiny: compress all of them to see Python read gzip.
    ({ server, wire, port } = await startWire(createJsonRpcHttpHandler(router, { compressMinBytes: 0 })));
  });
  after(() => stop(server));

  it("Python client <- gzip responses, Python client -> gzip requests", { skip: noPelix }, async () => {
    const url = `http://127.0.0.1:${port}/jsonrpc`;
    wire.responses.length = 0;
    const out = JSON.parse(await run(PYTHON, [join(PEER_DIR, "pelix_client.py"), url]));
    assert.equal(out.multiply, 42);
    assert.deepEqual(out.divide, { Quo: 3, Rem: 2 });
    assert.deepEqual(out.batch, [6, { Quo: 4, Rem: 1 }]);
    assert.ok(wire.responses.filter((e) => e === "gzip").length >= 5, `responses: ${wire.responses.join(",")}`);

    wire.requests.length = 0;
    const zipped = JSON.parse(await run(PYTHON, ["-c", PELIX_GZIP_CLIENT, url]));
    assert.deepEqual(zipped, { multiply: 42, divide: { Quo: 3, Rem: 2 } });
    assert.deepEqual(wire.requests, ["gzip", "gzip"]);
  });
  // No Petrel client -> jsonrpclib-pelix server case: its SimpleJSONRPCRequestHandler decodes the
  // body as UTF-8 before xmlrpc's decode_request_content, so it cannot read compressed requests,
  // and it never compresses responses.
});

const noCurl = peerMissing("curl", existsSync("/usr/bin/curl"));

describe("curl --compressed against JSON-RPC over HTTP", () => {
  let server: Server;
  let port: number;
  before(async () => {
    const router = createRouter().service(TestService, createTestServiceImpl({ cancelled: [], lastHeaders: {} }));
    ({ server, port } = await startWire(createJsonRpcHttpHandler(router)));
  });
  after(() => stop(server));

  it("curl decodes the response and sees Content-Encoding", { skip: noCurl }, async () => {
    const text = "curl ".repeat(2000);
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        "/usr/bin/curl",
        [
          "-sS",
          "--compressed",
          "-D",
          "-",
          "-H",
          "content-type: application/json",
          "--data-binary",
          echo(text),
          `http://127.0.0.1:${port}/jsonrpc`,
        ],
        { timeout: 60_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
    const split = out.indexOf("\r\n\r\n");
    const head = out.slice(0, split).toLowerCase();
    const encoding = /\r\ncontent-encoding: ([\w-]+)/.exec(head)?.[1];
    const registered = createDefaultGrpcCompressions().names();
    assert.ok(encoding !== undefined && registered.includes(encoding), head);
    assert.match(head, /\r\nvary: accept-encoding/);
    assert.equal(JSON.parse(out.slice(split + 4)).result.text, text);
  });
});
