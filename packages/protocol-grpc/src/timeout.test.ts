import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Code, RpcError } from "@petrel/core";
import { encodeGrpcTimeout, parseGrpcTimeout } from "./timeout.js";

const HOUR = 3_600_000;

describe("encodeGrpcTimeout", () => {
  it("picks the finest unit that fits in 8 digits", () => {
    const cases: Array<[number, string]> = [
      [1e-6, "1n"],
      [0.0015, "1500n"],
      [1, "1000000n"],
      [99.999999, "99999999n"],
      [100, "100000u"],
      [1000, "1000000u"],
      [99_999.999, "99999999u"],
      [100_000, "100000m"],
      [99_999_999, "99999999m"],
      [100_000_000, "100000S"],
      [99_999_999_000, "99999999S"],
      [100_000_000_000, "1666667M"],
      [99_999_999 * 60_000, "99999999M"],
      [99_999_999 * 60_000 + 1, "1666667H"],
      [99_999_999 * HOUR, "99999999H"],
    ];
    for (const [ms, want] of cases) assert.equal(encodeGrpcTimeout(ms), want, `${ms} ms`);
  });

  it("rounds up, never shortening the deadline", () => {
    assert.equal(encodeGrpcTimeout(1e-7), "1n");
    assert.equal(encodeGrpcTimeout(100.0001), "100001u");
    assert.equal(encodeGrpcTimeout(100_000.5), "100001m");
    assert.equal(encodeGrpcTimeout(100_000_000.5), "100001S");
  });

  it("does not round float noise up", () => {
    assert.equal(encodeGrpcTimeout(33.333333), "33333333n");
    assert.equal(encodeGrpcTimeout(0.3), "300000n");
    assert.equal(encodeGrpcTimeout(0.007), "7000n");
  });

  it("sends 0m for an expired deadline and clamps huge ones", () => {
    assert.equal(encodeGrpcTimeout(0), "0m");
    assert.equal(encodeGrpcTimeout(-5), "0m");
    assert.equal(encodeGrpcTimeout(Number.NEGATIVE_INFINITY), "0m");
    assert.equal(encodeGrpcTimeout(99_999_999 * HOUR + 1), "99999999H");
    assert.equal(encodeGrpcTimeout(Number.MAX_SAFE_INTEGER), "99999999H");
    assert.equal(encodeGrpcTimeout(Number.MAX_VALUE), "99999999H");
    assert.equal(encodeGrpcTimeout(Number.POSITIVE_INFINITY), "99999999H");
    assert.throws(() => encodeGrpcTimeout(Number.NaN), RangeError);
  });

  it("round-trips: never shorter, and as precise as the chosen unit allows", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
          fc.integer({ min: 1, max: 2 ** 40 }),
          fc.double({ min: 1, max: 99_999_999 * HOUR, noNaN: true }),
        ),
        (ms) => {
          const s = encodeGrpcTimeout(ms);
          assert.match(s, /^[1-9][0-9]{0,7}[HMSmun]$/);
          const back = parseGrpcTimeout(s) as number;
          const unitMs = { n: 1e-6, u: 1e-3, m: 1, S: 1000, M: 60_000, H: HOUR }[s.at(-1) as "n"];
          // Allow float noise of the order of one ulp relative to ms.
          const slack = ms * 1e-12;
          assert.ok(back >= ms - slack, `${ms} -> ${s} -> ${back}`);
          assert.ok(back - ms < unitMs + slack, `${ms} -> ${s} -> ${back}`);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("round-trips every integer millisecond count exactly up to 99999999 ms", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), (ms) => {
        assert.equal(parseGrpcTimeout(encodeGrpcTimeout(ms)), ms);
      }),
      { numRuns: 10_000 },
    );
  });
});

describe("parseGrpcTimeout", () => {
  it("returns undefined for an absent header", () => {
    assert.equal(parseGrpcTimeout(undefined), undefined);
  });

  it("parses every unit", () => {
    assert.equal(parseGrpcTimeout("2H"), 2 * HOUR);
    assert.equal(parseGrpcTimeout("3M"), 180_000);
    assert.equal(parseGrpcTimeout("1S"), 1000);
    assert.equal(parseGrpcTimeout("250m"), 250);
    assert.equal(parseGrpcTimeout("1500u"), 1.5);
    assert.equal(parseGrpcTimeout("1n"), 1e-6);
    assert.equal(parseGrpcTimeout("2500000n"), 2.5);
    assert.equal(parseGrpcTimeout("99999999H"), 99_999_999 * HOUR);
    assert.equal(parseGrpcTimeout("00000001S"), 1000);
    assert.equal(parseGrpcTimeout("0m"), 0);
    assert.equal(parseGrpcTimeout("0n"), 0);
  });

  it("rejects malformed values with INTERNAL", () => {
    const bad = ["", "m", "S", "1", "12", "123456789m", "1x", "1s", "1h", "-1S", "+1S", " 1S", "1S ", "1.5S", "1e3m", "１S", "0x1S", "1SS"];
    for (const v of bad) {
      assert.throws(
        () => parseGrpcTimeout(v),
        (e: unknown) => e instanceof RpcError && e.code === Code.INTERNAL && e.rawMessage.startsWith("grpc: malformed grpc-timeout "),
        JSON.stringify(v),
      );
    }
  });

  it("quotes a long malformed value only in part", () => {
    assert.throws(
      () => parseGrpcTimeout("9".repeat(1000)),
      (e: unknown) => e instanceof RpcError && e.rawMessage.length < 80,
    );
  });
});
