/**
 * TLS and mutual TLS on petrel/1, gRPC, the one-port server (ALPN routing, JSON-RPC over HTTPS),
 * the caller's identity on the handler context for each, and certificate reload without restart.
 * Certificates are made at test time with the openssl CLI.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { after, before, describe, it } from "node:test";
import { Code, createClient, createRouter, type ServiceImpl } from "@petrel/core";
import type { Dialer } from "@petrel/protocol-native";
import {
  TestService,
  createTestCerts,
  createTestServiceImpl,
  eventually,
  expectRpcError,
  opensslPath,
  type TestCerts,
} from "@petrel/testing";
import { createGrpcServer } from "./grpc-server.js";
import { createGrpcTransport } from "./grpc-transport.js";
import { createJsonRpcHttpHandler } from "./jsonrpc-http.js";
import { createJsonRpcTransport } from "./jsonrpc-transport.js";
import { createNativeServer } from "./native-server.js";
import { createNativeTransport } from "./native-transport.js";
import { createPetrelServer } from "./server.js";
import { bindSocket } from "./tcp-channel.js";
import { getTlsPeer, parseSubjectAltNames } from "./tls-peer.js";
import { watchTlsFiles, type TlsFiles } from "./tls-watch.js";

const haveOpenssl = opensslPath() !== undefined;
if (!haveOpenssl) {
  if (process.env.CI) throw new Error("tls-transports.test: openssl is required in CI (Debian package `openssl`)");
  console.warn("\n*** tls-transports.test: SKIPPED — the openssl CLI is missing (apt-get install openssl) ***\n");
}

interface Seen {
  protocol: string;
  cn: string | null;
  sans: { type: string; value: string }[] | null;
  authorized: boolean | null;
  alpn: string | false | null;
  issuer: string | null;
}

/** TestService whose echo of "who-am-i" answers with what the handler sees of its caller, as JSON. */
function identityRouter() {
  const impl = createTestServiceImpl();
  const withPeer: ServiceImpl<typeof TestService> = {
    ...impl,
    echo(req, ctx) {
      if (req.text !== "who-am-i") return impl.echo(req, ctx);
      const t = getTlsPeer(ctx);
      const seen: Seen = {
        protocol: ctx.peer.protocol,
        cn: (t?.certificate?.subject.CN as string | undefined) ?? null,
        sans: t?.certificate ? [...t.certificate.subjectAltNames] : null,
        authorized: t?.authorized ?? null,
        alpn: t?.alpnProtocol ?? null,
        issuer: (t?.certificate?.issuer.CN as string | undefined) ?? null,
      };
      return { text: JSON.stringify(seen) };
    },
  };
  return createRouter().service(TestService, withPeer);
}

async function whoAmI(client: { echo(r: { text: string }): Promise<{ text: string }> }): Promise<Seen> {
  return JSON.parse((await client.echo({ text: "who-am-i" })).text) as Seen;
}

const fingerprint = (pem: Buffer) => new X509Certificate(pem).fingerprint256;

/** Opens a raw TLS connection and returns the fingerprint of the certificate the server presented. */
function serverFingerprint(port: number, ca: Buffer[], alpn: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca, ALPNProtocols: alpn }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once("error", reject);
  });
}

/** A petrel/1 TLS dialer that offers no ALPN (a client that only knows "this port speaks TLS"). */
function noAlpnDialer(ca: Buffer): Dialer {
  return (address, events) => {
    const [host, port] = address.split(":");
    const socket = tls.connect({ host, port: Number(port), ca });
    socket.once("secureConnect", () => events.onOpen());
    return bindSocket(socket, events);
  };
}

