/**
 * The one-port server: protocol detection (pure, property-tested) and a real server that serves
 * petrel/1, gRPC, HTTP/2 non-gRPC requests, HTTP/1.1, raw-TCP JSON and TLS (ALPN) on one port.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { createClient, createRouter } from "@petrel/core";
import fc from "fast-check";
import { TestService, createTestCerts, createTestServiceImpl, eventually, opensslPath, type TestCerts } from "@petrel/testing";
import { createGrpcTransport } from "./grpc-transport.js";
import type { HttpHandler } from "./http-handler.js";
import { createNativeTransport } from "./native-transport.js";
import { createPetrelServer, detectProtocol, type PetrelServer } from "./server.js";
import type { Registrar } from "@petrel/discovery";

const router = () => createRouter().service(TestService, createTestServiceImpl());

/** An HTTP protocol stand-in: answers POST /echo with what it got and the HTTP version. */
const echoHandler: HttpHandler = (req, res) => {
  if (req.url !== "/echo") return false;
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.stringify({ v: req.httpVersion, body: Buffer.concat(chunks).toString(), encrypted: "encrypted" in req.socket });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(body);
  });
  return true;
};

/** JSON-over-TCP stand-in: answers each chunk with its reversed text (then the test closes). */
function jsonEcho(socket: net.Socket): void {
  socket.on("data", (d: Buffer) => socket.write(`${d.toString().split("").reverse().join("")}\n`));
  socket.on("error", () => {});
}

function request(port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const agent = new http.Agent({ keepAlive: false });
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        let data = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          data += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function h2Request(
  url: string,
  path: string,
  body: string,
  opts: http2.SecureClientSessionOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, opts);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/json" });
    let status = 0;
    let data = "";
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.setEncoding("utf8").on("data", (d: string) => {
      data += d;
    });
    req.on("end", () => {
      session.close();
      resolve({ status, body: data });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Writes raw bytes, resolves with everything the server sent before it closed the socket. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let got = "";
    s.on("data", (d) => {
      got += d.toString("latin1");
    });
    s.on("close", () => resolve(got));
    s.on("error", reject);
    s.write(bytes);
  });
}

describe("detectProtocol", () => {
  it("names each protocol from its first bytes, asking for more while a prefix is ambiguous", () => {
    assert.equal(detectProtocol(Buffer.from("PETREL\x01\x00")), "native");
    assert.equal(detectProtocol(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), "h2");
    assert.equal(detectProtocol(Buffer.from([0x16, 0x03, 0x01])), "tls");
    assert.equal(detectProtocol(Buffer.from('{"method":"Arith.Multiply"')), "json");
    assert.equal(detectProtocol(Buffer.from("[{")), "json");
    assert.equal(detectProtocol(Buffer.from("POST / HTTP/1.1\r\n")), "http1");
    assert.equal(detectProtocol(Buffer.from("GET /")), "http1");
    assert.equal(detectProtocol(Buffer.from("PUT ")), "http1");
    // "P" and "PRI" could still be petrel/1, HTTP/2 or a P-method: more bytes needed.
    for (const p of ["", "P", "PE", "PETRE", "PR", "PRI * HTTP/2", "PATCH", "{"]) assert.equal(detectProtocol(Buffer.from(p)), "more", p);
    // Go's gob client: a short length, then a type definition id (0xFF 0x81 = -65).
    assert.equal(detectProtocol(Buffer.from([0x3a, 0xff, 0x81, 0x03])), "gob");
    assert.equal(detectProtocol(Buffer.from("PETR\x00")), undefined);
    assert.equal(detectProtocol(Buffer.from("\x00\x01garbage")), undefined);
    assert.equal(detectProtocol(Buffer.from("get / HTTP/1.1")), undefined);
    assert.equal(detectProtocol(Buffer.from("AAAAAAAAAAAAAAAAAAAAAAAA")), undefined);
  });

  it("never throws, and a decision never changes when more bytes arrive", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 10 }), (a, b) => {
        const first = detectProtocol(a);
        assert.ok(first === undefined || ["more", "tls", "native", "h2", "json", "gob", "http1"].includes(first));
        if (first !== "more") assert.equal(detectProtocol(Buffer.concat([a, b])), first);
      }),
      { numRuns: 5000 },
    );
  });
});

