import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { parseCircuitBreakerConfig } from "./breaker-config.js";
import { FakeClock } from "./clock.js";
import "./fault-config.js";
import { parseAdaptiveThrottlingConfig } from "./throttle-config.js";
import { createResilienceInterceptors } from "./service-config-interceptors.js";

describe("policy config parsers", () => {
  it("parse and validate, with clear errors", () => {
    assert.deepEqual(parseCircuitBreakerConfig({ windowSize: 5, waitDurationInOpenState: "1.5s", failureCodes: ["unavailable", 4] }), {
      windowSize: 5,
      waitDurationInOpenStateMs: 1500,
      failureCodes: [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED],
    });
    assert.throws(() => parseCircuitBreakerConfig({ failureRateThreshold: 120 }), /circuitBreaker: failureRateThreshold/);
    assert.throws(() => parseCircuitBreakerConfig({ windowSize: 5, bogus: 1 }), /circuitBreaker.bogus: unknown key/);
    assert.deepEqual(parseAdaptiveThrottlingConfig({ k: 1.5, window: "60s" }), { k: 1.5, windowMs: 60_000 });
    assert.throws(() => parseAdaptiveThrottlingConfig({ k: 0 }), /k must be/);
  });

  it("a service config builds breaker and fault interceptors per method", async () => {
    const router = createRouter().service(TestService, createTestServiceImpl());
    const config = {
      methodConfig: [
        {
          name: [{ service: "petrel.testing.v1.TestService", method: "Echo" }],
          circuitBreaker: { windowSize: 2, minimumNumberOfCalls: 2, waitDurationInOpenState: "10s" },
          faultInjection: { abort: { percent: 100, code: "UNAVAILABLE" } },
        },
      ],
    };
    const client = createClient(TestService, createInMemoryTransport(router), {
      interceptors: createResilienceInterceptors(config, { clock: new FakeClock(), deadline: false }),
    });
    const msgs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = await client.echo({ text: "x" }).catch((x: unknown) => x);
      assert.ok(e instanceof RpcError && e.code === Code.UNAVAILABLE);
      msgs.push(e.rawMessage);
    }
    assert.deepEqual(msgs, ["fault injected", "fault injected", "circuit open"]);
    assert.equal((await client.sleep({ sleepMs: 0 })).cancelled, false, "other methods untouched");
  });
});
