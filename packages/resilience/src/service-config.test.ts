import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyRequest, Code, type Interceptor, type RpcError } from "@petrel/core";
import { FakeClock } from "./clock.js";
import { ServiceConfigError, findMethodConfig, parseDuration, parseServiceConfig, registerPolicyParser } from "./service-config.js";
import { createResilienceInterceptors } from "./service-config-interceptors.js";
import { applyInterceptors, type AnyFn } from "@petrel/core";
import { err, ok, scripted, settle, unaryReq } from "./retry-test-util.js";

const retry = { maxAttempts: 3, initialBackoff: "0.1s", maxBackoff: "1s", backoffMultiplier: 2, retryableStatusCodes: ["UNAVAILABLE"] };

describe("service config", () => {
  it("parses durations like gRPC", () => {
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration(".01s"), 10);
    assert.equal(parseDuration("2s"), 2000);
    assert.equal(parseDuration("0.000001s"), 0.001);
    for (const bad of ["1.5", "s", "1m", 1.5, "1.0000000001s"]) assert.throws(() => parseDuration(bad), ServiceConfigError);
  });

  it("parses a full config and looks up with gRPC precedence", () => {
    const cfg = parseServiceConfig(
      JSON.stringify({
        methodConfig: [
          { name: [{}], timeout: "9s" },
          { name: [{ service: "pkg.Svc" }], retryPolicy: retry },
          {
            name: [{ service: "pkg.Svc", method: "Get" }],
            hedgingPolicy: { maxAttempts: 2, hedgingDelay: "0.05s", nonFatalStatusCodes: ["unavailable", 13] },
          },
        ],
        retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
        loadBalancingConfig: [{ round_robin: {} }],
      }),
    );
    assert.equal(findMethodConfig(cfg, "/pkg.Svc/Get")?.hedgingPolicy?.hedgingDelayMs, 50);
    assert.deepEqual(findMethodConfig(cfg, "/pkg.Svc/Get")?.hedgingPolicy?.nonFatalStatusCodes, [Code.UNAVAILABLE, Code.INTERNAL]);
    assert.equal(findMethodConfig(cfg, "/pkg.Svc/Put")?.retryPolicy?.initialBackoffMs, 100);
    assert.equal(findMethodConfig(cfg, "/other.Svc/X")?.timeoutMs, 9000);
    assert.deepEqual(cfg.retryThrottling, { maxTokens: 10, tokenRatio: 0.1 });
    assert.equal(findMethodConfig(parseServiceConfig({}), "/a.B/C"), undefined);
  });

  const bad: [string, unknown, RegExp][] = [
    ["not JSON", "{", /not valid JSON/],
    [
      "both policies",
      { methodConfig: [{ name: [{ service: "s" }], retryPolicy: retry, hedgingPolicy: { maxAttempts: 2 } }] },
      /exclude each other/,
    ],
    ["method without service", { methodConfig: [{ name: [{ method: "m" }] }] }, /methodConfig\[0\]\.name\[0\]: a method needs a service/],
    ["duplicate name", { methodConfig: [{ name: [{ service: "s" }] }, { name: [{ service: "s" }] }] }, /duplicate name/],
    [
      "maxAttempts 1",
      { methodConfig: [{ name: [{}], retryPolicy: { ...retry, maxAttempts: 1 } }] },
      /retryPolicy\.maxAttempts: must be an integer >= 2/,
    ],
    [
      "bad code",
      { methodConfig: [{ name: [{}], retryPolicy: { ...retry, retryableStatusCodes: ["NOPE"] } }] },
      /retryableStatusCodes\[0\]/,
    ],
    ["empty codes", { methodConfig: [{ name: [{}], retryPolicy: { ...retry, retryableStatusCodes: [] } }] }, /must not be empty/],
    ["bad duration", { methodConfig: [{ name: [{}], timeout: 5 }] }, /timeout: must be a duration string/],
    ["unknown key", { methodConfig: [{ name: [{}], retryPolicyy: {} }] }, /retryPolicyy: unknown key/],
    ["bad throttle", { retryThrottling: { maxTokens: 2000, tokenRatio: 1 } }, /maxTokens: must be in \(0, 1000\]/],
    ["bad lb", { loadBalancingConfig: [{ a: {}, b: {} }] }, /exactly one key/],
  ];
  for (const [what, input, re] of bad) {
    it(`rejects ${what} with a clear error`, () => {
      assert.throws(
        () => parseServiceConfig(input),
        (e: Error) => e instanceof ServiceConfigError && re.test(e.message),
      );
    });
  }

  it("ignores unknown keys when asked", () => {
    const cfg = parseServiceConfig({ methodConfig: [{ name: [{}], someday: 1 }], future: true }, { ignoreUnknownKeys: true });
    assert.equal(cfg.methodConfig.length, 1);
  });

  it("plugs registered policies into parsing and into the per-method chain by order", async () => {
    const log: string[] = [];
    registerPolicyParser(
      "testTag",
      (raw, where) => {
        if (typeof raw !== "string") throw new Error(`want a string at ${where}`);
        return raw;
      },
      {
        order: 200,
        createInterceptor:
          (tag): Interceptor =>
          (next) =>
          (req) => {
            log.push(`${tag}:${req.path}`);
            return next(req);
          },
      },
    );
    assert.throws(() => parseServiceConfig({ methodConfig: [{ name: [{}], testTag: 1 }] }), /methodConfig\[0\]\.testTag: want a string/);
    const clock = new FakeClock();
    const ics = createResilienceInterceptors(
      { methodConfig: [{ name: [{ service: "petrel.testing.v1.TestService" }], retryPolicy: retry, testTag: "per-attempt" }] },
      { clock, random: () => 0, deadline: false },
    );
    const { next, calls } = scripted([err(Code.UNAVAILABLE), ok()]);
    await settle(clock, applyInterceptors<AnyFn>(next, ics)(unaryReq()));
    assert.equal(calls.length, 2);
    // order 200 sits inside retry: it sees both attempts
    assert.deepEqual(log, ["per-attempt:/petrel.testing.v1.TestService/Echo", "per-attempt:/petrel.testing.v1.TestService/Echo"]);
  });

  it("shares one throttle across methods and applies timeouts", async () => {
    const clock = new FakeClock();
    const ics = createResilienceInterceptors(
      { methodConfig: [{ name: [{}], timeout: "2s", retryPolicy: retry }], retryThrottling: { maxTokens: 2, tokenRatio: 0.5 } },
      { clock, random: () => 0, deadline: false, now: () => 1000 },
    );
    const { next, calls } = scripted([err(Code.UNAVAILABLE)]);
    const fn = applyInterceptors<AnyFn>(next, ics);
    // tokens 2 -> 1 (1 <= 1: no retry)
    await assert.rejects(settle(clock, fn(unaryReq())), (e: RpcError) => e.code === Code.UNAVAILABLE);
    assert.equal(calls.length, 1);
    assert.equal((calls[0] as AnyRequest).deadline, 3000);
  });
});
