// Protobuf binary decoder generated per message type: the same results as proto-decode.ts (and so
// as protobuf-es `fromBinary`, quirks included — see the notes at the top of proto-decode.ts),
// but as JavaScript source compiled once per root schema with `new Function`:
//
// - one function per reachable message type, a `switch` on the field number with fixed property
//   keys, so every store is a monomorphic inline-cached property store;
// - one-byte varints, tags and lengths inlined, slower cases in helpers (which return the next
//   position through the closure variable `np`); the read position is a local variable;
// - new messages are built in protobuf-es `create()`'s key order (plain objects from a constructor
//   whose prototype is Object.prototype, see emitNew), so all messages of a
//   type share one hidden class;
// - ASCII strings are substrings of a latin1 view of the input (see str() in HELPERS), packed
//   doubles / floats are copied in bulk.
//
// Property keys and type names come from descriptors; they only enter the source through
// JSON.stringify (a string literal), never as identifiers. Values that are not plain literals
// (zero values, prototypes, enum sets) are passed in through a constants array.
//
// Where code generation is unavailable (`new Function` throws under a CSP without
// 'unsafe-eval', in some Workers), compileDecoder() returns undefined and callers use the
// reflective decoder of proto-decode.ts.
import { create, protoInt64, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { scalarZeroValue } from "@bufbuild/protobuf/reflect";
import { createCodegenCache } from "./proto-codegen-cache.js";
import { int32VarintBytes } from "./proto-decode.js";
import { MAPPER_NONE, MAPPER_STRUCT, MAPPER_WRAPPER, mapperOf, setOwn, structToLocal, structToReflect } from "./proto-wkt.js";
import {
  T_BOOL,
  T_BYTES,
  T_DOUBLE,
  T_FIXED32,
  T_FIXED64,
  T_FLOAT,
  T_INT32,
  T_INT64,
  T_SFIXED32,
  T_SFIXED64,
  T_SINT32,
  T_SINT64,
  T_STRING,
  T_UINT32,
  T_UINT64,
} from "./proto-scalar.js";

// biome-ignore lint/suspicious/noExplicitAny: messages are built reflectively
type Any = any;

/** A compiled decoder: bytes -> message of its root schema. @internal */
export type GeneratedDecoder = (bytes: Uint8Array) => Any;

const RECURSION_LIMIT = 100;

/** Runtime helpers the generated source calls; fixed code, passed in as `D`. */
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const bigintSupported = protoInt64.supported;

function dec64(lo: number, hi: number): Any {
  if (bigintSupported && hi === 0 && lo >= 0) return BigInt(lo);
  return protoInt64.dec(lo, hi);
}

function uDec64(lo: number, hi: number): Any {
  if (bigintSupported && hi === 0) return BigInt(lo >>> 0);
  return protoInt64.uDec(lo, hi);
}

const utf8Lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Node.js' Buffer#latin1Slice works on any Uint8Array and is the cheapest way to turn a longer
 * run of ASCII bytes into a string. Used only for bytes already checked to be ASCII (where
 * latin1 and UTF-8 agree) and only if it behaves as expected; elsewhere TextDecoder does it.
 */
const latin1Slice: ((this: Uint8Array, start: number, end: number) => string) | undefined = (() => {
  const B = (globalThis as Any).Buffer;
  const fn = B?.prototype?.latin1Slice;
  if (typeof fn !== "function") return undefined;
  try {
    return fn.call(new Uint8Array([0x61, 0x62, 0x63, 0x64]), 1, 3) === "bc" ? fn : undefined;
  } catch {
    return undefined;
  }
})();

const deps = {
  dec64,
  uDec64,
  int32VarintBytes,
  utf8Lenient,
  utf8Strict,
  latin1Slice,
  structToReflect,
  structToLocal,
  setOwn,
  littleEndian,
};

/** Bounds of a string window (bytes), see str() in HELPERS. */
const WINDOW_MIN = 256;
const WINDOW_MAX = 4096;
/**
 * Longer strings go to TextDecoder: its native check for ASCII/UTF-8 beats the JS scan (~0.3 ns
 * per byte) from about 200 bytes, and such a string is worth its own flat copy.
 */
const STR_SCAN_MAX = 256;
// A window opened for a string must hold it whole (see window() in HELPERS).
if (WINDOW_MIN < STR_SCAN_MAX) throw new Error("WINDOW_MIN < STR_SCAN_MAX");

// `case n: return String.fromCharCode(b[p + 0], …, b[p + n - 1]);` for n = 1..24 (see ascii()).
const SHORT_ASCII_CASES = Array.from(
  { length: 24 },
  (_, i) => `case ${i + 1}: return String.fromCharCode(${Array.from({ length: i + 1 }, (_, k) => `b[p + ${k}]`).join(", ")});`,
).join("\n      ");

// Fixed helper source shared by every generated unit. Module-like state: b (input), n (its
// length), np (next position returned by helpers), lo/hi (64-bit varint halves), depth.
const HELPERS = `
"use strict";
const { dec64, uDec64, int32VarintBytes, utf8Lenient, utf8Strict, latin1Slice, structToReflect, structToLocal, setOwn, littleEndian } = D;
const EMPTY = new Uint8Array(0);
// Lists, map records and oneof values of new messages (see emitNew): copies of an empty list of
// the V8 elements kind their values need, and objects from constructors - never pretenured,
// unlike literals.
const NO_INTS = [];
const NO_DOUBLES = [0.5]; NO_DOUBLES.pop();
const NO_VALUES = [{}]; NO_VALUES.pop();
function MapRecord() {}
MapRecord.prototype = Object.prototype;
function OneofUnset() { this.case = undefined; }
OneofUnset.prototype = Object.prototype;
function OneofSet(c, v) { this.case = c; this.value = v; }
OneofSet.prototype = Object.prototype;
let b = EMPTY, n = 0, np = 0, lo = 0, hi = 0, depth = 0;
// One-byte int64 / uint64 values: shared BigInts (immutable, so sharing is unobservable).
const SMALL64 = [];
for (let i = 0; i < 0x80; i++) SMALL64.push(${bigintSupported ? "BigInt(i)" : "dec64(i, 0)"});
const f64 = new Float64Array(1), f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1), f32b = new Uint8Array(f32.buffer);
function eof() { return new RangeError("premature EOF"); }
function v32(p) {
  let r = 0;
  for (let s = 0; s < 28; s += 7) {
    if (p >= n) throw eof();
    const x = b[p++];
    r |= (x & 0x7f) << s;
    if (x < 0x80) { np = p; return r; }
  }
  if (p >= n) throw eof();
  let x = b[p++];
  r |= (x & 0x0f) << 28;
  for (let k = 5; (x & 0x80) !== 0 && k < 10; k++) {
    if (p >= n) throw eof();
    x = b[p++];
  }
  if ((x & 0x80) !== 0) throw new Error("invalid varint");
  np = p;
  return r >>> 0;
}
function v64(p) {
  let l = 0, h = 0;
  for (let s = 0; s < 28; s += 7) {
    if (p >= n) throw eof();
    const x = b[p++];
    l |= (x & 0x7f) << s;
    if ((x & 0x80) === 0) { lo = l; hi = h; np = p; return; }
  }
  if (p >= n) throw eof();
  const mid = b[p++];
  l |= (mid & 0x0f) << 28;
  h = (mid & 0x70) >> 4;
  if ((mid & 0x80) === 0) { lo = l; hi = h; np = p; return; }
  for (let s = 3; s <= 31; s += 7) {
    if (p >= n) throw eof();
    const x = b[p++];
    h |= (x & 0x7f) << s;
    if ((x & 0x80) === 0) { lo = l; hi = h; np = p; return; }
  }
  throw new Error("invalid varint");
}
function tg(p) {
  const t = v32(p);
  const k = np - p;
  if (k > 5 || (k === 5 && b[np - 1] > 0x0f)) throw new Error("illegal tag: varint overflows uint32");
  const no = t >>> 3, wt = t & 7;
  if (no <= 0 || wt > 5) throw new Error("illegal tag: field no " + no + " wire type " + wt);
  return t;
}
function skip(p, wt, no, limit) {
  switch (wt) {
    case 0:
      for (;;) {
        if (p >= n) throw eof();
        if ((b[p++] & 0x80) === 0) break;
      }
      break;
    case 1: p += 8; break;
    case 5: p += 4; break;
    case 2: { const l = v32(p); p = np + l; break; }
    case 3:
      if (limit <= 0) throw new Error("maximum recursion depth reached");
      for (;;) {
        const t = tg(p);
        p = np;
        const f = t >>> 3, w = t & 7;
        if (w === 4) {
          if (f !== no) throw new Error("invalid end group tag");
          break;
        }
        p = skip(p, w, f, limit - 1);
      }
      break;
    default:
      throw new Error("cant skip wire type " + wt);
  }
  if (p > n) throw eof();
  return p;
}
function unk(u, t, p) {
  const no = t >>> 3, wt = t & 7;
  const e = skip(p, wt, no, ${RECURSION_LIMIT} - depth);
  u.push({ no, wireType: wt, data: b.subarray(p, e) });
  return e;
}
function closed(m, no, wt, v) {
  const u = m.$unknown ?? [];
  u.push({ no, wireType: wt, data: int32VarintBytes(v) });
  m.$unknown = u;
}
// Strings. Up to ${STR_SCAN_MAX} bytes that are all ASCII (where latin1 and UTF-8 agree) become a
// substring of a latin1 view of the input - a "window" W holding bytes [wb, we) - rather than a
// string made for them alone: W.substring() is a V8 builtin (~5-10 ns), where String.fromCharCode
// with one argument per byte or a latin1Slice / TextDecoder call costs ~20-50 ns a string, and
// a 13+ char substring is a V8 sliced string (no copy). Such a string keeps its window alive,
// as a bytes field keeps the input alive (a view, as protobuf-es makes it); a window is at most
// ${WINDOW_MAX} bytes, and shorter substrings are copies. Without latin1Slice (not Node.js) every
// string is its own: String.fromCharCode for short ones, TextDecoder for the rest.
// A window covers the string and what follows it. The first string of a decode is made on its
// own (a message with one string pays for no window); the window's size adapts to how densely
// strings fill the input: halved (down to ${WINDOW_MIN}) after a window that served fewer than 4
// strings, doubled (up to ${WINDOW_MAX}) after one that served 16 or more. ASCII is checked by
// OR-ing the bytes, eight at a time.
let W = "", wb = 0, we = -1, wk = 1024, ws = 0;
function str(p, e, strict) {
  if (e - p > ${STR_SCAN_MAX}) return utf8(p, e, strict);
  let x = 0, i = p;
  for (; i + 8 <= e; i += 8) x |= b[i] | b[i + 1] | b[i + 2] | b[i + 3] | b[i + 4] | b[i + 5] | b[i + 6] | b[i + 7];
  for (; i + 4 <= e; i += 4) x |= b[i] | b[i + 1] | b[i + 2] | b[i + 3];
  for (; i < e; i++) x |= b[i];
  if (x > 0x7f) return utf8(p, e, strict);
  if (e > we || p < wb) {
    if (we < 0 || latin1Slice === undefined) { we = 0; return ascii(p, e, strict); }
    if (p === e) return "";
    window(p, e);
  }
  ws++;
  return W.substring(p - wb, e - wb);
}
function window(p, e) {
  // The first window of a decode follows no full window: nothing to learn from.
  if (we !== 0) {
    if (ws < 4) { if (wk > ${WINDOW_MIN}) wk >>= 1; }
    else if (ws >= 16 && wk < ${WINDOW_MAX}) wk <<= 1;
  }
  // wk >= ${WINDOW_MIN} >= ${STR_SCAN_MAX} >= e - p, and callers checked e <= n: the string fits.
  ws = 0; wb = p;
  we = Math.min(n, p + wk);
  W = latin1Slice.call(b, wb, we);
}
// ASCII bytes [p, e) as a string of their own.
function ascii(p, e, strict) {
  switch (e - p) {
    case 0: return "";
    ${SHORT_ASCII_CASES}
  }
  return latin1Slice !== undefined ? latin1Slice.call(b, p, e) : utf8(p, e, strict);
}
// Map keys become property names, which V8 hashes and looks up in its string table at every
// store of a key it has not seen as a name (~40 ns). Each string-keyed map field keeps its last
// 8 ASCII keys (up to 32 bytes): a key read again is the string stored last time, which V8
// turned into the name at that store, so it costs a compare.
function mkey(p, e, strict, c) {
  const len = e - p, keys = c.keys;
  if (len <= 32) {
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j];
      if (k.length !== len) continue;
      let i = 0;
      while (i < len && k.charCodeAt(i) === b[p + i]) i++;
      if (i === len) return k;
    }
  }
  const s = str(p, e, strict);
  if (len <= 32 && s.length === len) {
    if (keys.length < 8) keys.push(s);
    else { keys[c.next] = s; c.next = (c.next + 1) & 7; }
  }
  return s;
}
function utf8(p, e, strict) {
  return (strict ? utf8Strict : utf8Lenient).decode(b.subarray(p, e));
}
function dbl(p) {
  if (p + 8 > n) throw eof();
  if (littleEndian) {
    f64b[0] = b[p]; f64b[1] = b[p + 1]; f64b[2] = b[p + 2]; f64b[3] = b[p + 3];
    f64b[4] = b[p + 4]; f64b[5] = b[p + 5]; f64b[6] = b[p + 6]; f64b[7] = b[p + 7];
  } else {
    for (let i = 0; i < 8; i++) f64b[7 - i] = b[p + i];
  }
  return f64[0];
}
function flt(p) {
  if (p + 4 > n) throw eof();
  if (littleEndian) {
    f32b[0] = b[p]; f32b[1] = b[p + 1]; f32b[2] = b[p + 2]; f32b[3] = b[p + 3];
  } else {
    for (let i = 0; i < 4; i++) f32b[3 - i] = b[p + i];
  }
  return f32[0];
}
function u32f(p) {
  if (p + 4 > n) throw eof();
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}
// Packed doubles / floats whose bytes lie inside the input: one copy into an aligned typed array,
// then plain reads. A still-empty list is replaced by a preallocated array (no growth copies,
// no element-kind transition) up to 100000 elements, V8's limit for a preallocated array with
// fast elements; otherwise elements are appended.
function pf64(a, p, e) {
  const k = (e - p) >>> 3;
  if (!littleEndian || ((e - p) & 7) !== 0 || e > n) {
    while (p < e) { a.push(dbl(p)); p += 8; }
    np = p;
    return a;
  }
  const o = b.byteOffset + p;
  const t = (o & 7) === 0 ? new Float64Array(b.buffer, o, k) : new Float64Array(b.slice(p, e).buffer);
  if (a.length === 0 && k <= 100000) {
    a = new Array(k);
    for (let i = 0; i < k; i++) a[i] = t[i];
  } else {
    for (let i = 0; i < k; i++) a.push(t[i]);
  }
  np = e;
  return a;
}
function pf32(a, p, e) {
  const k = (e - p) >>> 2;
  if (!littleEndian || ((e - p) & 3) !== 0 || e > n) {
    while (p < e) { a.push(flt(p)); p += 4; }
    np = p;
    return a;
  }
  const o = b.byteOffset + p;
  const t = (o & 3) === 0 ? new Float32Array(b.buffer, o, k) : new Float32Array(b.slice(p, e).buffer);
  if (a.length === 0 && k <= 100000) {
    a = new Array(k);
    for (let i = 0; i < k; i++) a[i] = t[i];
  } else {
    for (let i = 0; i < k; i++) a.push(t[i]);
  }
  np = e;
  return a;
}
function i64(p) {
  // Up to 7 bytes (< 2^49) are exact as a Number; BigInt(Number) beats protoInt64.dec.
  ${bigintSupported ? "" : "v64(p); return null;"}
  let r = 0, m = 1;
  for (let k = 0, q = p; k < 7; k++) {
    if (q >= n) throw eof();
    const x = b[q++];
    r += (x & 0x7f) * m;
    if (x < 0x80) { np = q; return BigInt(r); }
    m *= 128;
  }
  v64(p);
  return null;
}
`;

/** Per-generation state: constants, message type indexes, emitted functions. */
class Gen {
  readonly consts: unknown[] = [];
  readonly types = new Map<DescMessage, number>();
  readonly order: DescMessage[] = [];
  readonly needsGroup = new Set<DescMessage>();
  readonly fns: string[] = [];
  mapCount = 0;

  constant(v: unknown): string {
    let i = this.consts.indexOf(v);
    if (i < 0) {
      i = this.consts.length;
      this.consts.push(v);
    }
    return `C[${i}]`;
  }

  typeIndex(desc: DescMessage): number {
    let i = this.types.get(desc);
    if (i === undefined) {
      i = this.order.length;
      this.types.set(desc, i);
      this.order.push(desc);
    }
    return i;
  }
}

const key = (s: string): string => `[${JSON.stringify(s)}]`;

/** A literal for simple zero values, else a constant reference. */
function literal(g: Gen, v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (typeof v === "number" && Number.isFinite(v) && !Object.is(v, -0)) return String(v);
  return g.constant(v);
}

/** `function nI()`: a fresh message like protobuf-es create(desc), key order included. */
function emitNew(g: Gen, desc: DescMessage, i: number): void {
  const template: Any = create(desc);
  const proto = Object.getPrototypeOf(template);
  const oneofs = new Set(desc.oneofs.map((o) => o.localName));
  const maps = new Set(desc.fields.filter((f) => f.fieldKind === "map").map((f) => f.localName));
  const parts: string[] = [];
  for (const k of Object.keys(template)) {
    if (k === "__proto__") throw new Error("unsupported property name");
    const v = template[k];
    let expr: string;
    // Lists, map records and oneofs are no literals either (see below): with 0.45-0.6 s cells in
    // bench/src/codecs, the bench Order's map record literal was pretenured in every run and its
    // list literals in some, batch decode then at half speed. A list is a copy of an empty list
    // of the V8 elements kind its values need (a copy of a plain [] cost 13 % of batch decode).
    if (Array.isArray(v)) expr = `${emptyListOf(desc.fields.find((f) => f.localName === k))}.slice()`;
    else if (maps.has(k)) expr = "new MapRecord()";
    else if (oneofs.has(k)) expr = "new OneofUnset()";
    else expr = literal(g, v);
    parts.push(`${JSON.stringify(k)}: ${expr}`);
  }
  if (proto === Object.prototype) {
    // A constructor whose prototype is Object.prototype makes the same plain objects as a literal,
    // without a literal's allocation site: V8 pretenures an allocation site once enough of its
    // objects survive a scavenge (a batch held while decoding, a request held across an await),
    // and from then on allocates every message of that type in old space — order decode in
    // bench/src/codecs dropped from ~540k/s to ~180k/s in about one run in five, all GC.
    const sets = parts.map((p) => {
      const at = p.indexOf(": ");
      return `this[${p.slice(0, at)}] = ${p.slice(at + 2)};`;
    });
    g.fns.push(`function C${i}() { ${sets.join(" ")} }`);
    g.fns.push(`C${i}.prototype = Object.prototype;`);
    g.fns.push(`function n${i}() { return new C${i}(); }`);
  } else {
    // Assigned first-to-last so the property order matches create().
    const sets = parts.map((p) => {
      const at = p.indexOf(": ");
      return `m[${p.slice(0, at)}] = ${p.slice(at + 2)};`;
    });
    g.fns.push(`function n${i}() { const m = Object.create(${g.constant(proto)}); ${sets.join(" ")} return m; }`);
  }
}

/** The empty list (in HELPERS) whose V8 elements kind fits the values of list field `f`. */
function emptyListOf(f: DescField | undefined): string {
  if (f?.fieldKind !== "list") return "NO_VALUES";
  if (f.listKind === "enum") return "NO_INTS";
  if (f.listKind !== "scalar") return "NO_VALUES";
  const t = f.scalar as number;
  if (t === T_DOUBLE || t === T_FLOAT) return "NO_DOUBLES";
  return t === T_INT32 || t === T_SINT32 || t === T_SFIXED32 ? "NO_INTS" : "NO_VALUES";
}

/** Code reading a varint32 into `v` (declared by the caller) at `p`. */
const RV32 = (v: string): string => `${v} = b[p]; if (${v} < 0x80) p++; else { ${v} = v32(p); p = np; }`;

/** Code reading one scalar of type `t` into the variable `v` and advancing `p`. */
function readScalar(t: number, strict: boolean, longAsString: boolean, v: string): string {
  const las = (expr: string): string => (longAsString ? `String(${expr})` : expr);
  switch (t) {
    case T_STRING:
      return `{ let l; ${RV32("l")} const e = p + l; if (e > n) throw eof(); ${v} = str(p, e, ${strict}); p = e; }`;
    case T_BYTES:
      return `{ let l; ${RV32("l")} const e = p + l; if (e > n) throw eof(); ${v} = b.subarray(p, e); p = e; }`;
    case T_BOOL:
      return `${v} = b[p]; if (${v} < 0x80) { p++; ${v} = ${v} !== 0; } else { v64(p); p = np; ${v} = lo !== 0 || hi !== 0; }`;
    case T_INT32:
      return `${RV32(v)} ${v} |= 0;`;
    case T_UINT32:
      return RV32(v);
    case T_SINT32:
      return `${RV32(v)} ${v} = (${v} >>> 1) ^ -(${v} & 1);`;
    case T_FIXED32:
      return `${v} = u32f(p) >>> 0; p += 4;`;
    case T_SFIXED32:
      return `${v} = u32f(p); p += 4;`;
    case T_DOUBLE:
      return `${v} = dbl(p); p += 8;`;
    case T_FLOAT:
      return `${v} = flt(p); p += 4;`;
    case T_INT64:
      return `${v} = b[p]; if (${v} < 0x80) { p++; ${v} = ${las(`SMALL64[${v}]`)}; } else { ${v} = i64(p); if (${v} === null) ${v} = dec64(lo, hi); p = np;${longAsString ? ` ${v} = String(${v});` : ""} }`;
    case T_UINT64:
      return `${v} = b[p]; if (${v} < 0x80) { p++; ${v} = ${las(`SMALL64[${v}]`)}; } else { ${v} = i64(p); if (${v} === null) ${v} = uDec64(lo, hi); p = np;${longAsString ? ` ${v} = String(${v});` : ""} }`;
    case T_SINT64:
      return `v64(p); p = np; { const s = -(lo & 1); ${v} = ${las("dec64(((lo >>> 1) | ((hi & 1) << 31)) ^ s, (hi >>> 1) ^ s)")}; }`;
    case T_FIXED64:
      return `{ const l0 = u32f(p); p += 4; const h0 = u32f(p); p += 4; ${v} = ${las("uDec64(l0, h0)")}; }`;
    case T_SFIXED64:
      return `{ const l0 = u32f(p); p += 4; const h0 = u32f(p); p += 4; ${v} = ${las("dec64(l0, h0)")}; }`;
  }
  throw new Error(`unsupported scalar type ${t}`);
}

/** Code reading a child message into `c` (LEN-prefixed, or a group for delimited fields). */
function readChild(g: Gen, field: DescField, message: DescMessage): string {
  const i = g.typeIndex(message);
  if (field.fieldKind !== "map" && (field as { delimitedEncoding?: boolean }).delimitedEncoding) {
    g.needsGroup.add(message);
    return `p = g${i}(c, p, ${field.number});`;
  }
  return `{ let l; ${RV32("l")} p = m${i}(c, p, p + l); }`;
}

/** Code for a fresh / merged child by mapper (see proto-decode.ts newChild / toLocal). */
function newChild(mapper: number, i: number, existing: string): string {
  switch (mapper) {
    case MAPPER_NONE:
      return existing === "undefined" ? `n${i}()` : `(${existing} === undefined ? n${i}() : ${existing})`;
    case MAPPER_STRUCT:
      return `structToReflect(${existing})`;
    default:
      return existing === "undefined" ? `n${i}()` : `wrap${i}(${existing})`;
  }
}

function toLocal(mapper: number, c: string): string {
  return mapper === MAPPER_NONE ? c : mapper === MAPPER_STRUCT ? `structToLocal(${c})` : `${c}.value`;
}

function ensureWrap(g: Gen, i: number): void {
  const name = `wrap${i}`;
  if (g.fns.some((f) => f.startsWith(`function ${name}(`))) return;
  g.fns.push(`function ${name}(x) { const w = n${i}(); if (x !== undefined) w.value = x; return w; }`);
}

/** The body of `case <field number>:` reading one occurrence of `field` into `m`. */
function fieldCase(g: Gen, field: DescField): string {
  const name = key(field.localName);
  const strict = field.utf8Validation;
  switch (field.fieldKind) {
    case "scalar": {
      const read = readScalar(field.scalar, strict, field.longAsString, "v");
      if (field.oneof) return `{ let v; ${read} m${key(field.oneof.localName)} = new OneofSet(${JSON.stringify(field.localName)}, v); }`;
      return `{ let v; ${read} m${name} = v; }`;
    }
    case "enum": {
      const read = `${RV32("v")} v |= 0;`;
      const store = field.oneof ? `m${key(field.oneof.localName)} = new OneofSet(${JSON.stringify(field.localName)}, v);` : `m${name} = v;`;
      if (field.enum.open) return `{ let v; ${read} ${store} }`;
      const set = g.constant(new Set(field.enum.values.map((e) => e.number)));
      return `{ let v; ${read} if (${set}.has(v)) { ${store} } else closed(m, ${field.number}, t & 7, v); }`;
    }
    case "message": {
      const mapper = mapperOf(field);
      const i = g.typeIndex(field.message);
      if (mapper === MAPPER_WRAPPER) ensureWrap(g, i);
      const read = readChild(g, field, field.message);
      if (field.oneof) {
        const o = key(field.oneof.localName);
        const nm = JSON.stringify(field.localName);
        return `{ const o = m${o}; const c = ${newChild(mapper, i, `(o.case === ${nm} ? o.value : undefined)`)}; ${read} m${o} = new OneofSet(${nm}, ${toLocal(mapper, "c")}); }`;
      }
      return `{ const c = ${newChild(mapper, i, `m${name}`)}; ${read} m${name} = ${toLocal(mapper, "c")}; }`;
    }
    case "list": {
      if (field.listKind === "message") {
        const mapper = mapperOf(field);
        const i = g.typeIndex(field.message);
        if (mapper === MAPPER_WRAPPER) ensureWrap(g, i);
        return `{ const c = ${newChild(mapper, i, "undefined")}; ${readChild(g, field, field.message)} m${name}.push(${toLocal(mapper, "c")}); }`;
      }
      const t = field.listKind === "enum" ? T_INT32 : field.scalar;
      const las = field.listKind === "scalar" ? field.longAsString : false;
      const read = readScalar(t, strict, las, "v");
      if (t === T_STRING || t === T_BYTES) return `{ let v; ${read} m${name}.push(v); }`;
      let packed = `while (p < e) { let v; ${read} a.push(v); }`;
      if (t === T_DOUBLE) packed = `m${name} = pf64(a, p, e); p = np;`;
      else if (t === T_FLOAT) packed = `m${name} = pf32(a, p, e); p = np;`;
      return `{ const a = m${name}; if ((t & 7) === 2) { let l; ${RV32("l")} const e = p + l; ${packed} } else { let v; ${read} a.push(v); } }`;
    }
    case "map": {
      const k = g.mapCount++;
      emitMapEntry(g, field, k);
      return `p = e${k}(m${name}, p);`;
    }
  }
}

/** `function eK(rec, p)`: one map entry (see proto-decode.ts readMapEntry). */
function emitMapEntry(g: Gen, field: DescField & { fieldKind: "map" }, k: number): void {
  const strict = field.utf8Validation;
  let keyRead = readScalar(field.mapKey, strict, false, "key");
  if (field.mapKey === (T_STRING as number)) {
    g.fns.push(`const K${k} = { keys: [], next: 0 };`);
    keyRead = `{ let l; ${RV32("l")} const e = p + l; if (e > n) throw eof(); key = mkey(p, e, ${strict}, K${k}); p = e; }`;
  }
  const keyZero = literal(g, scalarZeroValue(field.mapKey, false));
  let valRead: string;
  let valZero: string;
  switch (field.mapKind) {
    case "scalar":
      valRead = readScalar(field.scalar, strict, false, "val");
      valZero = field.scalar === (T_BYTES as number) ? "new Uint8Array(0)" : literal(g, scalarZeroValue(field.scalar, false));
      break;
    case "enum":
      valRead = `${RV32("val")} val |= 0;`;
      valZero = literal(g, field.enum.values[0].number);
      break;
    case "message": {
      const i = g.typeIndex(field.message);
      const struct = mapperOf(field) === MAPPER_STRUCT;
      // A repeated value within one entry merges into the previous one.
      const child = struct ? "structToReflect(val)" : `(val === undefined ? n${i}() : val)`;
      valRead = `{ const c = ${child}; let l; ${RV32("l")} p = m${i}(c, p, p + l); val = ${struct ? "structToLocal(c)" : "c"}; }`;
      valZero = struct ? "{}" : `n${i}()`;
      break;
    }
  }
  g.fns.push(`function e${k}(rec, p) {
  let key, val, l;
  ${RV32("l")}
  const end = p + l;
  while (p < end) {
    let t = b[p];
    if (t < 0x80 && t >= 8 && (t & 7) <= 5) p++; else { t = tg(p); p = np; }
    const no = t >>> 3;
    if (no === 1) { ${keyRead} }
    else if (no === 2) { ${valRead} }
    else p = skip(p, t & 7, no, ${RECURSION_LIMIT} - depth);
  }
  if (key === undefined) key = ${keyZero};
  if (val === undefined) val = ${valZero};
  if (key === "__proto__") setOwn(rec, key, val); else rec[key] = val;
  return p;
}`);
}

/** `function mI(m, p, end)` (LEN-delimited) or `function gI(m, p, fno)` (group). */
function emitMessage(g: Gen, desc: DescMessage, i: number, group: boolean): void {
  const cases: string[] = [];
  for (const field of desc.fields) {
    cases.push(`case ${field.number}: ${fieldCase(g, field)} break;`);
  }
  const limitMsg = JSON.stringify(`cannot decode ${String(desc)} from binary: maximum recursion depth of ${RECURSION_LIMIT} reached`);
  const loop = group
    ? `let no = 0, wt = -1;
  while (p < n) {
    let t = b[p];
    if (t < 0x80 && t >= 8 && (t & 7) <= 5) p++; else { t = tg(p); p = np; }
    no = t >>> 3; wt = t & 7;
    if (wt === 4) break;
    switch (no) {
      ${cases.join("\n      ")}
      default: if (u === undefined) u = []; p = unk(u, t, p);
    }
  }
  if (wt !== 4 || no !== fno) throw new Error("invalid end group tag");`
    : `while (p < end) {
    let t = b[p];
    if (t < 0x80 && t >= 8 && (t & 7) <= 5) p++; else { t = tg(p); p = np; }
    switch (t >>> 3) {
      ${cases.join("\n      ")}
      default: if (u === undefined) u = []; p = unk(u, t, p);
    }
  }`;
  g.fns.push(`function ${group ? "g" : "m"}${i}(m, p, ${group ? "fno" : "end"}) {
  if (++depth > ${RECURSION_LIMIT}) throw new Error(${limitMsg});
  let u = m.$unknown;
  ${loop}
  if (u !== undefined && u.length > 0) m.$unknown = u;
  depth--;
  return p;
}`);
}

/** Builds the source of a decoder unit for `root` and everything reachable from it. */
function generate(root: DescMessage): { source: string; consts: unknown[] } {
  const g = new Gen();
  g.typeIndex(root);
  // Emitting a type can discover more types (typeIndex appends to `order`).
  for (let i = 0; i < g.order.length; i++) {
    emitNew(g, g.order[i], i);
    emitMessage(g, g.order[i], i, false);
  }
  for (const desc of g.needsGroup) emitMessage(g, desc, g.typeIndex(desc), true);
  const source = `${HELPERS}
${g.fns.join("\n")}
return function decode(bytes) {
  const m = n0();
  b = bytes; n = bytes.length; depth = 0;
  try { m0(m, 0, n); } finally { b = EMPTY; n = 0; W = ""; wb = 0; we = -1; }
  return m;
};`;
  return { source, consts: g.consts };
}

const cache = createCodegenCache<GeneratedDecoder>((schema) => {
  const { source, consts } = generate(schema);
  return new Function("D", "C", source)(deps, consts) as GeneratedDecoder;
});

/**
 * The generated decoder for `schema`, compiled at first use; undefined when code generation is
 * unavailable or disabled (then use the reflective decodeFast of proto-decode.ts).
 * @internal
 */
export function compileDecoder(schema: DescMessage): GeneratedDecoder | undefined {
  return cache.get(schema);
}

/**
 * Turns code generation on or off and forgets compiled decoders and whether `new Function`
 * works (tests exercise the reflective fallback this way; a host can turn generation off to
 * avoid `new Function` entirely). Returns the previous setting.
 * @internal
 */
export function setDecoderCodegen(enabled: boolean): boolean {
  return cache.setEnabled(enabled);
}

/** The generated source for `schema` (debugging and tests). @internal */
export function decoderSource(schema: DescMessage): string {
  return generate(schema).source;
}
