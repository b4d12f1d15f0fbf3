import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Recorder, settle } from "./fake-clock-fixture.js";
import { getResolver, parseHostPort, parseTarget, registerResolver, registeredSchemes, resolve, type ResolverFactory } from "./index.js";

describe("parseTarget", () => {
  it("splits scheme://authority/path and lower-cases the scheme", () => {
    assert.deepEqual(parseTarget("ETCD://127.0.0.1:2379/inventory"), {
      scheme: "etcd",
      authority: "127.0.0.1:2379",
      path: "inventory",
      raw: "ETCD://127.0.0.1:2379/inventory",
    });
    assert.deepEqual(parseTarget("dns:///svc.local:50051"), {
      scheme: "dns",
      authority: "",
      path: "svc.local:50051",
      raw: "dns:///svc.local:50051",
    });
    assert.equal(parseTarget("dns://127.0.0.1:5353/a.b:1").authority, "127.0.0.1:5353");
  });

  it("reads a bare host:port list as static", () => {
    const t = parseTarget("127.0.0.1:7000,[::1]:7001");
    assert.equal(t.scheme, "static");
    assert.equal(t.authority, "");
    assert.equal(t.path, "127.0.0.1:7000,[::1]:7001");
  });

  it("rejects bad targets with a clear message", () => {
    for (const [raw, re] of [
      ["", /empty/],
      ["inventory", /missing ":port"/],
      ["1http://x/y", /bad scheme/],
      ["etcd://127.0.0.1:2379", /missing "\/path"/],
      ["etcd://127.0.0.1:2379/", /empty path/],
      ["h:99999", /port must be/],
      ["::1:80", /brackets/],
    ] as const) {
      assert.throws(
        () => parseTarget(raw),
        (e: unknown) => e instanceof TypeError && re.test(e.message),
        raw,
      );
    }
    assert.throws(() => parseTarget(42 as never), TypeError);
  });

  it("parseHostPort handles IPv6 and names", () => {
    assert.deepEqual(parseHostPort("[::1]:50051"), { host: "::1", port: 50051 });
    assert.deepEqual(parseHostPort("svc.local:1"), { host: "svc.local", port: 1 });
    assert.deepEqual(parseHostPort("svc", 53), { host: "svc", port: 53 });
    assert.throws(() => parseHostPort("[::1]x"), TypeError);
    assert.throws(() => parseHostPort("bad host:1"), TypeError);
  });
});

describe("the scheme table", () => {
  it("has static and dns built in", () => {
    assert.ok(getResolver("static"));
    assert.ok(getResolver("DNS"));
    assert.ok(registeredSchemes().includes("dns"));
  });

  it("resolve() fails clearly on an unknown scheme and on a bad target", () => {
    assert.throws(() => resolve("nope://x/y", new Recorder()), /no resolver for scheme "nope".*registered: .*static/);
    assert.throws(() => resolve("static:///", new Recorder()), TypeError);
    assert.throws(() => registerResolver({ scheme: "1x", build: () => ({ close() {} }) }), TypeError);
    assert.throws(() => registerResolver({} as never), TypeError);
  });

  it("last registration wins and resolve() uses it", () => {
    const built: string[] = [];
    const mk = (tag: string): ResolverFactory => ({
      scheme: "test-scheme",
      build(target) {
        built.push(`${tag}:${target.path}`);
        return { close() {} };
      },
    });
    registerResolver(mk("a"));
    registerResolver(mk("b"));
    resolve("test-scheme://reg/svc", new Recorder()).close();
    assert.deepEqual(built, ["b:svc"]);
  });
});

describe("static resolver", () => {
  it("reports the list once, ids = addresses, IPv6 included", async () => {
    const rec = new Recorder();
    const r = resolve("static:///127.0.0.1:7000, [::1]:7001,127.0.0.1:7000", rec);
    assert.equal(rec.updates.length, 0, "reported after build returns");
    await settle();
    assert.deepEqual(rec.updates, [
      [
        { id: "127.0.0.1:7000", address: "127.0.0.1:7000" },
        { id: "[::1]:7001", address: "[::1]:7001" },
      ],
    ]);
    assert.equal(rec.errors.length, 0);
    r.close();
  });

  it("a bare list works too; close before the report silences it", async () => {
    const rec = new Recorder();
    resolve("10.0.0.1:1", rec).close();
    await settle();
    assert.equal(rec.updates.length, 0);
    const rec2 = new Recorder();
    resolve("10.0.0.1:1,10.0.0.2:2", rec2);
    await settle();
    assert.deepEqual(rec2.addresses, ["10.0.0.1:1", "10.0.0.2:2"]);
  });

  it("rejects a bad list and an authority", () => {
    assert.throws(() => resolve("static:///127.0.0.1:7000,,x:1", new Recorder()), /empty entry/);
    assert.throws(() => resolve("static:///nohostport", new Recorder()), /missing ":port"/);
    assert.throws(() => resolve("static://auth/127.0.0.1:1", new Recorder()), /static:\/\/\//);
  });
});
