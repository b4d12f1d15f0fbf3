/**
 * Limits of the one-port server against abusive clients, with raw sockets: max connections over
 * every protocol, the protocol-detection timeout, HTTP/1.1 header size and header timeout
 * (slow-loris, byte by byte), and the petrel/1 and HTTP/2 handshake timeouts after detection.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { createRouter } from "@petrel/core";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createPetrelServer, type PetrelServer, type PetrelServerOptions } from "./server.js";

const WAIT_MS = 10_000;
const servers: PetrelServer[] = [];
const sockets: Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close({ graceMs: 100 })));
});

async function start(opts: Omit<PetrelServerOptions, "router"> = {}): Promise<{ server: PetrelServer; port: number }> {
  const server = createPetrelServer({ router: createRouter().service(TestService, createTestServiceImpl()), ...opts });
  servers.push(server);
  const { port } = await server.listen();
  return { server, port };
}

/** A raw socket that records what it receives and when it closes. */
async function raw(port: number): Promise<{ socket: Socket; received: () => string; closed: () => Promise<boolean> }> {
  const socket = connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  const closed = new Promise<boolean>((resolve) => socket.once("close", () => resolve(true)));
  return {
    socket,
    received: () => Buffer.concat(chunks).toString("latin1"),
    closed: () => Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), WAIT_MS).unref())]),
  };
}

/** One HTTP/1.1 request on a fresh socket; resolves with the status line. */
async function http1Status(port: number, request: string): Promise<string> {
  const c = await raw(port);
  c.socket.write(request);
  await c.closed();
  return c.received().split("\r\n")[0] ?? "";
}

describe("one-port server limits", () => {
  it("maxConnections counts every protocol: one over the limit is closed at once and counted", async () => {
    const { server, port } = await start({ maxConnections: 2 });
    const a = await raw(port);
    a.socket.write("PETREL"); // petrel/1, mid-preface
    const b = await raw(port);
    b.socket.write("GET "); // HTTP/1.1, mid-request
    const c = await raw(port);
    assert.ok(await c.closed(), "the third connection is closed");
    assert.equal(c.received(), "");
    assert.equal(server.droppedConnections, 1);
    a.socket.destroy();
    b.socket.destroy();
    // Room again: a full HTTP/1.1 exchange works.
    let status = "";
    for (let i = 0; i < 50 && !status.startsWith("HTTP/1.1"); i++) {
      status = await http1Status(port, "GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
      if (!status.startsWith("HTTP/1.1")) await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(status, /^HTTP\/1\.1 404/);
  });

  it("protocol detection timeout: a silent client is closed", async () => {
    const { server, port } = await start({ detectTimeoutMs: 300 });
    const c = await raw(port);
    assert.ok(await c.closed());
    assert.equal(c.received(), "");
    assert.equal(server.detected.refused, 1);
  });

  it("HTTP/1.1: a header block over 16 KiB gets 431 and the server serves on", async () => {
    const { port } = await start();
    const status = await http1Status(port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
    assert.match(status, /^HTTP\/1\.1 431/);
    assert.match(await http1Status(port, "GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"), /^HTTP\/1\.1 404/);
  });

  it("HTTP/1.1 slow-loris: headers sent byte by byte are cut off at httpHeadersTimeoutMs", async () => {
    const { port } = await start({ httpHeadersTimeoutMs: 300 });
    const c = await raw(port);
    const request = `GET / HTTP/1.1\r\nhost: x\r\n${"x-slow: 1\r\n".repeat(20)}\r\n`;
    let i = 0;
    const timer = setInterval(() => {
      if (i < request.length && !c.socket.destroyed) c.socket.write(request[i++] as string);
    }, 50);
    try {
      assert.ok(await c.closed());
    } finally {
      clearInterval(timer);
    }
    assert.ok(i < request.length, "closed before the headers were complete");
    assert.match(c.received(), /^(HTTP\/1\.1 408|$)/);
  });

  it("after detection, the petrel/1 and HTTP/2 handshake timeouts apply", async () => {
    const { port } = await start({ native: { handshakeTimeoutMs: 300 }, grpc: { handshakeTimeoutMs: 300 } });
    const native = await raw(port);
    native.socket.write("PETREL"); // enough to be detected as petrel/1, then nothing
    const h2 = await raw(port);
    h2.socket.write("PRI * HTTP/2.0\r\n"); // detected as HTTP/2, the rest of the preface never comes
    assert.ok(await native.closed(), "petrel/1 client closed");
    assert.ok(await h2.closed(), "HTTP/2 client closed");
    assert.equal(native.received(), "", "no petrel/1 bytes for a client without a valid preface");
  });
});
