// W3C Trace Context (https://www.w3.org/TR/trace-context/) over Petrel metadata.
//
// Why a built-in propagator instead of requiring @opentelemetry/core's W3CTraceContextPropagator:
// the package depends on the OpenTelemetry API only (no SDK in src), and the API's global
// propagator is a no-op until an SDK registers one, which would silently drop traceparent.
// This one implements the API's TextMapPropagator interface, so it is interchangeable with the
// SDK's: pass `propagation` (the API's global propagator) or any other to the interceptors instead.
import {
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  createTraceState,
  isSpanContextValid,
  trace,
} from "@opentelemetry/api";
import { type Metadata, isValidMetadataPair } from "@petrel/core";

/** The W3C `traceparent` header name. */
export const TRACEPARENT_HEADER = "traceparent";
/** The W3C `tracestate` header name. */
export const TRACESTATE_HEADER = "tracestate";

/** Reads string metadata for a propagator; binary (`-bin`) values are not text and are skipped. */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys(carrier) {
    const out: string[] = [];
    for (const [k] of carrier) if (!out.includes(k)) out.push(k);
    return out;
  },
  get(carrier, key) {
    const values = carrier.getAll(key.toLowerCase()).filter((v): v is string => typeof v === "string");
    if (values.length === 0) return undefined;
    return values.length === 1 ? values[0] : values;
  },
};

/**
 * Writes a propagator's fields into metadata. A pair metadata cannot carry (upper-case or
 * non-printable characters, e.g. from a third-party propagator) is dropped rather than thrown:
 * tracing must never fail the call it observes.
 */
export const metadataSetter: TextMapSetter<Metadata> = {
  set(carrier, key, value) {
    const k = key.toLowerCase();
    if (isValidMetadataPair(k, value)) carrier.set(k, value);
  },
};

const HEX = /^[0-9a-f]+$/;
const ALL_ZERO = /^0+$/;

/** The parts of a valid `traceparent` value. */
export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

/**
 * Parses a `traceparent` value following trace-context level 2: version `ff` and upper-case hex
 * are invalid, version `00` must be exactly 55 characters, a higher version may append fields
 * after a `-` (they are ignored), all-zero trace or parent ids are invalid. Surrounding spaces
 * and tabs (HTTP's optional whitespace) are ignored. Returns undefined for anything invalid.
 */
export function parseTraceParent(value: string): TraceParent | undefined {
  const v = value.replace(/^[ \t]+|[ \t]+$/g, "");
  if (v.length < 55) return undefined;
  const version = v.slice(0, 2);
  if (!HEX.test(version) || version === "ff") return undefined;
  if (version === "00" ? v.length !== 55 : v.length > 55 && v[55] !== "-") return undefined;
  if (v[2] !== "-" || v[35] !== "-" || v[52] !== "-") return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!HEX.test(traceId) || ALL_ZERO.test(traceId)) return undefined;
  if (!HEX.test(spanId) || ALL_ZERO.test(spanId)) return undefined;
  if (!HEX.test(flags)) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
}

/** Formats a version-00 `traceparent` value. */
export function formatTraceParent(p: TraceParent): string {
  return `00-${p.traceId}-${p.spanId}-${(p.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

function single(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  // Several traceparent headers cannot be told apart: treat them as invalid (as one header
  // joined with "," would be), which starts a new trace.
  if (Array.isArray(v)) return v.length === 1 ? v[0] : undefined;
  return v;
}

/**
 * A W3C Trace Context propagator (`traceparent` + `tracestate`) implementing the OpenTelemetry
 * API's TextMapPropagator, with no SDK dependency. Extract ignores an invalid `traceparent`
 * (the call then starts a new trace) and, as the spec requires, `tracestate` along with it;
 * `tracestate` members are parsed with the API's `createTraceState` (invalid members dropped,
 * at most 32 kept).
 */
export function createW3CTraceContextPropagator(): TextMapPropagator {
  return {
    inject(context: Context, carrier: unknown, setter: TextMapSetter) {
      const sc = trace.getSpanContext(context);
      if (sc === undefined || !isSpanContextValid(sc)) return;
      setter.set(carrier, TRACEPARENT_HEADER, formatTraceParent(sc));
      const state = sc.traceState?.serialize();
      if (state !== undefined && state !== "") setter.set(carrier, TRACESTATE_HEADER, state);
    },
    extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
      const raw = single(getter.get(carrier, TRACEPARENT_HEADER));
      if (raw === undefined) return context;
      const p = parseTraceParent(raw);
      if (p === undefined) return context;
      const rawState = getter.get(carrier, TRACESTATE_HEADER);
      const state = rawState === undefined ? undefined : Array.isArray(rawState) ? rawState.join(",") : rawState;
      return trace.setSpanContext(context, {
        traceId: p.traceId,
        spanId: p.spanId,
        traceFlags: p.traceFlags,
        isRemote: true,
        traceState: state === undefined ? undefined : createTraceState(state),
      });
    },
    fields: () => [TRACEPARENT_HEADER, TRACESTATE_HEADER],
  };
}
