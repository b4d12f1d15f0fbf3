/**
 * gRPC over TLS and mutual TLS (ALPN h2): Petrel <-> Petrel, and both directions with
 * @grpc/grpc-js. Certificates are made at test time with the openssl CLI.
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Code, createClient, createRouter, type ServiceImpl } from "@petrel/core";
import { createGrpcServer, createGrpcTransport, getTlsPeer, grpcConnectionChannel, type GrpcConnectionEvent } from "@petrel/node";
import {
  TestService,
  createTestCerts,
  createTestServiceImpl,
  drain,
  eventually,
  expectRpcError,
  opensslPath,
  type TestCerts,
} from "@petrel/testing";
import {
  collectUnary,
  createTestServiceHandlers,
  loadTestService,
  newPeerProbe,
  type TestServiceClient,
} from "../../../interop/grpc-js/grpc-js-peer.ts";

const haveOpenssl = opensslPath() !== undefined;
if (!haveOpenssl) {
  if (process.env.CI) throw new Error("grpc-tls.test: openssl is required in CI (Debian package `openssl`)");
  console.warn("\n*** grpc-tls.test: SKIPPED — the openssl CLI is missing (apt-get install openssl) ***\n");
}

/** TestService whose echo answers with the caller's TLS identity: "<CN>|<authorized>". */
function identityRouter() {
  const impl = createTestServiceImpl();
  const withPeer: ServiceImpl<typeof TestService> = {
    ...impl,
    echo(req, ctx) {
      if (req.text !== "who-am-i") return impl.echo(req, ctx);
      const tls = getTlsPeer(ctx);
      const cn = tls?.certificate?.subject.CN ?? "-";
      return { text: `${cn}|${tls?.authorized}|${tls?.protocol}|${tls?.alpnProtocol}` };
    },
  };
  return createRouter().service(TestService, withPeer);
}

function tlsEvents(): { events: GrpcConnectionEvent[]; stop(): void } {
  const events: GrpcConnectionEvent[] = [];
  const fn = (m: unknown) => events.push(m as GrpcConnectionEvent);
  subscribe(grpcConnectionChannel.name, fn);
  return { events, stop: () => unsubscribe(grpcConnectionChannel.name, fn) };
}