describe("TLS on every transport", { skip: !haveOpenssl }, () => {
  let certs: TestCerts;
  before(() => {
    certs = createTestCerts();
  });

  describe("petrel/1 over TLS", () => {
    it("serves over TLS with ALPN petrel/1; without a client certificate the handler sees no identity", async () => {
      const server = createNativeServer({ router: identityRouter(), tls: { key: certs.server.key, cert: certs.server.cert } });
      const { port } = await server.listen();
      const transport = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.ca } });
      try {
        const client = createClient(TestService, transport);
        assert.equal((await client.echo({ text: "over tls" })).text, "over tls");
        const seen = await whoAmI(client);
        assert.equal(seen.protocol, "petrel/1");
        assert.equal(seen.alpn, "petrel/1");
        assert.equal(seen.cn, null);
        assert.equal(seen.authorized, false);
      } finally {
        await transport.close();
        await server.close({ graceMs: 1000 });
      }
    });

    it("mutual TLS: the client's CN reaches the handler; a client without a certificate or from another CA is refused", async () => {
      const server = createNativeServer({
        router: identityRouter(),
        tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requireClientCert: true },
      });
      const { port } = await server.listen();
      const good = createNativeTransport({
        address: `127.0.0.1:${port}`,
        tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
      });
      const anonymous = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.ca } });
      const rogue = createNativeTransport({
        address: `127.0.0.1:${port}`,
        tls: { ca: certs.ca, cert: certs.otherClient.cert, key: certs.otherClient.key },
      });
      try {
        const seen = await whoAmI(createClient(TestService, good));
        assert.equal(seen.cn, "petrel-test-client");
        assert.equal(seen.issuer, "Petrel Test CA");
        assert.equal(seen.authorized, true);
        await expectRpcError(createClient(TestService, anonymous).echo({ text: "x" }, { timeoutMs: 10_000 }), Code.UNAVAILABLE);
        await expectRpcError(createClient(TestService, rogue).echo({ text: "x" }, { timeoutMs: 10_000 }), Code.UNAVAILABLE);
      } finally {
        await Promise.all([good.close(), anonymous.close(), rogue.close()]);
        await server.close({ graceMs: 1000 });
      }
    });

    it("the client refuses a server certificate its CA did not sign", async () => {
      const server = createNativeServer({ router: identityRouter(), tls: { key: certs.otherServer.key, cert: certs.otherServer.cert } });
      const { port } = await server.listen();
      const transport = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.ca } });
      try {
        await expectRpcError(createClient(TestService, transport).echo({ text: "x" }, { timeoutMs: 10_000 }), Code.UNAVAILABLE);
        assert.equal(server.connections, 0);
      } finally {
        await transport.close();
        await server.close({ graceMs: 1000 });
      }
    });

    it("bad TLS options are clear errors", () => {
      assert.throws(() => createNativeServer({ router: identityRouter(), tls: { key: certs.server.key } as never }), /key and cert/);
      assert.throws(() => createNativeTransport({ address: "127.0.0.1:1", tls: { cert: certs.client.cert } }), /go together/);
      const plain = createNativeServer({ router: identityRouter() });
      assert.throws(() => plain.setTls({ key: certs.server.key, cert: certs.server.cert }), /created with tls/);
    });
  });

  it("gRPC: the handler sees the client certificate's subject and SANs (parsed into a list)", async () => {
    // The server certificate doubles as a client certificate here because it carries SANs; its
    // extendedKeyUsage is serverAuth only, so it does not verify as a client certificate.
    const server = createGrpcServer({
      router: identityRouter(),
      tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestClientCert: true },
    });
    const { port } = await server.listen();
    const transport = createGrpcTransport({
      baseUrl: `https://127.0.0.1:${port}`,
      tls: { ca: certs.ca, cert: certs.server.cert, key: certs.server.key },
    });
    try {
      const seen = await whoAmI(createClient(TestService, transport));
      assert.equal(seen.protocol, "grpc");
      assert.equal(seen.cn, "localhost");
      assert.equal(seen.authorized, false);
      assert.deepEqual(seen.sans, [
        { type: "IP", value: "127.0.0.1" },
        { type: "IP", value: "0:0:0:0:0:0:0:1" },
        { type: "DNS", value: "localhost" },
      ]);
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  });

  describe("one-port server over TLS", () => {
    let server: ReturnType<typeof createPetrelServer>;
    let port: number;
    before(async () => {
      const router = identityRouter();
      server = createPetrelServer({
        router,
        http: [createJsonRpcHttpHandler(router)],
        tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestClientCert: true },
      });
      ({ port } = await server.listen());
    });
    after(() => server.close({ graceMs: 1000 }));

    it("ALPN petrel/1 goes straight to the petrel/1 server, with the client identity", async () => {
      const before = server.detected.native;
      const transport = createNativeTransport({
        address: `127.0.0.1:${port}`,
        tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
      });
      try {
        const seen = await whoAmI(createClient(TestService, transport));
        assert.deepEqual([seen.protocol, seen.alpn, seen.cn, seen.authorized], ["petrel/1", "petrel/1", "petrel-test-client", true]);
        assert.equal(server.detected.native, before + 1);
      } finally {
        await transport.close();
      }
    });

    it("TLS without ALPN that starts with the petrel/1 preface is sniffed to petrel/1", async () => {
      const before = server.detected.native;
      const transport = createNativeTransport({ address: `127.0.0.1:${port}`, dial: noAlpnDialer(certs.ca) });
      try {
        const seen = await whoAmI(createClient(TestService, transport));
        assert.deepEqual([seen.protocol, seen.alpn, seen.cn], ["petrel/1", false, null]);
        assert.equal(server.detected.native, before + 1);
      } finally {
        await transport.close();
      }
    });

    it("ALPN h2 serves gRPC with the client identity", async () => {
      const transport = createGrpcTransport({
        baseUrl: `https://127.0.0.1:${port}`,
        tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
      });
      try {
        const seen = await whoAmI(createClient(TestService, transport));
        assert.deepEqual([seen.protocol, seen.alpn, seen.cn, seen.authorized], ["grpc", "h2", "petrel-test-client", true]);
      } finally {
        await transport.close();
      }
    });

    it("JSON-RPC over HTTPS (ALPN http/1.1): the handler sees the client identity", async () => {
      const transport = createJsonRpcTransport({
        url: `https://127.0.0.1:${port}/jsonrpc`,
        tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
      });
      const anonymous = createJsonRpcTransport({ url: `https://127.0.0.1:${port}/jsonrpc`, tls: { ca: certs.ca } });
      try {
        const seen = await whoAmI(createClient(TestService, transport));
        assert.deepEqual([seen.protocol, seen.alpn, seen.cn, seen.authorized], ["jsonrpc/http", "http/1.1", "petrel-test-client", true]);
        const anon = await whoAmI(createClient(TestService, anonymous));
        assert.deepEqual([anon.protocol, anon.cn, anon.authorized], ["jsonrpc/http", null, false]);
      } finally {
        await Promise.all([transport.close(), anonymous.close()]);
      }
    });

    it("JSON-RPC transport: tls options with an http:// url are refused", () => {
      assert.throws(() => createJsonRpcTransport({ url: `http://127.0.0.1:${port}/jsonrpc`, tls: { ca: certs.ca } }), /https/);
    });
  });

  describe("certificate reload without restart", () => {
    const cas = () => [certs.ca, certs.otherCa];

    it("petrel/1: new connections get the new certificate, an established one keeps working", async () => {
      const server = createNativeServer({ router: identityRouter(), tls: { key: certs.server.key, cert: certs.server.cert } });
      const { port } = await server.listen();
      const old = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.ca } });
      const fresh = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.otherCa } });
      try {
        const oldClient = createClient(TestService, old);
        assert.equal((await oldClient.echo({ text: "a" })).text, "a");
        assert.equal(await serverFingerprint(port, cas(), ["petrel/1"]), fingerprint(certs.server.cert));
        server.setTls({ key: certs.otherServer.key, cert: certs.otherServer.cert });
        assert.equal(await serverFingerprint(port, cas(), ["petrel/1"]), fingerprint(certs.otherServer.cert));
        // The connection made before the reload still serves calls (it was never re-dialed: a new
        // dial would fail, the old CA does not sign the new certificate).
        assert.equal((await oldClient.echo({ text: "still here" })).text, "still here");
        assert.equal((await createClient(TestService, fresh).echo({ text: "b" })).text, "b");
        assert.equal(server.connections, 2);
      } finally {
        await Promise.all([old.close(), fresh.close()]);
        await server.close({ graceMs: 1000 });
      }
    });

    it("an invalid reload throws and leaves the old certificate in place", async () => {
      const server = createNativeServer({ router: identityRouter(), tls: { key: certs.server.key, cert: certs.server.cert } });
      const { port } = await server.listen();
      try {
        assert.throws(() => server.setTls({ key: certs.server.key, cert: "not a certificate" }), /petrel\/1: invalid TLS/);
        assert.throws(() => server.setTls({ key: certs.otherServer.key, cert: certs.server.cert }), /petrel\/1: invalid TLS/);
        assert.equal(await serverFingerprint(port, cas(), ["petrel/1"]), fingerprint(certs.server.cert));
      } finally {
        await server.close({ graceMs: 1000 });
      }
    });

    it("gRPC: new connections get the new certificate, an established session keeps working", async () => {
      const server = createGrpcServer({ router: identityRouter(), tls: { key: certs.server.key, cert: certs.server.cert } });
      const { port } = await server.listen();
      const old = createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca } });
      try {
        const oldClient = createClient(TestService, old);
        assert.equal((await oldClient.echo({ text: "a" })).text, "a");
        server.setTls({ key: certs.otherServer.key, cert: certs.otherServer.cert });
        assert.equal(await serverFingerprint(port, cas(), ["h2"]), fingerprint(certs.otherServer.cert));
        assert.equal((await oldClient.echo({ text: "still here" })).text, "still here");
      } finally {
        await old.close();
        await server.close({ graceMs: 1000 });
      }
    });

    it("one-port server: reload applies to every protocol on the port, and can turn on mutual TLS", async () => {
      const router = identityRouter();
      const server = createPetrelServer({ router, tls: { key: certs.server.key, cert: certs.server.cert } });
      const { port } = await server.listen();
      const old = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.ca } });
      const anonymous = createNativeTransport({ address: `127.0.0.1:${port}`, tls: { ca: certs.otherCa } });
      const withCert = createNativeTransport({
        address: `127.0.0.1:${port}`,
        tls: { ca: certs.otherCa, cert: certs.client.cert, key: certs.client.key },
      });
      try {
        const oldClient = createClient(TestService, old);
        assert.equal((await oldClient.echo({ text: "a" })).text, "a");
        server.setTls({ key: certs.otherServer.key, cert: certs.otherServer.cert, ca: certs.ca, requireClientCert: true });
        assert.equal((await oldClient.echo({ text: "still here" })).text, "still here");
        await expectRpcError(createClient(TestService, anonymous).echo({ text: "x" }, { timeoutMs: 10_000 }), Code.UNAVAILABLE);
        const seen = await whoAmI(createClient(TestService, withCert));
        assert.deepEqual([seen.cn, seen.authorized], ["petrel-test-client", true]);
      } finally {
        await Promise.all([old.close(), anonymous.close(), withCert.close()]);
        await server.close({ graceMs: 1000 });
      }
    });

    it("watchTlsFiles reports replaced files, skips an invalid pair, and stops on close()", async () => {
      const dir = mkdtempSync(join(tmpdir(), "petrel-tls-watch-"));
      const keyPath = join(dir, "tls.key");
      const certPath = join(dir, "tls.crt");
      writeFileSync(keyPath, certs.server.key);
      writeFileSync(certPath, certs.server.cert);
      const changes: TlsFiles[] = [];
      const errors: Error[] = [];
      const watcher = watchTlsFiles({ keyPath, certPath }, (f) => changes.push(f), { debounceMs: 50, onError: (e) => errors.push(e) });
      try {
        // A key that does not match the certificate: reported as an error, not as a change.
        writeFileSync(keyPath, certs.otherServer.key);
        await eventually(() => errors.length > 0, 10_000, "an error for the mismatched pair");
        assert.equal(changes.length, 0);
        writeFileSync(certPath, certs.otherServer.cert);
        await eventually(() => changes.length > 0, 10_000, "a change event");
        const last = changes.at(-1) as TlsFiles;
        assert.equal(fingerprint(last.cert), fingerprint(certs.otherServer.cert));
        assert.ok(last.key.equals(certs.otherServer.key));
      } finally {
        watcher.close();
        rmSync(dir, { recursive: true, force: true });
      }
      assert.throws(() => watchTlsFiles({ keyPath: join(dir, "missing.key"), certPath }, () => {}), /ENOENT/);
    });
  });
});

describe("parseSubjectAltNames", () => {
  it("splits Node's SAN string, including JSON-quoted values with separators", () => {
    assert.deepEqual(parseSubjectAltNames("DNS:a.example, IP Address:10.0.0.1, URI:spiffe://td/ns/x, email:a@b.c"), [
      { type: "DNS", value: "a.example" },
      { type: "IP", value: "10.0.0.1" },
      { type: "URI", value: "spiffe://td/ns/x" },
      { type: "email", value: "a@b.c" },
    ]);
    assert.deepEqual(parseSubjectAltNames('DNS:"evil.example, DNS:good.example", DNS:x'), [
      { type: "DNS", value: "evil.example, DNS:good.example" },
      { type: "DNS", value: "x" },
    ]);
    assert.deepEqual(parseSubjectAltNames(undefined), []);
    assert.deepEqual(parseSubjectAltNames(""), []);
    assert.deepEqual(parseSubjectAltNames("garbage"), []);
  });
});