describe("one port for every protocol", () => {
  let server: PetrelServer;
  let port: number;
  before(async () => {
    server = createPetrelServer({ router: router(), http: [echoHandler], json: jsonEcho, detectTimeoutMs: 300 });
    ({ port } = await server.listen());
  });
  after(async () => {
    await server.close({ graceMs: 2000 });
  });

  it("serves petrel/1 and gRPC clients of the same router", async () => {
    const native = createNativeTransport({ address: `127.0.0.1:${port}` });
    const grpc = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    try {
      assert.equal((await createClient(TestService, native).echo({ text: "via petrel/1" })).text, "via petrel/1");
      assert.equal((await createClient(TestService, grpc).echo({ text: "via grpc" })).text, "via grpc");
    } finally {
      await native.close();
      await grpc.close();
    }
  });

  it("gives HTTP/1.1 requests and non-gRPC HTTP/2 requests to the HTTP handlers", async () => {
    const h1 = await request(port, "/echo", '{"a":1}');
    assert.equal(h1.status, 200);
    assert.deepEqual(JSON.parse(h1.body), { v: "1.1", body: '{"a":1}', encrypted: false });
    const h2 = await h2Request(`http://127.0.0.1:${port}`, "/echo", '{"b":2}');
    assert.equal(h2.status, 200);
    assert.equal(JSON.parse(h2.body).v, "2.0");
    const missing = await request(port, "/nowhere", "{}");
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.body).message, /no route for POST \/nowhere/);
  });

  it("gives raw TCP connections that start with a JSON value to the JSON handler", async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => s.write('{"x":1}'));
      s.once("data", (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.on("error", reject);
    });
    assert.equal(got, '}1:"x"{\n');
  });

  it("closes connections that speak nothing it knows, or too slowly, and keeps serving", async () => {
    const before = server.detected.refused;
    assert.equal(await rawExchange(port, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7])), "");
    // "P" could become petrel/1, HTTP/2 or PUT: the server waits, then gives up (detectTimeoutMs).
    assert.equal(await rawExchange(port, "P"), "");
    assert.equal(server.detected.refused, before + 2);
    // TLS is refused when no certificate is configured.
    assert.equal(await rawExchange(port, Buffer.from([0x16, 3, 1, 0, 5])), "");
    assert.equal((await request(port, "/echo", "still here")).status, 200);
  });

  it("answers a slow-loris HTTP/1.1 client with 408 and closes it (headers timeout)", async () => {
    const slow = createPetrelServer({ router: router(), http: [echoHandler], httpHeadersTimeoutMs: 300 });
    const { port: p } = await slow.listen();
    try {
      // The request line and one header, then nothing: the rest of the headers never come.
      const got = await rawExchange(p, "POST /echo HTTP/1.1\r\nhost: x\r\n");
      assert.match(got, /^HTTP\/1\.1 408/);
    } finally {
      await slow.close({ graceMs: 1000 });
    }
  });

  it("counts what it detected, and the connections open now", async () => {
    const before = server.connections;
    const s = net.connect(port, "127.0.0.1");
    await new Promise<void>((r) => s.once("connect", () => r()));
    await eventually(() => server.connections === before + 1, 10_000, "one more open connection");
    s.destroy();
    await eventually(() => server.connections === before, 10_000, "back to the count before");
    const d = server.detected;
    assert.ok(d.native >= 1 && d.h2 >= 2 && d.http1 >= 2 && d.json >= 1, JSON.stringify(d));
  });
});

const haveOpenssl = opensslPath() !== undefined;
if (!haveOpenssl) {
  if (process.env.CI) throw new Error("server.test: openssl is required in CI (Debian package `openssl`)");
  console.warn("\n*** server.test: TLS cases SKIPPED — the openssl CLI is missing (apt-get install openssl) ***\n");
}

