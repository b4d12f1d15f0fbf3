/** mTLS identity over gRPC with TLS; certificates are made at test time with openssl. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Code, createClient, createRouter } from "@petrel/core";
import { createGrpcServer, createGrpcTransport } from "@petrel/node";
import { TestService, createTestCerts, expectRpcError, opensslPath, type TestCerts } from "@petrel/testing";
import { authenticate } from "./authenticate.js";
import { authorize } from "./authorize.js";
import { parseSubjectAltNames } from "./mtls-scheme.js";
import { identityImpl } from "./test-fixtures.js";

const haveOpenssl = opensslPath() !== undefined;
if (!haveOpenssl) {
  if (process.env.CI) throw new Error("mtls-scheme.test: openssl is required in CI (Debian package `openssl`)");
  console.warn("\n*** mtls-scheme.test: SKIPPED — the openssl CLI is missing (apt-get install openssl) ***\n");
}

const SVC = "/petrel.testing.v1.TestService";

describe("mTLS identity over gRPC TLS", { skip: !haveOpenssl }, () => {
  let certs: TestCerts;
  before(() => {
    certs = createTestCerts();
  });

  async function serve(tls: { requireClientCert?: boolean; requestClientCert?: boolean }) {
    const router = createRouter({
      interceptors: [
        authenticate({ mtls: { roles: (subject) => (subject === "petrel-test-client" ? ["tester"] : []) } }),
        authorize({
          rules: [
            { method: `${SVC}/Echo`, allow: { subjects: ["petrel-test-client"] } },
            { method: `${SVC}/Sleep`, allow: { subjects: ["some-other-client"] } },
          ],
        }),
      ],
    }).service(TestService, identityImpl());
    const server = createGrpcServer({ router, tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, ...tls } });
    const { port } = await server.listen();
    return { server, url: `https://127.0.0.1:${port}` };
  }

  it("requireClientCert: the certificate's CN is the subject; rules allow and deny by it", async () => {
    const { server, url } = await serve({ requireClientCert: true });
    const transport = createGrpcTransport({ baseUrl: url, tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key } });
    try {
      const client = createClient(TestService, transport);
      assert.equal((await client.echo({ text: "who" })).text, "mtls:petrel-test-client|tester|");
      const e = await expectRpcError(client.sleep({ sleepMs: 1 }), Code.PERMISSION_DENIED);
      assert.equal(e.rawMessage, "permission denied");
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  });

  it("requestClientCert: no certificate or an untrusted one -> UNAUTHENTICATED", async () => {
    const { server, url } = await serve({ requestClientCert: true });
    const none = createGrpcTransport({ baseUrl: url, tls: { ca: certs.ca } });
    const rogue = createGrpcTransport({ baseUrl: url, tls: { ca: certs.ca, cert: certs.otherClient.cert, key: certs.otherClient.key } });
    const good = createGrpcTransport({ baseUrl: url, tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key } });
    try {
      let e = await expectRpcError(createClient(TestService, none).echo({ text: "who" }), Code.UNAUTHENTICATED);
      assert.equal(e.rawMessage, "missing credentials");
      e = await expectRpcError(createClient(TestService, rogue).echo({ text: "who" }), Code.UNAUTHENTICATED);
      assert.equal(e.rawMessage, "untrusted client certificate");
      assert.equal((await createClient(TestService, good).echo({ text: "who" })).text, "mtls:petrel-test-client|tester|");
    } finally {
      await none.close();
      await rogue.close();
      await good.close();
      await server.close({ graceMs: 1000 });
    }
  });
});

describe("subjectAltName parsing", () => {
  it("splits Node's SAN string by type, honouring quoted values", () => {
    const s = parseSubjectAltNames(
      'DNS:a.example, DNS:b.example, URI:spiffe://td/ns/x, IP Address:10.0.0.1, email:ops@example.com, DNS:"evil.example, DNS:admin"',
    );
    assert.deepEqual(s.dns, ["a.example", "b.example", "evil.example, DNS:admin"]);
    assert.deepEqual(s.uri, ["spiffe://td/ns/x"]);
    assert.deepEqual(s.ip, ["10.0.0.1"]);
    assert.deepEqual(s.email, ["ops@example.com"]);
    assert.deepEqual(parseSubjectAltNames(undefined), { dns: [], uri: [], ip: [], email: [] });
  });
});