describe("gRPC over TLS", { skip: !haveOpenssl }, () => {
  let certs: TestCerts;
  before(() => {
    certs = createTestCerts();
  });

  it("Petrel client <-> Petrel server: unary and a server stream over TLS with ALPN h2", async () => {
    const server = createGrpcServer({ router: identityRouter(), tls: { key: certs.server.key, cert: certs.server.cert } });
    const { port } = await server.listen();
    const transport = createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca } });
    try {
      const client = createClient(TestService, transport);
      assert.equal((await client.echo({ text: "hello tls" })).text, "hello tls");
      const who = await client.echo({ text: "who-am-i" });
      // No client certificate: not authorized, no CN; TLS 1.2+ and h2 were negotiated.
      const [cn, authorized, proto, alpn] = who.text.split("|");
      assert.equal(cn, "-");
      assert.equal(authorized, "false");
      assert.match(proto, /^TLSv1\.[23]$/);
      assert.equal(alpn, "h2");
      const msgs = await drain(client.serverStream({ text: "s", count: 5 }));
      assert.deepEqual(
        msgs.map((m) => m.count),
        [0, 1, 2, 3, 4],
      );
    } finally {
      await transport.close();
      await server.close({ graceMs: 2000 });
    }
  });

  it("the server name can be set apart from the address (servername)", async () => {
    const server = createGrpcServer({ router: identityRouter(), tls: { key: certs.server.key, cert: certs.server.cert } });
    const { port } = await server.listen();
    const transport = createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca, servername: "localhost" } });
    try {
      assert.equal((await createClient(TestService, transport).echo({ text: "sni" })).text, "sni");
    } finally {
      await transport.close();
      await server.close({ graceMs: 2000 });
    }
  });

  it("a server certificate from an unknown CA fails the call with UNAVAILABLE and says why", async () => {
    const server = createGrpcServer({ router: identityRouter(), tls: { key: certs.server.key, cert: certs.server.cert } });
    const { port } = await server.listen();
    const transport = createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.otherCa } });
    try {
      const err = await expectRpcError(createClient(TestService, transport).echo({ text: "x" }), Code.UNAVAILABLE);
      assert.match(err.message, /certificate/i, err.message);
    } finally {
      await transport.close();
      await server.close({ graceMs: 2000 });
    }
  });

  it("bad TLS options are clear errors", () => {
    const router = identityRouter();
    assert.throws(() => createGrpcServer({ router, tls: { key: certs.server.key } as never }), /key and cert/);
    assert.throws(() => createGrpcTransport({ baseUrl: "http://127.0.0.1:1", tls: { ca: certs.ca } }), /https:\/\//);
    assert.throws(() => createGrpcTransport({ baseUrl: "https://127.0.0.1:1", tls: { cert: certs.client.cert } }), /go together/);
    assert.throws(() => createGrpcTransport({ baseUrl: "ftp://x" }), /http:\/\/ or https:\/\//);
  });

  describe("mutual TLS", () => {
    let server: ReturnType<typeof createGrpcServer>;
    let port: number;
    before(async () => {
      server = createGrpcServer({
        router: identityRouter(),
        tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requireClientCert: true },
      });
      ({ port } = await server.listen());
    });
    after(async () => {
      await server.close({ graceMs: 2000 });
    });

    const transportWith = (client?: { key: Buffer; cert: Buffer }) =>
      createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca, ...client } });

    it("accepts a client certificate from the trusted CA; the handler sees its identity", async () => {
      const t = transportWith(certs.client);
      try {
        const who = await createClient(TestService, t).echo({ text: "who-am-i" });
        assert.equal(who.text.split("|").slice(0, 2).join("|"), "petrel-test-client|true");
      } finally {
        await t.close();
      }
    });

    it("refuses a client without a certificate or with one from another CA; the server keeps serving", async () => {
      const seen = tlsEvents();
      try {
        for (const cert of [undefined, certs.otherClient]) {
          const t = transportWith(cert);
          try {
            await expectRpcError(createClient(TestService, t).echo({ text: "x" }), Code.UNAVAILABLE);
          } finally {
            await t.close();
          }
        }
        await eventually(() => seen.events.filter((e) => e.t === "tls_error").length >= 2, 10_000, "two tls_error events");
      } finally {
        seen.stop();
      }
      const good = transportWith(certs.client);
      try {
        assert.equal((await createClient(TestService, good).echo({ text: "still here" })).text, "still here");
      } finally {
        await good.close();
      }
    });

    it("requestClientCert: accepts any client; the handler tells verified from unverified", async () => {
      const s = createGrpcServer({
        router: identityRouter(),
        tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestClientCert: true },
      });
      const { port: p } = await s.listen();
      const run = async (client?: { key: Buffer; cert: Buffer }) => {
        const t = createGrpcTransport({ baseUrl: `https://127.0.0.1:${p}`, tls: { ca: certs.ca, ...client } });
        try {
          return (await createClient(TestService, t).echo({ text: "who-am-i" })).text.split("|").slice(0, 2).join("|");
        } finally {
          await t.close();
        }
      };
      try {
        assert.equal(await run(certs.client), "petrel-test-client|true");
        assert.equal(await run(certs.otherClient), "petrel-rogue-client|false");
        assert.equal(await run(), "-|false");
      } finally {
        await s.close({ graceMs: 2000 });
      }
    });

    it("grpc-js client (createSsl) -> Petrel mTLS server: with and without a client certificate", async () => {
      const Ctor = loadTestService();
      const withCert = new Ctor(
        `127.0.0.1:${port}`,
        grpc.credentials.createSsl(certs.ca, certs.client.key, certs.client.cert),
      ) as unknown as TestServiceClient;
      const noCert = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createSsl(certs.ca)) as unknown as TestServiceClient;
      try {
        const ok = await collectUnary<{ text: string }>((cb) => withCert.Echo({ text: "who-am-i" }, new grpc.Metadata(), {}, cb));
        assert.equal(ok.error, undefined, ok.error?.message);
        assert.equal(ok.response?.text.split("|").slice(0, 2).join("|"), "petrel-test-client|true");
        const bad = await collectUnary<{ text: string }>((cb) =>
          noCert.Echo({ text: "x" }, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, cb),
        );
        assert.equal(bad.status.code, grpc.status.UNAVAILABLE, bad.status.details);
      } finally {
        withCert.close();
        noCert.close();
      }
    });
  });

  it("Petrel client -> grpc-js TLS server (ServerCredentials.createSsl), with mutual TLS", async () => {
    const server = new grpc.Server();
    server.addService(loadTestService().service, createTestServiceHandlers(newPeerProbe()));
    const creds = grpc.ServerCredentials.createSsl(certs.ca, [{ private_key: certs.server.key, cert_chain: certs.server.cert }], true);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const good = createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca, ...certs.client } });
    const noCert = createGrpcTransport({ baseUrl: `https://127.0.0.1:${port}`, tls: { ca: certs.ca } });
    try {
      const client = createClient(TestService, good);
      assert.equal((await client.echo({ text: "to grpc-js" })).text, "to grpc-js");
      const msgs = await drain(client.serverStream({ text: "s", count: 3 }));
      assert.equal(msgs.length, 3);
      await expectRpcError(createClient(TestService, noCert).echo({ text: "x" }), Code.UNAVAILABLE);
    } finally {
      await good.close();
      await noCert.close();
      server.forceShutdown();
    }
  });
});
