/**
 * The `grpc-timeout` request header: `TimeoutValue TimeoutUnit`, a positive integer of at most
 * 8 ASCII digits followed by one of `H M S m u n` (PROTOCOL-HTTP2.md).
 */
import { Code, RpcError } from "@petrel/core";

/** Largest TimeoutValue: 8 digits. */
const MAX_VALUE = 99_999_999;

/**
 * Units from finest to coarsest, as `[unit, units per ms, ms per unit]`. Fine units multiply and
 * coarse ones divide, so every conversion uses an exactly representable constant.
 */
const UNITS: ReadonlyArray<readonly [string, number, number]> = [
  ["n", 1_000_000, 1],
  ["u", 1_000, 1],
  ["m", 1, 1],
  ["S", 1, 1_000],
  ["M", 1, 60_000],
  ["H", 1, 3_600_000],
];

/**
 * Encodes a timeout in milliseconds for the `grpc-timeout` header. Picks the finest unit whose
 * value fits in 8 digits, so the peer loses as little precision as possible, and rounds up so
 * the peer never sees a shorter deadline than the caller's. `ms <= 0` gives `"0m"` (already
 * expired); anything beyond 99999999 hours, `Infinity` included, clamps to `"99999999H"`.
 * @throws RangeError for NaN, which no deadline arithmetic should produce.
 */
export function encodeGrpcTimeout(ms: number): string {
  if (Number.isNaN(ms)) throw new RangeError("grpc: timeout is NaN");
  if (ms <= 0) return "0m";
  for (const [unit, perMs, msPer] of UNITS) {
    const v = ceilUnits((ms * perMs) / msPer);
    if (v <= MAX_VALUE) return `${v}${unit}`;
  }
  return `${MAX_VALUE}H`;
}

/**
 * `Math.ceil`, except that a value within float noise of an integer counts as that integer:
 * `33.333333 * 1e6` is 33333333.000000004, and rounding that noise up would send 33333334n.
 */
function ceilUnits(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - r) <= v * 4 * Number.EPSILON ? r : Math.ceil(v);
}

/**
 * Parses a `grpc-timeout` header value into milliseconds; `undefined` when the header is absent.
 * Sub-millisecond units give fractions (`"1500u"` is 1.5). `"0m"` and friends parse to 0: the
 * grammar asks for a positive value, but an expired deadline is better honoured than rejected.
 * @throws RpcError INTERNAL for a malformed value (empty, more than 8 digits, a non-digit, an
 * unknown unit), as grpc-go answers.
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = value.length - 1;
  if (n < 1 || n > 8) throw malformed(value);
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) throw malformed(value);
    v = v * 10 + c;
  }
  switch (value.charCodeAt(n)) {
    case 0x48: // H
      return v * 3_600_000;
    case 0x4d: // M
      return v * 60_000;
    case 0x53: // S
      return v * 1_000;
    case 0x6d: // m
      return v;
    // Divisions, not multiplications by 1e-3 / 1e-6: they are exact whenever the result is.
    case 0x75: // u
      return v / 1_000;
    case 0x6e: // n
      return v / 1_000_000;
    default:
      throw malformed(value);
  }
}

function malformed(value: string): RpcError {
  // The value comes from the peer: quote it, and cut it short so it cannot flood a log.
  const shown = value.length > 32 ? `${value.slice(0, 32)}…` : value;
  return new RpcError(Code.INTERNAL, `grpc: malformed grpc-timeout ${JSON.stringify(shown)}`);
}
