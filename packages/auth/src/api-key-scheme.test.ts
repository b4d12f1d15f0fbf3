/** API keys and the client credential interceptors over a real petrel/1 server. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@petrel/core";
import { expectRpcError } from "@petrel/testing";
import type { AuthEvent } from "./auth-scheme.js";
import { createApiKeyScheme } from "./api-key-scheme.js";
import { authenticate } from "./authenticate.js";
import { apiKey, bearerToken } from "./client-credentials.js";
import { AUDIENCE, ISSUER, T0, errorText, makeKey, sign, startNative, withHeader } from "./test-fixtures.js";

describe("API keys", () => {
  it("good key, bad key, custom header, key store; the key is never echoed", async () => {
    const events: AuthEvent[] = [];
    const store = new Map([["stored-key-abcdef", { subject: "from-store", roles: ["r"] }]]);
    const srv = await startNative([
      authenticate({
        apiKey: {
          header: "X-Service-Key",
          keys: [{ key: "static-key-abcdef", subject: "static" }],
          lookup: (k) => {
            if (k === "explode-key-abcdef") throw new Error(`store down for ${k}`);
            return store.get(k);
          },
        },
        onAuthEvent: (e) => events.push(e),
      }),
    ]);
    try {
      assert.equal(
        (await srv.client([apiKey("static-key-abcdef", { header: "x-service-key" })]).echo({ text: "who" })).text,
        "apiKey:static||",
      );
      assert.equal(
        (await srv.client([apiKey("stored-key-abcdef", { header: "x-service-key" })]).echo({ text: "who" })).text,
        "apiKey:from-store|r|",
      );
      const bad = "wrong-key-abcdef-SECRET";
      let e = await expectRpcError(srv.client([apiKey(bad, { header: "x-service-key" })]).echo({ text: "who" }), Code.UNAUTHENTICATED);
      assert.equal(e.rawMessage, "invalid API key");
      assert.ok(!errorText(e).includes(bad));
      assert.ok(!JSON.stringify(events).includes(bad));
      assert.deepEqual(events.at(-1), {
        type: "rejected",
        method: "/petrel.testing.v1.TestService/Echo",
        peer: (events.at(-1) as { peer: string }).peer,
        scheme: "apiKey",
        code: Code.UNAUTHENTICATED,
        reason: "unknown_key",
        credential: { scheme: "apiKey", length: bad.length },
      });
      // The default header is not looked at when another is configured.
      await expectRpcError(srv.client([apiKey("static-key-abcdef")]).echo({ text: "who" }), Code.UNAUTHENTICATED);
      // A failing store is an outage, and its error text (which holds the key) stays on the server.
      e = await expectRpcError(
        srv.client([apiKey("explode-key-abcdef", { header: "x-service-key" })]).echo({ text: "who" }),
        Code.UNAVAILABLE,
      );
      assert.ok(!errorText(e).includes("explode-key"));
      // Two keys in one call are ambiguous.
      const two = srv.client([
        withHeader("x-service-key", "static-key-abcdef"),
        (next) => (req) => {
          req.header.append("x-service-key", "stored-key-abcdef");
          return next(req);
        },
      ]);
      await expectRpcError(two.echo({ text: "who" }), Code.UNAUTHENTICATED);
    } finally {
      await srv.close();
    }
  });

  it("the first scheme that finds credentials decides", async () => {
    const k = await makeKey("f1");
    const srv = await startNative([
      authenticate({
        jwt: { jwks: { keys: [k.jwk] }, issuer: ISSUER, audience: AUDIENCE, clock: () => T0 },
        apiKey: { keys: [{ key: "good-key-abcdef", subject: "k" }] },
      }),
    ]);
    try {
      // A bad JWT is not rescued by a good API key.
      await expectRpcError(
        srv.client([bearerToken("bad.token.here"), apiKey("good-key-abcdef")]).echo({ text: "who" }),
        Code.UNAUTHENTICATED,
      );
      // An authorization header of another scheme is not a JWT: the API key decides.
      assert.equal(
        (await srv.client([withHeader("authorization", "Basic Zm9vOmJhcg=="), apiKey("good-key-abcdef")]).echo({ text: "who" })).text,
        "apiKey:k||",
      );
    } finally {
      await srv.close();
    }
  });

  it("refuses bad configuration without echoing keys", () => {
    assert.throws(() => createApiKeyScheme({}), /keys, lookup/);
    assert.throws(
      () => createApiKeyScheme({ keys: [{ key: "has space", subject: "a" }] }),
      (e: Error) => /keys\[0\]/.test(e.message) && !e.message.includes("has space"),
    );
    assert.throws(
      () =>
        createApiKeyScheme({
          keys: [
            { key: "dup-key", subject: "a" },
            { key: "dup-key", subject: "b" },
          ],
        }),
      (e: Error) => !e.message.includes("dup-key"),
    );
    assert.throws(() => createApiKeyScheme({ keys: [{ key: "k", subject: "" }] }), /subject/);
    assert.throws(() => createApiKeyScheme({ header: "bad header", lookup: () => undefined }), /header/);
    assert.throws(() => apiKey("line\nbreak"), /printable/);
    assert.throws(() => bearerToken("a b"), /printable/);
  });
});

describe("bearerToken client interceptor", () => {
  it("caches an async token until shortly before its exp, shares one fetch, refetches after UNAUTHENTICATED", async () => {
    const k = await makeKey("b1");
    let serverNow = T0;
    const srv = await startNative([
      authenticate({ jwt: { jwks: { keys: [k.jwk] }, issuer: ISSUER, audience: AUDIENCE, clock: () => serverNow, clockToleranceSec: 0 } }),
    ]);
    let clientNow = T0;
    let fetches = 0;
    const getToken = async () => {
      fetches++;
      await new Promise((r) => setTimeout(r, 5));
      return sign(k, {}, { nowMs: clientNow, expSec: 600 });
    };
    try {
      const client = srv.client([bearerToken(getToken, { clock: () => clientNow, refreshBeforeMs: 60_000 })]);
      await Promise.all([client.echo({ text: "who" }), client.echo({ text: "who" }), client.echo({ text: "who" })]);
      assert.equal(fetches, 1, "concurrent calls share one fetch");
      clientNow = T0 + 500_000; // inside exp - refreshBefore: still cached
      await client.echo({ text: "who" });
      assert.equal(fetches, 1);
      clientNow = T0 + 541_000; // past exp - 60 s: refresh
      serverNow = T0 + 541_000;
      await client.echo({ text: "who" });
      assert.equal(fetches, 2);
      // The server rejects the cached token (its clock jumped): the next call fetches again.
      serverNow = T0 + 10_000_000;
      await expectRpcError(client.echo({ text: "who" }), Code.UNAUTHENTICATED);
      clientNow = serverNow;
      await client.echo({ text: "who" });
      assert.equal(fetches, 3);
    } finally {
      await srv.close();
    }
  });

  it("a failing token source fails the call UNAUTHENTICATED without a network call", async () => {
    let reached = false;
    const srv = await startNative([
      (next) => (req) => {
        reached = true;
        return next(req);
      },
    ]);
    try {
      const client = srv.client([
        bearerToken(() => {
          throw new Error("idp down");
        }),
      ]);
      const e = await expectRpcError(client.echo({ text: "x" }), Code.UNAUTHENTICATED);
      assert.equal(e.rawMessage, "could not obtain a token");
      const client2 = srv.client([bearerToken(() => ({ token: "bad token\r\n" }))]);
      await expectRpcError(client2.echo({ text: "x" }), Code.UNAUTHENTICATED);
      assert.equal(reached, false);
    } finally {
      await srv.close();
    }
  });
});