describe("one port with TLS beside cleartext", { skip: !haveOpenssl }, () => {
  let certs: TestCerts;
  let server: PetrelServer;
  let port: number;
  before(async () => {
    certs = createTestCerts();
    server = createPetrelServer({ router: router(), http: [echoHandler], tls: { key: certs.server.key, cert: certs.server.cert } });
    ({ port } = await server.listen());
  });
  after(async () => {
    await server.close({ graceMs: 2000 });
  });

  it("serves gRPC over TLS (ALPN h2) and gRPC in cleartext on the same port", async () => {
    const secure = createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca } });
    const plain = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    try {
      assert.equal((await createClient(TestService, secure).echo({ text: "tls" })).text, "tls");
      assert.equal((await createClient(TestService, plain).echo({ text: "h2c" })).text, "h2c");
    } finally {
      await secure.close();
      await plain.close();
    }
  });

  it("serves HTTPS/1.1 (ALPN http/1.1) and HTTP/2 over TLS to the HTTP handlers", async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        // No ALPN offered (Node's https client sends none): the decrypted bytes are sniffed.
        { host: "127.0.0.1", port, path: "/echo", method: "POST", ca: certs.ca, agent: false },
        (r) => {
          let data = "";
          r.setEncoding("utf8").on("data", (d: string) => {
            data += d;
          });
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body: data }));
        },
      );
      req.on("error", reject);
      req.end("secret");
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { v: "1.1", body: "secret", encrypted: true });
    // ALPN http/1.1 chosen by the client: straight to the HTTP/1.1 server.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port, ca: certs.ca, servername: "localhost", ALPNProtocols: ["http/1.1"] }, () => {
        assert.equal(s.alpnProtocol, "http/1.1");
        s.write("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc");
      });
      let got = "";
      s.setEncoding("utf8").on("data", (d: string) => {
        got += d;
      });
      s.on("end", () => resolve(got));
      s.on("error", reject);
    });
    assert.match(raw, /^HTTP\/1\.1 200/);
    assert.match(raw, /"body":"abc","encrypted":true/);
    const h2 = await h2Request(`https://127.0.0.1:${port}`, "/echo", "over h2", { ca: certs.ca });
    assert.equal(JSON.parse(h2.body).v, "2.0");
    assert.equal(JSON.parse(h2.body).encrypted, true);
    assert.ok(server.detected.tls >= 3);
  });
});

describe("registration in a service registry", () => {
  it("registers once listening and deregisters first on close, while calls still drain", async () => {
    const log: string[] = [];
    let inFlight = 0;
    const registrar: Registrar = {
      async register(service, endpoint) {
        log.push(`register ${service} ${endpoint.id} ${endpoint.protocols?.join(",")}`);
        return {
          service,
          endpoint,
          deregister: async () => {
            log.push(`deregister ${service} with ${inFlight} call(s) in flight`);
          },
        };
      },
      close: async () => {},
    };
    const server = createPetrelServer({ router: router(), registry: { registrar, service: ["inventory", "inventory-v2"] } });
    const { port } = await server.listen();
    assert.deepEqual(log, [`register inventory 127.0.0.1:${port} petrel/1,grpc`, `register inventory-v2 127.0.0.1:${port} petrel/1,grpc`]);
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    const client = createClient(TestService, transport);
    await client.echo({ text: "warm" });
    inFlight = 1;
    const slow = client.sleep({ sleepMs: 300 });
    await new Promise((r) => setTimeout(r, 50));
    const closing = server.close({ graceMs: 5000 });
    await slow; // the call in flight finishes during the drain
    inFlight = 0;
    await closing;
    await transport.close();
    assert.deepEqual(log.slice(2), ["deregister inventory with 1 call(s) in flight", "deregister inventory-v2 with 1 call(s) in flight"]);
  });

  it("fails the start, and stops listening, when registration fails", async () => {
    const registrar: Registrar = {
      register: async () => {
        throw new Error("registry unreachable");
      },
      close: async () => {},
    };
    const server = createPetrelServer({ router: router(), registry: { registrar, service: "inventory" } });
    await assert.rejects(server.listen(), /registry unreachable/);
    await server.close({ graceMs: 100 });
  });
});
