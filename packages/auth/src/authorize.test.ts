/** Per-method authorization rules over a real petrel/1 server, with API-key and JWT identities. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@petrel/core";
import { expectRpcError } from "@petrel/testing";
import type { AuthEvent } from "./auth-scheme.js";
import { authenticate } from "./authenticate.js";
import { authorize } from "./authorize.js";
import { apiKey, bearerToken } from "./client-credentials.js";
import { AUDIENCE, ISSUER, T0, makeKey, sign, startNative, type TestKey } from "./test-fixtures.js";

const SVC = "/petrel.testing.v1.TestService";
const keys = [
  { key: "key-admin-0123456789", subject: "admin", roles: ["admin"] },
  { key: "key-reader-0123456789", subject: "reader", roles: ["reader"], scopes: ["read"] },
  { key: "key-svc-0123456789", subject: "svc-batch", scopes: ["read", "write"] },
];

describe("authorize: rules over petrel/1", () => {
  let srv: Awaited<ReturnType<typeof startNative>>;
  let jwtKey: TestKey;
  const events: AuthEvent[] = [];
  before(async () => {
    jwtKey = await makeKey("a1");
    srv = await startNative([
      authenticate({
        apiKey: { keys },
        jwt: { jwks: { keys: [jwtKey.jwk] }, issuer: ISSUER, audience: AUDIENCE, clock: () => T0 },
        optional: true,
      }),
      authorize({
        rules: [
          { method: `${SVC}/Echo`, public: true },
          { method: `${SVC}/*`, allow: { roles: ["admin"] } },
          { method: `${SVC}/ServerStream`, allow: { roles: ["reader", "admin"] } },
          { method: `${SVC}/ClientStream`, allow: { scopes: ["read", "write"] } },
          { method: `${SVC}/Bidi`, allow: { subjects: ["alice"] } },
        ],
        rolesClaim: "groups",
        onAuthEvent: (e) => events.push(e),
      }),
    ]);
  });
  after(() => srv.close());

  const as = (key: string) => srv.client([apiKey(key)]);
  const sleep = { sleepMs: 1 };

  it("a public method works without credentials; the handler sees no identity", async () => {
    assert.equal((await srv.client().echo({ text: "who" })).text, "anonymous");
    assert.equal((await as("key-reader-0123456789").echo({ text: "who" })).text, "apiKey:reader|reader|read");
  });

  it("bad credentials are refused even on a public method", async () => {
    const e = await expectRpcError(as("not-a-key-0123456789").echo({ text: "who" }), Code.UNAUTHENTICATED);
    assert.equal(e.rawMessage, "invalid API key");
  });

  it("no credentials on a protected method -> UNAUTHENTICATED; wrong identity -> PERMISSION_DENIED", async () => {
    let e = await expectRpcError(srv.client().sleep(sleep), Code.UNAUTHENTICATED);
    assert.equal(e.rawMessage, "missing credentials");
    e = await expectRpcError(as("key-reader-0123456789").sleep(sleep), Code.PERMISSION_DENIED);
    assert.equal(e.rawMessage, "permission denied");
    const ev = events.at(-1);
    assert.ok(ev?.type === "denied");
    assert.equal(ev.rule, `${SVC}/*`);
    assert.equal(ev.subject, "reader");
    await as("key-admin-0123456789").sleep(sleep);
    assert.equal(events.at(-1)?.type, "allowed");
  });

  it("the most specific rule wins (exact over service wildcard), roles: any of", async () => {
    const out = [];
    for await (const m of as("key-reader-0123456789").serverStream({ text: "s", count: 2 })) out.push(m);
    assert.equal(out.length, 2);
    await expectRpcError(
      (async () => {
        for await (const _ of as("key-svc-0123456789").serverStream({ text: "s", count: 2 }));
      })(),
      Code.PERMISSION_DENIED,
    );
  });

  it("scopes: all of them are required", async () => {
    async function* one() {
      yield { text: "x" };
    }
    assert.equal((await as("key-svc-0123456789").clientStream(one())).count, 1);
    await expectRpcError(as("key-reader-0123456789").clientStream(one()), Code.PERMISSION_DENIED);
  });

  it("subjects and JWT roles from a configured claim path", async () => {
    async function* none() {}
    const alice = srv.client([bearerToken(await sign(jwtKey, { groups: ["admin"] }))]);
    for await (const _ of alice.bidi(none()));
    await alice.sleep(sleep); // roles from `groups` (authorize's rolesClaim), not `roles`
    const bob = srv.client([bearerToken(await sign(jwtKey, { sub: "bob", roles: ["admin"] }))]);
    await expectRpcError(
      (async () => {
        for await (const _ of bob.bidi(none()));
      })(),
      Code.PERMISSION_DENIED,
    );
    await expectRpcError(bob.sleep(sleep), Code.PERMISSION_DENIED);
  });
});

describe("authorize: defaults and validation", () => {
  it("unmatched methods: deny by default, any authenticated caller with default allow", async () => {
    const auth = authenticate({ apiKey: { keys }, public: [`${SVC}/Echo`] });
    const deny = await startNative([auth, authorize({ rules: [{ method: `${SVC}/Echo`, public: true }] })]);
    const allow = await startNative([auth, authorize({ rules: [], default: "allow" })]);
    try {
      await expectRpcError(deny.client([apiKey("key-admin-0123456789")]).sleep({ sleepMs: 1 }), Code.PERMISSION_DENIED);
      assert.equal((await deny.client().echo({ text: "who" })).text, "anonymous");
      await allow.client([apiKey("key-reader-0123456789")]).sleep({ sleepMs: 1 });
      await expectRpcError(allow.client().sleep({ sleepMs: 1 }), Code.UNAUTHENTICATED);
    } finally {
      await deny.close();
      await allow.close();
    }
  });

  it("refuses malformed rules", () => {
    assert.throws(() => authorize({ rules: [{ method: "Echo" }] }), /method pattern/);
    assert.throws(() => authorize({ rules: [{ method: "/a.B/*x" }] }), /method pattern/);
    assert.throws(() => authorize({ rules: [{ method: "*" }, { method: "*" }] }), /second rule/);
    assert.throws(() => authorize({ rules: [{ method: "*", public: true, allow: {} }] }), /public rule/);
    assert.throws(() => authorize({ rules: [{ method: "*", allow: { roles: "admin" as never } }] }), /roles/);
    assert.throws(() => authorize({ rules: [], default: "yes" as never }), /default/);
    assert.throws(() => authenticate({ apiKey: { keys }, public: ["nope"] }), /method pattern/);
  });
});
