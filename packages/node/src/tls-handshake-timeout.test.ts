// A client that opens TCP to a TLS port and never finishes the handshake (slow-loris on TLS) is
// disconnected after `tls.handshakeTimeoutMs` (default 10 s, Node's own default is 120 s), on
// every TLS server: petrel/1, gRPC and the one-port server. Other clients are unaffected.
import assert from "node:assert/strict";
import { type Socket, connect } from "node:net";
import { before, describe, it } from "node:test";
import { createClient, createRouter } from "@petrel/core";
import { TestService, createTestCerts, createTestServiceImpl, opensslPath, type TestCerts } from "@petrel/testing";
import { createGrpcServer } from "./grpc-server.js";
import { createNativeServer } from "./native-server.js";
import { createNativeTransport } from "./native-transport.js";
import { createPetrelServer } from "./server.js";
import { tlsServerOptions } from "./tls-options.js";

const haveOpenssl = opensslPath() !== undefined;
if (!haveOpenssl) {
  if (process.env.CI) throw new Error("tls-handshake-timeout.test: openssl is required in CI (Debian package `openssl`)");
  console.warn("\n*** tls-handshake-timeout.test: SKIPPED — the openssl CLI is missing (apt-get install openssl) ***\n");
}

/** Connects, sends nothing, and waits for the server to hang up. */
function silentClient(port: number): Promise<"closed"> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("the server kept a silent TLS client for 20 s"));
    }, 20_000);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
  });
}

describe("TLS handshake timeout", { skip: !haveOpenssl }, () => {
  let certs: TestCerts;
  before(() => {
    certs = createTestCerts();
  });

  const router = () => createRouter().service(TestService, createTestServiceImpl());
  const tlsOf = () => ({ key: certs.server.key, cert: certs.server.cert, handshakeTimeoutMs: 300 });

  it("defaults to 10 s and rejects a bad value", () => {
    const key = "k";
    assert.equal(tlsServerOptions({ key, cert: key }, "t", []).handshakeTimeout, 10_000);
    assert.throws(
      () => tlsServerOptions({ key, cert: key, handshakeTimeoutMs: 0 }, "t", []),
      /t: tls.handshakeTimeoutMs must be a positive integer/,
    );
  });

  it("petrel/1: a silent client is cut off; a real client still gets answers", async () => {
    const server = createNativeServer({ router: router(), tls: tlsOf() });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const transport = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.ca, servername: "localhost" } });
    try {
      const silent = silentClient(port);
      const res = await createClient(TestService, transport).echo({ text: "still served" });
      assert.equal(res.text, "still served");
      assert.equal(await silent, "closed");
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  });

  it("gRPC: a silent client is cut off", async () => {
    const server = createGrpcServer({ router: router(), tls: tlsOf() });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    try {
      assert.equal(await silentClient(port), "closed");
    } finally {
      await server.close({ graceMs: 1000 });
    }
  });

  it("one-port server: a silent client is cut off", async () => {
    const server = createPetrelServer({ router: router(), tls: tlsOf() });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    try {
      assert.equal(await silentClient(port), "closed");
    } finally {
      await server.close({ graceMs: 1000 });
    }
  });
});

describe("petrel/1 TLS maxConnections", { skip: !haveOpenssl }, () => {
  it("counts connections from TCP accept: handshakes that never finish fill the cap", async () => {
    const certs = createTestCerts();
    const server = createNativeServer({
      router: createRouter().service(TestService, createTestServiceImpl()),
      tls: { key: certs.server.key, cert: certs.server.cert, handshakeTimeoutMs: 60_000 },
      maxConnections: 2,
    });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const s = connect(port, "127.0.0.1");
        s.on("error", () => {});
        sockets.push(s);
        await new Promise((r) => s.once("connect", r));
      }
      // The third is refused at once although neither of the others finished its handshake.
      assert.equal(await silentClient(port), "closed");
      assert.equal(server.droppedConnections, 1);
    } finally {
      for (const s of sockets) s.destroy();
      await server.close({ graceMs: 1000 });
    }
  });
});
