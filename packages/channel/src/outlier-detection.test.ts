import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OutlierDetector, OutlierState, validateOutlierDetection, type OutlierHost } from "./outlier-detection.js";

function hosts(n: number): OutlierHost[] {
  return Array.from({ length: n }, (_, i) => ({ id: `h${i}`, outlier: new OutlierState() }));
}

function detector(opts: Parameters<typeof validateOutlierDetection>[0]) {
  const log: string[] = [];
  const d = new OutlierDetector(
    validateOutlierDetection(opts),
    () => 0,
    (h, _r, ms) => log.push(`eject ${h.id} ${ms}`),
    (h) => log.push(`uneject ${h.id}`),
  );
  return { d, log };
}

describe("outlier detection (A50)", () => {
  it("success-rate ejection: the host below mean - 1.9 x stdev goes, the others stay", () => {
    const { d, log } = detector({ successRate: { minimumHosts: 5, requestVolume: 10 }, consecutiveFailures: 0, maxEjectionPercent: 50 });
    const hs = hosts(10);
    for (const h of hs) h.outlier.successes = 100;
    (hs[3] as OutlierHost).outlier.successes = 40;
    (hs[3] as OutlierHost).outlier.failures = 60;
    d.sweep(hs, 0);
    assert.deepEqual(log, ["eject h3 30000"]);
    for (const h of hs) assert.equal(h.outlier.successes + h.outlier.failures, 0, "counters restart every interval");
  });

  it("no success-rate check below minimumHosts with enough volume", () => {
    const { d, log } = detector({ successRate: { minimumHosts: 5, requestVolume: 10 }, consecutiveFailures: 0, maxEjectionPercent: 100 });
    const hs = hosts(5);
    for (const h of hs) h.outlier.successes = 100;
    (hs[0] as OutlierHost).outlier.successes = 5; // below requestVolume: only 4 hosts qualify
    (hs[0] as OutlierHost).outlier.failures = 4;
    d.sweep(hs, 0);
    assert.deepEqual(log, []);
  });

  it("ejection time grows with repeats, is capped, and the multiplier decays while healthy", () => {
    const { d, log } = detector({
      consecutiveFailures: 2,
      baseEjectionTimeMs: 100,
      maxEjectionTimeMs: 250,
      intervalMs: 10,
      successRate: false,
    });
    const hs = hosts(1);
    const h = hs[0] as OutlierHost;
    const failTwice = (now: number) => {
      d.record(h, false, hs, now);
      d.record(h, false, hs, now);
    };
    failTwice(0);
    d.sweep(hs, 99);
    d.sweep(hs, 100);
    failTwice(100);
    d.sweep(hs, 299);
    d.sweep(hs, 300);
    failTwice(300);
    assert.deepEqual(log, ["eject h0 100", "uneject h0", "eject h0 200", "uneject h0", "eject h0 250"]);
    d.sweep(hs, 550);
    for (let i = 0; i < 3; i++) d.sweep(hs, 560 + i);
    assert.equal(h.outlier.multiplier, 0, "decayed by one per interval while not ejected");
  });

  it("a success resets the consecutive count", () => {
    const { d, log } = detector({ consecutiveFailures: 3, successRate: false });
    const hs = hosts(1);
    const h = hs[0] as OutlierHost;
    d.record(h, false, hs, 0);
    d.record(h, false, hs, 0);
    d.record(h, true, hs, 0);
    d.record(h, false, hs, 0);
    d.record(h, false, hs, 0);
    assert.deepEqual(log, []);
    d.record(h, false, hs, 0);
    assert.deepEqual(log, ["eject h0 30000"]);
  });

  it("maxEjectionPercent: compared before each ejection, so 10 % of 3 hosts still allows one", () => {
    const { d, log } = detector({ consecutiveFailures: 1, successRate: false });
    const hs = hosts(3);
    for (const h of hs) d.record(h, false, hs, 0);
    assert.deepEqual(log, ["eject h0 30000"]);
    const { d: d2, log: log2 } = detector({ consecutiveFailures: 1, successRate: false, maxEjectionPercent: 0 });
    for (const h of hosts(3)) d2.record(h, false, hs, 0);
    assert.deepEqual(log2, [], "0 % ejects nothing");
  });

  it("rejects bad options", () => {
    assert.throws(() => validateOutlierDetection({ maxEjectionPercent: 101 }), /maxEjectionPercent/);
    assert.throws(() => validateOutlierDetection({ intervalMs: 0 }), /intervalMs/);
    assert.throws(() => validateOutlierDetection({ successRate: { stdevFactor: -1 } }), /stdevFactor/);
  });
});
