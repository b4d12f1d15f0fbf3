/**
 * Bearer JWT authentication over a real petrel/1 server (and gRPC once), with tokens signed at
 * test time and the JWKS served by a local HTTP server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, createClient, createRouter, RpcError } from "@petrel/core";
import { createGrpcServer, createGrpcTransport } from "@petrel/node";
import { TestService, drain, expectRpcError } from "@petrel/testing";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { AuthEvent } from "./auth-scheme.js";
import { authenticate } from "./authenticate.js";
import { bearerToken } from "./client-credentials.js";
import { createJwtScheme } from "./jwt-scheme.js";
import {
  AUDIENCE,
  ISSUER,
  T0,
  type JwksServer,
  errorText,
  makeKey,
  sign,
  startJwks,
  startNative,
  type TestKey,
  withHeader,
} from "./test-fixtures.js";

describe("bearer JWT over petrel/1 with a remote JWKS", () => {
  let k1: TestKey;
  let k2: TestKey;
  let rsa: TestKey;
  let jwks: JwksServer;
  let now = T0;
  const events: AuthEvent[] = [];
  let srv: Awaited<ReturnType<typeof startNative>>;

  before(async () => {
    [k1, k2, rsa] = await Promise.all([makeKey("k1"), makeKey("k2"), makeKey("rsa1", "RS256")]);
    jwks = await startJwks([k1.jwk, rsa.jwk]);
    srv = await startNative([
      authenticate({
        // jwksCooldownMs 0: an unknown kid refetches at once (rotation is tested with it).
        jwt: {
          jwksUrl: jwks.url,
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ["ES256"],
          clock: () => now,
          jwksCooldownMs: 0,
          rolesClaim: "realm.roles",
        },
        onAuthEvent: (e) => events.push(e),
      }),
    ]);
  });
  after(async () => {
    await srv.close();
    await jwks.close();
  });

  const call = (token: string) => srv.client([withHeader("authorization", `Bearer ${token}`)]).echo({ text: "who" });

  it("a valid token authenticates; handlers see subject, roles (claim path) and scopes", async () => {
    now = T0;
    const token = await sign(k1, { realm: { roles: ["reader", "writer"] }, scope: "a b" });
    assert.equal((await call(token)).text, "jwt:alice|reader,writer|a,b");
    const ev = events.at(-1);
    assert.equal(ev?.type, "authenticated");
    assert.equal(ev?.type === "authenticated" && ev.credential.kid, "k1");
  });

  it("authenticates streaming calls too", async () => {
    const token = await sign(k1);
    const client = srv.client([bearerToken(token)]);
    const out = await drain(client.serverStream({ text: "s", count: 3 }));
    assert.equal(out.length, 3);
    await expectRpcError(drain(srv.client().serverStream({ text: "s", count: 3 })), Code.UNAUTHENTICATED);
  });

  it("missing credentials -> UNAUTHENTICATED", async () => {
    const e = await expectRpcError(srv.client().echo({ text: "who" }), Code.UNAUTHENTICATED);
    assert.equal(e.rawMessage, "missing credentials");
    assert.equal(events.at(-1)?.type === "rejected" && (events.at(-1) as { reason: string }).reason, "missing");
  });

  it("honours clock skew, then refuses expired and not-yet-valid tokens", async () => {
    const token = await sign(k1, {}, { expSec: 60 });
    now = T0 + 60_000 + 20_000; // 20 s past exp, inside the default 30 s tolerance
    assert.equal((await call(token)).text.split("|")[0], "jwt:alice");
    now = T0 + 60_000 + 31_000;
    let e = await expectRpcError(call(token), Code.UNAUTHENTICATED);
    assert.equal(e.rawMessage, "token expired");
    now = T0;
    const future = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setNotBefore(Math.floor(T0 / 1000) + 120)
      .setExpirationTime(Math.floor(T0 / 1000) + 3600)
      .sign(k1.privateKey);
    e = await expectRpcError(call(future), Code.UNAUTHENTICATED);
    assert.equal(e.rawMessage, "token not yet valid");
    now = T0 + 121_000;
    assert.equal((await call(future)).text.split("|")[0], "jwt:alice");
    now = T0;
  });

  it("refuses tokens without exp by default", async () => {
    const noExp = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(k1.privateKey);
    const e = await expectRpcError(call(noExp), Code.UNAUTHENTICATED);
    assert.equal(e.rawMessage, "invalid token");
  });

  it("wrong issuer, wrong audience, wrong alg, tampered, malformed -> UNAUTHENTICATED with a generic message and no token text", async () => {
    const good = await sign(k1);
    const [h, p, s] = good.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: "mallory" })).toString("base64url")}.${s}`;
    const hmacSecret = new Uint8Array(32).fill(7);
    const hs = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(Math.floor(T0 / 1000) + 60)
      .sign(hmacSecret);
    const cases: Array<[string, string, string]> = [
      ["wrong issuer", await sign(k1, {}, { iss: "https://evil.test" }), "claim:iss"],
      ["wrong audience", await sign(k1, {}, { aud: "other-service" }), "claim:aud"],
      ["alg not in the allow-list (RS256 key in the JWKS)", await sign(rsa), "alg_not_allowed"],
      ["HS256 with a guessed secret", hs, "alg_not_allowed"],
      ["tampered payload", tampered, "bad_signature"],
      ["signature of another key", `${h}.${p}.${(await sign(k2)).split(".")[2]}`, "bad_signature"],
      ["not a JWT", "abc.def", "malformed"],
    ];
    for (const [name, token, reason] of cases) {
      events.length = 0;
      const e = await expectRpcError(call(token), Code.UNAUTHENTICATED);
      assert.equal(e.rawMessage, "invalid token", name);
      const text = errorText(e);
      assert.ok(!text.includes(token), `${name}: token text in the error`);
      for (const part of token.split(".")) if (part.length > 3) assert.ok(!text.includes(part), `${name}: token part in the error`);
      const ev = events.at(-1);
      assert.ok(ev?.type === "rejected", name);
      assert.equal(ev.reason, reason, name);
      assert.ok(!JSON.stringify(ev).includes(token), `${name}: token in the event`);
      for (const part of token.split("."))
        if (part.length > 3) assert.ok(!JSON.stringify(ev).includes(part), `${name}: token part in the event`);
    }
  });

  it("picks up a rotated key: an unknown kid refetches the JWKS", async () => {
    const k3 = await makeKey("k3");
    const token = await sign(k3);
    const before = jwks.fetches;
    await expectRpcError(call(token), Code.UNAUTHENTICATED);
    assert.ok(jwks.fetches > before, "an unknown kid triggers a fetch");
    jwks.keys = [...jwks.keys, k3.jwk];
    assert.equal((await call(token)).text.split("|")[0], "jwt:alice");
    assert.equal((await call(await sign(k1))).text.split("|")[0], "jwt:alice");
  });

  it("a failing JWKS endpoint -> UNAVAILABLE (not the caller's fault)", async () => {
    const k4 = await makeKey("k4");
    jwks.status = 500;
    try {
      const e = await expectRpcError(call(await sign(k4)), Code.UNAVAILABLE);
      assert.equal(e.rawMessage, "authentication temporarily unavailable");
    } finally {
      jwks.status = 200;
    }
  });
});

describe("bearer JWT: cooldown, local keys, options", () => {
  it("within the cooldown an unknown kid does not refetch the JWKS", async () => {
    const k1 = await makeKey("c1");
    const jwks = await startJwks([k1.jwk]);
    const srv = await startNative([
      authenticate({ jwt: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, clock: () => T0, jwksCooldownMs: 3_600_000 } }),
    ]);
    try {
      const ok = srv.client([withHeader("authorization", `Bearer ${await sign(k1)}`)]);
      assert.equal((await ok.echo({ text: "who" })).text.split("|")[0], "jwt:alice");
      assert.equal(jwks.fetches, 1);
      const unknown = await sign(await makeKey("c2"));
      for (let i = 0; i < 3; i++) {
        await expectRpcError(srv.client([withHeader("authorization", `Bearer ${unknown}`)]).echo({ text: "who" }), Code.UNAUTHENTICATED);
      }
      assert.equal(jwks.fetches, 1, "cached keys, no refetch during cooldown");
    } finally {
      await srv.close();
      await jwks.close();
    }
  });

  it("a local key set and an HMAC secret work as key sources", async () => {
    const k = await makeKey("l1", "EdDSA");
    const secret = new Uint8Array(32).fill(9);
    const hs = await new SignJWT({ sub: "svc" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(Math.floor(T0 / 1000) + 60)
      .sign(secret);
    const srvA = await startNative([
      authenticate({ jwt: { jwks: { keys: [k.jwk] }, issuer: ISSUER, audience: AUDIENCE, clock: () => T0 } }),
    ]);
    const srvB = await startNative([
      authenticate({
        schemes: [createJwtScheme({ key: secret, algorithms: ["HS256"], issuer: ISSUER, audience: [AUDIENCE, "x"], clock: () => T0 })],
      }),
    ]);
    try {
      assert.equal((await srvA.client([bearerToken(await sign(k))]).echo({ text: "who" })).text.split("|")[0], "jwt:alice");
      assert.equal((await srvB.client([bearerToken(hs)]).echo({ text: "who" })).text.split("|")[0], "jwt:svc");
      await expectRpcError(srvB.client([bearerToken(await sign(k))]).echo({ text: "who" }), Code.UNAUTHENTICATED);
    } finally {
      await srvA.close();
      await srvB.close();
    }
  });

  it("refuses unsafe or incomplete options", async () => {
    const { publicKey } = await generateKeyPair("ES256");
    const jwk = await exportJWK(publicKey);
    const base = { issuer: ISSUER, audience: AUDIENCE };
    assert.throws(() => createJwtScheme({ ...base } as never), /exactly one of/);
    assert.throws(() => createJwtScheme({ ...base, jwks: { keys: [jwk] }, key: publicKey }), /exactly one of/);
    assert.throws(() => createJwtScheme({ jwks: { keys: [jwk] }, audience: AUDIENCE } as never), /issuer/);
    assert.throws(() => createJwtScheme({ jwks: { keys: [jwk] }, issuer: ISSUER, audience: [] }), /audience/);
    assert.throws(() => createJwtScheme({ ...base, jwksUrl: "http://jwks.example/keys" }), /https/);
    assert.throws(() => createJwtScheme({ ...base, jwksUrl: "not a url" }), /valid URL/);
    assert.throws(() => createJwtScheme({ ...base, key: new Uint8Array(32) }), /HS256/);
    assert.throws(() => createJwtScheme({ ...base, key: new Uint8Array(8), algorithms: ["HS256"] }), /32 bytes/);
    assert.throws(() => createJwtScheme({ ...base, key: publicKey, algorithms: ["none"] }), /none/);
    assert.throws(() => createJwtScheme({ ...base, key: publicKey, clockToleranceSec: -1 }), /clockToleranceSec/);
    assert.throws(() => authenticate({}), /at least one/);
  });
});

describe("bearer JWT over gRPC", () => {
  it("accepts a valid token and refuses a bad one with the same codes and messages", async () => {
    const k = await makeKey("g1");
    const jwks = await startJwks([k.jwk]);
    const router = createRouter({
      interceptors: [authenticate({ jwt: { jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, clock: () => T0 } })],
    }).service(TestService, (await import("./test-fixtures.js")).identityImpl());
    const server = createGrpcServer({ router });
    const { port } = await server.listen();
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    try {
      const good = createClient(TestService, transport, { interceptors: [bearerToken(async () => sign(k))] });
      assert.equal((await good.echo({ text: "who" })).text.split("|")[0], "jwt:alice");
      const badToken = await sign(k, {}, { aud: "elsewhere" });
      const bad = createClient(TestService, transport, { interceptors: [bearerToken(badToken)] });
      const e = await expectRpcError(bad.echo({ text: "who" }), Code.UNAUTHENTICATED);
      assert.equal(e.rawMessage, "invalid token");
      assert.ok(!errorText(e).includes(badToken.split(".")[2] as string));
      await expectRpcError(createClient(TestService, transport).echo({ text: "who" }), Code.UNAUTHENTICATED);
      assert.ok(e instanceof RpcError);
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
      await jwks.close();
    }
  });
});
