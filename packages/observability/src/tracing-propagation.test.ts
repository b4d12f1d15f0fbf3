/**
 * The built-in W3C Trace Context propagator: known valid and malformed `traceparent` values, and
 * agreement with the OpenTelemetry SDK's W3CTraceContextPropagator on generated ones.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROOT_CONTEXT, TraceFlags, createTraceState, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { Metadata } from "@petrel/core";
import fc from "fast-check";
import {
  createW3CTraceContextPropagator,
  formatTraceParent,
  metadataGetter,
  metadataSetter,
  parseTraceParent,
} from "./tracing-propagation.js";

const TID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SID = "00f067aa0ba902b7";
const ours = createW3CTraceContextPropagator();
const sdk = new W3CTraceContextPropagator();

function extractWith(p: typeof ours, md: Metadata) {
  return trace.getSpanContext(p.extract(ROOT_CONTEXT, md, metadataGetter));
}

describe("parseTraceParent", () => {
  it("parses a valid version-00 value and formats it back", () => {
    const p = parseTraceParent(`00-${TID}-${SID}-01`);
    assert.deepEqual(p, { traceId: TID, spanId: SID, traceFlags: 1 });
    assert.equal(formatTraceParent({ traceId: TID, spanId: SID, traceFlags: 0x03 }), `00-${TID}-${SID}-03`);
    assert.deepEqual(parseTraceParent(` 00-${TID}-${SID}-00\t`), { traceId: TID, spanId: SID, traceFlags: 0 });
  });

  it("accepts a future version with extra fields, ignoring them", () => {
    assert.deepEqual(parseTraceParent(`cc-${TID}-${SID}-01-what-the-future-holds`), { traceId: TID, spanId: SID, traceFlags: 1 });
    assert.deepEqual(parseTraceParent(`01-${TID}-${SID}-01`), { traceId: TID, spanId: SID, traceFlags: 1 });
  });

  const malformed: Record<string, string> = {
    empty: "",
    garbage: "not a traceparent",
    "version ff": `ff-${TID}-${SID}-01`,
    "version 00 with extra field": `00-${TID}-${SID}-01-extra`,
    "future version, extra without dash": `01-${TID}-${SID}-01x`,
    "upper-case hex": `00-${TID.toUpperCase()}-${SID}-01`,
    "all-zero trace id": `00-${"0".repeat(32)}-${SID}-01`,
    "all-zero span id": `00-${TID}-${"0".repeat(16)}-01`,
    "short trace id": `00-${TID.slice(1)}-${SID}-01`,
    "non-hex flags": `00-${TID}-${SID}-0g`,
    "wrong separators": `00_${TID}_${SID}_01`,
    "non-hex version": `0x-${TID}-${SID}-01`,
  };
  for (const [name, value] of Object.entries(malformed)) {
    it(`rejects ${name}`, () => {
      assert.equal(parseTraceParent(value), undefined);
      assert.equal(extractWith(ours, new Metadata({ traceparent: value })), undefined);
      // The SDK's propagator agrees.
      assert.equal(extractWith(sdk, new Metadata({ traceparent: value })), undefined);
    });
  }

  it("agrees with the SDK's propagator on generated values", () => {
    const hex = (n: number, chars = "0123456789abcdefABg") =>
      fc.array(fc.constantFrom(...chars.split("")), { minLength: n, maxLength: n }).map((a) => a.join(""));
    const field = (n: number) => fc.oneof(hex(n), hex(n, "0"), hex(n - 1), hex(n + 1));
    const value = fc
      .tuple(
        fc.oneof(hex(2), fc.constantFrom("00", "ff", "01")),
        field(32),
        field(16),
        field(2),
        fc.constantFrom("", "-x", "x", "-", "-01"),
        fc.constantFrom("-", "_"),
      )
      .map(([v, t, s, f, tail, sep]) => `${v}${sep}${t}-${s}-${f}${tail}`);
    fc.assert(
      fc.property(value, (tp) => {
        const a = extractWith(ours, new Metadata({ traceparent: tp }));
        const b = extractWith(sdk, new Metadata({ traceparent: tp }));
        assert.deepEqual(a && { ...a, traceState: undefined }, b && { ...b, traceState: undefined }, tp);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("W3C propagator over metadata", () => {
  it("extracts tracestate only with a valid traceparent, joining repeated headers", () => {
    const md = new Metadata([
      ["traceparent", `00-${TID}-${SID}-01`],
      ["tracestate", "congo=t61rcWkgMzE"],
      ["tracestate", "rojo=00f067aa0ba902b7"],
    ]);
    const sc = extractWith(ours, md);
    assert.equal(sc?.isRemote, true);
    assert.equal(sc?.traceFlags, TraceFlags.SAMPLED);
    assert.equal(sc?.traceState?.serialize(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    const bad = new Metadata([
      ["traceparent", "00-bogus"],
      ["tracestate", "congo=t61rcWkgMzE"],
    ]);
    assert.equal(extractWith(ours, bad), undefined);
  });

  it("treats two traceparent headers as invalid", () => {
    const md = new Metadata([
      ["traceparent", `00-${TID}-${SID}-01`],
      ["traceparent", `00-${TID}-${SID}-00`],
    ]);
    assert.equal(extractWith(ours, md), undefined);
  });

  it("injects what the SDK's propagator extracts, and the reverse", () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TID,
      spanId: SID,
      traceFlags: TraceFlags.SAMPLED,
      traceState: createTraceState("vendor=abc,other=1"),
    });
    const md = new Metadata();
    ours.inject(ctx, md, metadataSetter);
    assert.equal(md.getString("traceparent"), `00-${TID}-${SID}-01`);
    assert.equal(md.getString("tracestate"), "vendor=abc,other=1");
    const back = extractWith(sdk, md);
    assert.equal(back?.traceId, TID);
    assert.equal(back?.traceState?.serialize(), "vendor=abc,other=1");
    const md2 = new Metadata();
    sdk.inject(ctx, md2, metadataSetter);
    assert.deepEqual(md2.toJSON(), md.toJSON());
  });

  it("injects nothing for an invalid span context", () => {
    const md = new Metadata();
    ours.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: "0".repeat(32), spanId: SID, traceFlags: 1 }), md, metadataSetter);
    ours.inject(ROOT_CONTEXT, md, metadataSetter);
    assert.equal(md.size, 0);
  });

  it("the setter drops pairs metadata cannot carry instead of throwing", () => {
    const md = new Metadata();
    metadataSetter.set(md, "Baggage", "k=v");
    metadataSetter.set(md, "x-bad", "caf\u00e9");
    metadataSetter.set(md, "bad key", "v");
    assert.deepEqual(md.toJSON(), { baggage: "k=v" });
  });

  it("the getter skips binary values and lists keys once", () => {
    const md = new Metadata([
      ["a", "1"],
      ["a", "2"],
      ["b-bin", new Uint8Array([1])],
    ]);
    assert.deepEqual(metadataGetter.keys(md), ["a", "b-bin"]);
    assert.deepEqual(metadataGetter.get(md, "A"), ["1", "2"]);
    assert.equal(metadataGetter.get(md, "b-bin"), undefined);
  });
});
