// Protobuf binary encoder generated per message type: the same bytes as proto-encode.ts (and so
// as protobuf-es `toBinary`), but as JavaScript source compiled once per root schema with
// `new Function` (the pattern of proto-decode-gen.ts):
//
// - one function per reachable message type, fields in field-number order (protobuf-es' order)
//   with fixed property keys, so every load is a monomorphic inline-cached property load;
// - tags are constant byte stores; one-byte varints are inlined, longer ones go to helpers; the
//   write position is a local passed in and returned (`p = w3(m, p)`);
// - one capacity check covers a run of fixed-size fields (up to and including the next
//   variable-size one), instead of one per write;
// - length prefixes of nested messages are reserved as one byte and backpatched, widened (the
//   body shifted by memmove) only for bodies of >= 128 bytes. This beats computing sizes in a
//   first pass: that pass would read every field and scan every string twice, while the shift
//   costs one copyWithin per nested message of >= 128 bytes, which is cheap next to encoding
//   those bytes. Packed fixed-width lists know their length up front and write it directly;
// - strings of up to 64 UTF-16 units are written by a JS loop (ASCII unrolled by four, UTF-8 with
//   U+FFFD for lone surrogates like TextEncoder), longer ones by TextEncoder#encodeInto;
// - 64-bit integers: a BigInt is converted to a Number once (the costly step in Node 20) and
//   written from it when it is a safe integer; strings (jstype=JS_STRING), numbers and BigInts
//   beyond 2^53 go through protobuf-es' protoInt64, as protobuf-es does;
// - wrappers (google.protobuf.*Value held as a bare scalar) are written inline, Struct fields
//   (held as JSON objects) through proto-wkt.ts' structToReflect, `$unknown` fields after the
//   known ones, map entries in Object.keys order with protobuf-es' key conversion.
//
// Only well-typed values take the generated path. Anything else (a string in an int32 field, a
// float that overflows float32, a non-Uint8Array in a bytes field, a missing required field, a
// foreign message type …) makes the generated code give up on the whole message (it never runs
// user code such as `toString`), and the caller encodes it with the reflective encoder of
// proto-encode.ts, which reproduces protobuf-es' bytes and errors for loose values.
//
// Output buffer: like proto-encode.ts, a 32 KiB slab handed out in pieces (the result is a view
// of it); messages larger than 8 KiB are finished in a reused scratch buffer and copied out. A
// root type whose last message was large writes the next one into a buffer of its own, sized
// from the last one (a copy of a 58 KB message costs ~6 us, its allocation ~1.5 us).
//
// Property keys and type names come from descriptors; they only enter the source through
// JSON.stringify (a string literal), never as identifiers. Descriptors that look odd (field
// numbers out of range, a `__proto__` property) are refused: compileEncoder() returns undefined
// and callers use the reflective encoder, as they do where `new Function` throws (a CSP without
// 'unsafe-eval').
import { create, protoInt64, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { createCodegenCache } from "./proto-codegen-cache.js";
import { utf8Write } from "./proto-encode.js";
import { MAPPER_STRUCT, MAPPER_WRAPPER, mapperOf, structToReflect } from "./proto-wkt.js";
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
  WT_BIT32,
  WT_BIT64,
  WT_END_GROUP,
  WT_LEN,
  WT_START_GROUP,
  wireTypeOf,
} from "./proto-scalar.js";

/**
 * A compiled encoder: message -> bytes, or undefined when the message holds a value the
 * generated code does not handle (then use the reflective encodeFast). @internal
 */
export type GeneratedEncoder = (message: object) => Uint8Array | undefined;

const SLAB_SIZE = 32 * 1024;
/** Messages that outgrow this are finished in the scratch buffer and copied out. */
const SLAB_MSG_MAX = 8 * 1024;
/** A scratch buffer larger than this is dropped after use instead of kept. */
const SCRATCH_KEEP_MAX = 1024 * 1024;

/** Output state shared by every generated unit (one slab for all root types). */
const S = {
  slab: new Uint8Array(SLAB_SIZE),
  view: undefined as unknown as DataView,
  /** Bytes of `slab` handed out (8-aligned). */
  used: 0,
  scratch: new Uint8Array(0),
  scratchView: undefined as unknown as DataView,
  /** An encode is in progress (a getter could re-enter; the nested call returns undefined). */
  busy: false,
};
S.view = new DataView(S.slab.buffer);
S.scratchView = new DataView(S.scratch.buffer);

const textEncoder = new TextEncoder();
const BAIL = new Error("generated encoder: value needs the reflective encoder");

/** Strings up to this many UTF-16 units are encoded by JS code, longer ones by encodeInto. */
const STR_JS_MAX = 64;

const deps = { S, BAIL, protoInt64, structToReflect, textEncoder, utf8Write, SLAB_SIZE, SLAB_MSG_MAX, SCRATCH_KEEP_MAX };

// Fixed helper source shared by every generated unit. Unit state: b (output buffer), dv (its
// DataView), st (where the message starts in b). Marks of open length prefixes are kept relative
// to st, because grow() may move the message to another buffer.
const HELPERS = `
"use strict";
const { S, BAIL, protoInt64, structToReflect, textEncoder, utf8Write, SLAB_SIZE, SLAB_MSG_MAX, SCRATCH_KEEP_MAX } = D;
let b = S.slab, dv = S.view, st = 0;
const hasOwn = Object.prototype.hasOwnProperty;
function bail() { throw BAIL; }
function grow(p, n) {
  const used = p - st, need = used + n;
  if (b === S.slab && need <= SLAB_MSG_MAX) {
    const fresh = new Uint8Array(SLAB_SIZE);
    if (used > 0) fresh.set(b.subarray(st, p));
    S.slab = fresh; S.view = new DataView(fresh.buffer); S.used = 0;
    b = fresh; dv = S.view;
  } else {
    let sc = S.scratch;
    let cap = Math.max(sc.length, 2 * SLAB_MSG_MAX);
    while (cap < need) cap *= 2;
    if (cap > sc.length) {
      const next = new Uint8Array(cap);
      if (used > 0) next.set(b.subarray(st, p));
      sc = next;
      S.scratch = sc; S.scratchView = new DataView(sc.buffer);
    } else if (used > 0) {
      sc.set(b.subarray(st, p));
    }
    b = sc; dv = S.scratchView;
  }
  st = 0;
  return used;
}
function vsize(v) { return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5; }
// Unsigned varint of v in [0, 2^32); room for 5 bytes ensured by the caller.
function vu32(v, p) {
  const a = b;
  while (v > 0x7f) { a[p++] = (v & 0x7f) | 0x80; v >>>= 7; }
  a[p++] = v;
  return p;
}
// int32 as varint: negative values sign-extended to 10 bytes (room ensured by the caller).
function vi32(v, p) {
  if (v >= 0) return vu32(v, p);
  const a = b;
  for (let i = 0; i < 9; i++) { a[p++] = (v & 0x7f) | 0x80; v >>= 7; }
  a[p++] = 1;
  return p;
}
// Varint of a safe integer n in [0, 2^53).
function vnum(n, p) {
  const a = b;
  while (n > 0x7fffffff) { const x = n & 0x7f; a[p++] = x | 0x80; n = (n - x) / 128; }
  while (n > 0x7f) { a[p++] = (n & 0x7f) | 0x80; n >>>= 7; }
  a[p++] = n;
  return p;
}
// 64-bit varint from two's complement halves (BinaryWriter.writeVarint64).
function v64(lo, hi, p) {
  const a = b;
  for (let i = 0; i < 28; i = i + 7) {
    const s = lo >>> i;
    const more = !(s >>> 7 === 0 && hi === 0);
    a[p++] = (more ? s | 0x80 : s) & 0xff;
    if (!more) return p;
  }
  const split = ((lo >>> 28) & 0x0f) | ((hi & 0x07) << 4);
  const moreBits = !(hi >> 3 === 0);
  a[p++] = (moreBits ? split | 0x80 : split) & 0xff;
  if (!moreBits) return p;
  for (let i = 3; i < 31; i = i + 7) {
    const s = hi >>> i;
    const more = !(s >>> 7 === 0);
    a[p++] = (more ? s | 0x80 : s) & 0xff;
    if (!more) return p;
  }
  a[p++] = (hi >>> 31) & 0x01;
  return p;
}
function w32(v, p) {
  const a = b;
  a[p] = v; a[p + 1] = v >>> 8; a[p + 2] = v >>> 16; a[p + 3] = v >>> 24;
  return p + 4;
}
// Two's complement halves of a 64-bit value that is not a safe-integer BigInt: protoInt64.
let lo = 0, hi = 0;
function split64(v, unsigned) {
  if (typeof v !== "bigint" && typeof v !== "string" && typeof v !== "number") bail();
  let tc;
  try { tc = unsigned ? protoInt64.uEnc(v) : protoInt64.enc(v); } catch { bail(); }
  lo = tc.lo; hi = tc.hi;
}
// 64-bit integer types (room for 10 bytes ensured by the caller). The *n forms take n, the
// Number of a BigInt v (NaN for other values): BigInt -> Number is the costly step (no BigInt
// arithmetic in optimized code), so it is done once per value; a safe integer is exact.
const SAFE = 9007199254740991;
function i64n(v, n, p) {
  if (n >= 0 && n <= SAFE) return n < 0x80 ? ((b[p] = n), p + 1) : vnum(n, p);
  if (n < 0 && n >= -SAFE) { const l = n >>> 0; return v64(l, ((n - l) / 4294967296) | 0, p); }
  split64(v, false);
  return v64(lo, hi, p);
}
function u64n(v, n, p) {
  if (n >= 0 && n <= SAFE) return n < 0x80 ? ((b[p] = n), p + 1) : vnum(n, p);
  split64(v, true);
  return v64(lo, hi, p);
}
function s64n(v, n, p) {
  // Zigzag of |n| < 2^52 stays a safe integer.
  if (n >= -4503599627370495 && n <= 4503599627370495) return vnum(n >= 0 ? 2 * n : -2 * n - 1, p);
  split64(v, false);
  const s = hi >> 31;
  return v64((lo << 1) ^ s, ((hi << 1) | (lo >>> 31)) ^ s, p);
}
function f64n(v, n, p, unsigned) {
  if (n >= (unsigned ? 0 : -SAFE) && n <= SAFE) {
    const l = n >>> 0;
    p = w32(l, p);
    return w32(((n - l) / 4294967296) | 0, p);
  }
  split64(v, unsigned);
  p = w32(lo, p);
  return w32(hi, p);
}
function f64un(v, n, p) { return f64n(v, n, p, true); }
function f64sn(v, n, p) { return f64n(v, n, p, false); }
function i64(v, p) { return i64n(v, typeof v === "bigint" ? Number(v) : Number.NaN, p); }
function u64(v, p) { return u64n(v, typeof v === "bigint" ? Number(v) : Number.NaN, p); }
function s64(v, p) { return s64n(v, typeof v === "bigint" ? Number(v) : Number.NaN, p); }
function f64u(v, p) { return f64n(v, typeof v === "bigint" ? Number(v) : Number.NaN, p, true); }
function f64s(v, p) { return f64n(v, typeof v === "bigint" ? Number(v) : Number.NaN, p, false); }
// Length-prefixed UTF-8 string (ensures its own room); t: a one-byte tag written first, or -1.
// Up to STR_JS_MAX units: ASCII by a JS loop unrolled by four (~1 ns per char; a TextEncoder
// call costs ~50 ns), kept small so the optimizing compiler inlines it into the message
// writers; the first non-ASCII char continues in strTail(). Longer strings: strLong().
function str(s, p, t) {
  if (typeof s !== "string") bail();
  const n = s.length;
  if (n > ${STR_JS_MAX}) return strLong(s, p, t);
  if (p + 6 + 3 * n > b.length) p = grow(p, 6 + 3 * n);
  const a = b;
  if (t >= 0) a[p++] = t;
  // The byte length of ASCII is n (< 128): a one-byte prefix.
  let q = p + 1, i = 0;
  for (; i + 8 <= n; i += 8) {
    const c0 = s.charCodeAt(i), c1 = s.charCodeAt(i + 1), c2 = s.charCodeAt(i + 2), c3 = s.charCodeAt(i + 3);
    const c4 = s.charCodeAt(i + 4), c5 = s.charCodeAt(i + 5), c6 = s.charCodeAt(i + 6), c7 = s.charCodeAt(i + 7);
    if ((c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) >= 0x80) break;
    a[q] = c0; a[q + 1] = c1; a[q + 2] = c2; a[q + 3] = c3;
    a[q + 4] = c4; a[q + 5] = c5; a[q + 6] = c6; a[q + 7] = c7;
    q += 8;
  }
  for (; i + 4 <= n; i += 4) {
    const c0 = s.charCodeAt(i), c1 = s.charCodeAt(i + 1), c2 = s.charCodeAt(i + 2), c3 = s.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 0x80) return strTail(s, i, n, p, q);
    a[q] = c0; a[q + 1] = c1; a[q + 2] = c2; a[q + 3] = c3;
    q += 4;
  }
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return strTail(s, i, n, p, q);
    a[q++] = c;
  }
  a[p] = n;
  return q;
}
// s[0..i) is written as ASCII from p0 + 1 to q: the rest as UTF-8, then the prefix at p0.
function strTail(s, i, n, p0, q) {
  const a = b;
  q = utf8Write(b, q, s, i, n);
  const len = q - p0 - 1;
  if (len < 0x80) { a[p0] = len; return q; }
  // At most 3 * ${STR_JS_MAX} bytes: a two-byte prefix.
  a.copyWithin(p0 + 2, p0 + 1, q);
  a[p0] = (len & 0x7f) | 0x80; a[p0 + 1] = len >>> 7;
  return q + 1;
}
function strLong(s, p, t) {
  const n = s.length;
  if (p + 6 + 3 * n > b.length) p = grow(p, 6 + 3 * n);
  const a = b;
  if (t >= 0) a[p++] = t;
  const guess = vsize(n);
  const at = p + guess;
  const len = textEncoder.encodeInto(s, a.subarray(at)).written;
  const size = vsize(len);
  if (size !== guess) a.copyWithin(p + size, at, at + len);
  p = vu32(len, p);
  return p + len;
}
function bytes(v, p) {
  if (!(v instanceof Uint8Array)) bail();
  const n = v.length;
  if (p + 5 + n > b.length) p = grow(p, 5 + n);
  const a = b;
  p = vu32(n, p);
  // A JS loop beats set() (a builtin call) only for a few bytes.
  if (n <= 8) { for (let i = 0; i < n; i++) a[p + i] = v[i]; } else a.set(v, p);
  return p + n;
}
// Widens the one-byte prefix before the body at bs (absolute) ending at p; returns the new end.
function widen(bs, p) {
  const len = p - bs;
  const extra = vsize(len) - 1;
  if (p + extra > b.length) { const rel = bs - st; p = grow(p, extra); bs = st + rel; }
  const a = b;
  a.copyWithin(bs + extra, bs, p);
  let q = bs - 1, v = len;
  while (v > 0x7f) { a[q++] = (v & 0x7f) | 0x80; v >>>= 7; }
  a[q] = v;
  return p + extra;
}
function unk(u, p) {
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    const d = x.data;
    if (p + 5 + d.length > b.length) p = grow(p, 5 + d.length);
    p = vu32(((x.no << 3) | x.wireType) >>> 0, p);
    b.set(d, p);
    p += d.length;
  }
  return p;
}
// Map keys are strings locally; converted like protobuf-es' compileMapKeyConverter.
function keyBool(k) { return k === "true" ? true : k === "false" ? false : bail(); }
function keyInt(k) { const n = Number.parseInt(k); return Number.isFinite(n) ? n : bail(); }
function key64(k) { try { return protoInt64.parse(k); } catch { return bail(); } }
function keyU64(k) { try { return protoInt64.uParse(k); } catch { return bail(); } }
`;

/** The varint bytes of a tag. */
function tagBytes(no: number, wt: number): number[] {
  let v = ((no << 3) | wt) >>> 0;
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** Code storing constant bytes at p and advancing it (room ensured by the caller). */
function emitBytes(bytes: number[]): string {
  if (bytes.length === 1) return `b[p++] = ${bytes[0]};`;
  return `${bytes.map((x, i) => `b[p + ${i}] = ${x};`).join(" ")} p += ${bytes.length};`;
}

/** Most bytes a scalar value can take, not counting strings / bytes. */
function scalarMax(t: number): number {
  switch (t) {
    case T_BOOL:
      return 1;
    case T_FIXED32:
    case T_SFIXED32:
    case T_FLOAT:
      return 4;
    case T_DOUBLE:
    case T_FIXED64:
    case T_SFIXED64:
      return 8;
    case T_STRING:
    case T_BYTES:
      return 0; // the helpers ensure their own room
    default:
      return 10;
  }
}

/** Code writing scalar `v` of type `t` at p, no tag; room for scalarMax(t) ensured. */
function writeScalar(t: number, v: string): string {
  switch (t) {
    case T_STRING:
      return `p = str(${v}, p, -1);`;
    case T_BYTES:
      return `p = bytes(${v}, p);`;
    case T_BOOL:
      return `b[p++] = ${v} ? 1 : 0;`;
    case T_INT32:
      return `if ((${v} | 0) !== ${v}) bail(); if (${v} >>> 7 === 0) b[p++] = ${v}; else p = vi32(${v}, p);`;
    case T_UINT32:
      return `if (${v} >>> 0 !== ${v}) bail(); if (${v} < 0x80) b[p++] = ${v}; else p = vu32(${v}, p);`;
    case T_SINT32:
      return `if ((${v} | 0) !== ${v}) bail(); { const z = ((${v} << 1) ^ (${v} >> 31)) >>> 0; if (z < 0x80) b[p++] = z; else p = vu32(z, p); }`;
    case T_FIXED32:
      return `if (${v} >>> 0 !== ${v}) bail(); p = w32(${v}, p);`;
    case T_SFIXED32:
      return `if ((${v} | 0) !== ${v}) bail(); p = w32(${v}, p);`;
    case T_DOUBLE:
      return `if (typeof ${v} !== "number") bail(); dv.setFloat64(p, ${v}, true); p += 8;`;
    case T_FLOAT:
      // protobuf-es rejects finite values that overflow float32.
      return `if (typeof ${v} !== "number" || (!Number.isFinite(Math.fround(${v})) && Number.isFinite(${v}))) bail(); dv.setFloat32(p, ${v}, true); p += 4;`;
    case T_INT64:
      return `p = i64(${v}, p);`;
    case T_UINT64:
      return `p = u64(${v}, p);`;
    case T_SINT64:
      return `p = s64(${v}, p);`;
    case T_FIXED64:
      return `p = f64u(${v}, p);`;
    case T_SFIXED64:
      return `p = f64s(${v}, p);`;
  }
  throw new Error(`unsupported scalar type ${t}`);
}

/**
 * Code writing tag + scalar `v`, and the bytes it writes without checking room (a string with a
 * one-byte tag: none, str() writes the tag after its own check).
 */
function tagged(t: number, tag: number[], v: string): { code: string; fixed: number } {
  if (t === T_STRING && tag.length === 1) return { code: `p = str(${v}, p, ${tag[0]});`, fixed: 0 };
  return { code: `${emitBytes(tag)} ${writeScalar(t, v)}`, fixed: tag.length + scalarMax(t) };
}

/** Code ensuring room for `n` bytes (nothing for 0). */
function room(n: number): string {
  return n > 0 ? `if (p + ${n} > b.length) p = grow(p, ${n});` : "";
}

/** The helper name (without the `n` suffix) of a 64-bit integer type; undefined for others. */
function int64Writer(t: number): string | undefined {
  switch (t) {
    case T_INT64:
      return "i64";
    case T_UINT64:
      return "u64";
    case T_SINT64:
      return "s64";
    case T_FIXED64:
      return "f64u";
    case T_SFIXED64:
      return "f64s";
  }
  return undefined;
}

/** Per-generation state: message type indexes, emitted functions. */
class Gen {
  readonly types = new Map<DescMessage, number>();
  readonly order: DescMessage[] = [];
  readonly fns: string[] = [];
  /** Unique local variable names. */
  vars = 0;

  typeIndex(desc: DescMessage): number {
    let i = this.types.get(desc);
    if (i === undefined) {
      i = this.order.length;
      this.types.set(desc, i);
      this.order.push(desc);
    }
    return i;
  }

  local(prefix: string): string {
    return `${prefix}${this.vars++}`;
  }
}

const FIELD_NO_MAX = 536870911;
const prop = (s: string): string => {
  // A `__proto__` key would read the prototype: refuse (protobuf-es escapes such names anyway).
  if (s === "__proto__") throw new Error("unsupported property name");
  return `[${JSON.stringify(s)}]`;
};

/**
 * Code of a field: `fixed` bytes written without own capacity check (covered by the segment
 * check before it), and whether it ends a segment (writes variable-size data).
 */
interface FieldCode {
  code: string;
  fixed: number;
  variable: boolean;
}

/** Code writing a LEN-delimited body produced by `body` (which advances p) after `tag`. */
function delimited(g: Gen, tag: number[], body: string): string {
  const s = g.local("s");
  const bs = g.local("q");
  return `${emitBytes(tag)} b[p++] = 0; const ${s} = p - st; ${body} { const ${bs} = st + ${s}, l = p - ${bs}; if (l < 0x80) b[${bs} - 1] = l; else p = widen(${bs}, p); }`;
}

/** Code writing message value `v` of `field` (tag included), per mapper and encoding. */
function writeChild(g: Gen, field: DescField, message: DescMessage, mapper: number, v: string, reserve: boolean): string {
  const no = field.number;
  const delim = field.fieldKind !== "map" && (field as { delimitedEncoding?: boolean }).delimitedEncoding === true;
  const ensure = (n: number) => (reserve ? `if (p + ${n} > b.length) p = grow(p, ${n}); ` : "");
  if (mapper === MAPPER_WRAPPER) {
    // The bare scalar of google.protobuf.*Value: message { value = 1 } written inline.
    const vf = message.fields[0] as DescField & { fieldKind: "scalar" };
    const t = vf.scalar as number;
    const w = tagged(t, tagBytes(1, wireTypeOf(t)), v);
    const inner = `${room(w.fixed)} ${w.code}`;
    const body = `if (${implicitSetTest(t, v)}) { ${inner} }`;
    const tag = tagBytes(no, delim ? WT_START_GROUP : WT_LEN);
    if (delim) throw new Error("delimited wrapper");
    return `${ensure(tag.length + 1)}${delimited(g, tag, body)}`;
  }
  const i = g.typeIndex(message);
  const msg = mapper === MAPPER_STRUCT ? `structToReflect(${v})` : v;
  if (delim) {
    const start = tagBytes(no, WT_START_GROUP);
    const end = tagBytes(no, WT_END_GROUP);
    return `${ensure(start.length)}${emitBytes(start)} p = w${i}(${msg}, p); if (p + ${end.length} > b.length) p = grow(p, ${end.length}); ${emitBytes(end)}`;
  }
  const tag = tagBytes(no, WT_LEN);
  return `${ensure(tag.length + 1)}${delimited(g, tag, `p = w${i}(${msg}, p);`)}`;
}

/** The implicit-presence test of protobuf-es for scalar type `t` (see to-binary.js). */
function implicitSetTest(t: number, v: string): string {
  switch (t) {
    case T_BOOL:
      return `${v} !== false`;
    case T_STRING:
      return `${v} !== ""`;
    case T_BYTES:
      return `(!(${v} instanceof Uint8Array) || ${v}.byteLength > 0)`;
    case T_DOUBLE:
    case T_FLOAT:
      return `!Object.is(${v}, 0)`;
    default:
      // Loose comparison matches 0n, 0 and "0".
      return `${v} != 0`;
  }
}

function fieldCode(g: Gen, field: DescField, usesPrototype: boolean): FieldCode {
  const no = field.number;
  if (!Number.isInteger(no) || no < 1 || no > FIELD_NO_MAX) throw new Error("field number out of range");
  const name = prop(field.localName);
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const t = field.fieldKind === "enum" ? T_INT32 : (field.scalar as number);
      const tag = tagBytes(no, wireTypeOf(t));
      const { code: write, fixed } = tagged(t, tag, "v");
      const variable = t === T_STRING || t === T_BYTES;
      if (field.oneof) {
        const o = prop(field.oneof.localName);
        return {
          code: `{ const o = m${o}; if (o.case === ${JSON.stringify(field.localName)}) { const v = o.value; ${write} } }`,
          fixed,
          variable,
        };
      }
      if (field.presence !== 2 /* IMPLICIT */) return { code: explicit(field, name, usesPrototype, write), fixed, variable };
      const fn64 = int64Writer(t);
      if (fn64 !== undefined) {
        // Number(0n) is 0 and no other BigInt converts to 0: the presence test and the value
        // conversion are one step.
        const fast =
          t === T_SINT64 || t === T_FIXED64 || t === T_SFIXED64
            ? `p = ${fn64}n(v, n, p);`
            : `if (n >= 0 && n < 0x80) b[p++] = n; else p = ${fn64}n(v, n, p);`;
        return {
          code: `{ const v = m${name}; if (typeof v === "bigint") { const n = Number(v); if (n !== 0) { ${emitBytes(tag)} ${fast} } } else if (v != 0) { ${write} } }`,
          fixed,
          variable,
        };
      }
      const test = field.fieldKind === "enum" ? `v !== ${field.enum.values[0].number}` : implicitSetTest(t, "v");
      return { code: `{ const v = m${name}; if (${test}) { ${write} } }`, fixed, variable };
    }
    case "message": {
      const mapper = mapperOf(field);
      const delim = field.delimitedEncoding;
      const fixed = delim ? tagBytes(no, WT_START_GROUP).length : tagBytes(no, WT_LEN).length + 1;
      const write = writeChild(g, field, field.message, mapper, "v", false);
      if (field.oneof) {
        const o = prop(field.oneof.localName);
        return {
          code: `{ const o = m${o}; if (o.case === ${JSON.stringify(field.localName)}) { const v = o.value; ${write} } }`,
          fixed,
          variable: true,
        };
      }
      return { code: explicit(field, name, usesPrototype, write), fixed, variable: true };
    }
    case "list": {
      if (field.listKind === "message") {
        const mapper = mapperOf(field);
        const write = writeChild(g, field, field.message, mapper, "a[i]", true);
        return { code: `{ const a = m${name}; for (let i = 0; i < a.length; i++) { ${write} } }`, fixed: 0, variable: true };
      }
      const t = field.listKind === "enum" ? T_INT32 : (field.scalar as number);
      const max = scalarMax(t);
      if (field.packed && t !== T_STRING && t !== T_BYTES) {
        const tag = tagBytes(no, WT_LEN);
        const width = t === T_BOOL ? 1 : wireTypeOf(t) === WT_BIT64 ? 8 : wireTypeOf(t) === WT_BIT32 ? 4 : 0;
        if (width > 0) {
          // Fixed width: the length is known, no backpatching.
          const need = `${tag.length + 5} + ${width} * a.length`;
          return {
            code: `{ const a = m${name}; if (a.length !== 0) { if (p + ${need} > b.length) p = grow(p, ${need}); ${emitBytes(tag)} p = vu32(${width} * a.length, p); for (let i = 0; i < a.length; i++) { const v = a[i]; ${writeScalar(t, "v")} } } }`,
            fixed: 0,
            variable: true,
          };
        }
        const body = `for (let i = 0; i < a.length; i++) { const v = a[i]; if (p + ${max} > b.length) p = grow(p, ${max}); ${writeScalar(t, "v")} }`;
        return {
          code: `{ const a = m${name}; if (a.length !== 0) { if (p + ${tag.length + 1} > b.length) p = grow(p, ${tag.length + 1}); ${delimited(g, tag, body)} } }`,
          fixed: 0,
          variable: true,
        };
      }
      const w = tagged(t, tagBytes(no, wireTypeOf(t)), "v");
      return {
        code: `{ const a = m${name}; for (let i = 0; i < a.length; i++) { const v = a[i]; ${room(w.fixed)} ${w.code} } }`,
        fixed: 0,
        variable: true,
      };
    }
    case "map": {
      const tag = tagBytes(no, WT_LEN);
      const kt = field.mapKey as number;
      let key: string;
      switch (kt) {
        case T_STRING:
          key = "k";
          break;
        case T_BOOL:
          key = "keyBool(k)";
          break;
        case T_INT64:
        case T_SINT64:
        case T_SFIXED64:
          key = "key64(k)";
          break;
        case T_UINT64:
        case T_FIXED64:
          key = "keyU64(k)";
          break;
        default:
          key = "keyInt(k)";
      }
      const kw = tagged(kt, tagBytes(1, wireTypeOf(kt)), "x");
      const keyWrite = `{ const x = ${key}; ${room(kw.fixed)} ${kw.code} }`;
      let valWrite: string;
      if (field.mapKind === "message") {
        const mapper = mapperOf(field);
        const i = g.typeIndex(field.message);
        const msg = mapper === MAPPER_STRUCT ? "structToReflect(r[k])" : "r[k]";
        valWrite = `if (p + 2 > b.length) p = grow(p, 2); ${delimited(g, [0x12], `p = w${i}(${msg}, p);`)}`;
      } else {
        const t = field.mapKind === "enum" ? T_INT32 : (field.scalar as number);
        const vw = tagged(t, tagBytes(2, wireTypeOf(t)), "v");
        valWrite = `{ const v = r[k]; ${room(vw.fixed)} ${vw.code} }`;
      }
      const entry = delimited(g, tag, `${keyWrite} ${valWrite}`);
      return {
        code: `{ const r = m${name}; const ks = Object.keys(r); for (let i = 0; i < ks.length; i++) { const k = ks[i]; if (p + ${tag.length + 1} > b.length) p = grow(p, ${tag.length + 1}); ${entry} } }`,
        fixed: 0,
        variable: true,
      };
    }
  }
}

/** Explicit presence (proto2 / proto3 optional / message fields / editions), required fields. */
function explicit(field: DescField, name: string, usesPrototype: boolean, write: string): string {
  // Without a prototype, a value other than undefined is an own property unless the key is one
  // of Object.prototype's (e.g. a field named `constructor`).
  const needOwn = usesPrototype || field.localName in Object.prototype;
  const own = needOwn ? ` && hasOwn.call(m, ${JSON.stringify(field.localName)})` : "";
  const missing = field.presence === 3 /* LEGACY_REQUIRED */ ? " else bail();" : "";
  return `{ const v = m${name}; if (v !== undefined${own}) { ${write} }${missing} }`;
}

/** `function wI(m, p)`: writes the fields of message `m` of type I at p, returns the end. */
function emitMessage(g: Gen, desc: DescMessage, i: number): void {
  const sorted = desc.fields.concat().sort((a, b) => a.number - b.number);
  // protobuf-es keeps default values of explicit-presence scalars on a prototype (proto2 and
  // some editions types): there, presence is "own property".
  const usesPrototype = Object.getPrototypeOf(create(desc)) !== Object.prototype;
  const codes = sorted.map((f) => fieldCode(g, f, usesPrototype));
  const parts: string[] = [];
  if (sorted.length > 0) parts.push(`if (m.$typeName !== ${JSON.stringify(desc.typeName)}) bail();`);
  // One capacity check per segment: a run of fixed-size fields up to the next variable one.
  for (let k = 0; k < codes.length; ) {
    let j = k;
    let need = 0;
    for (; j < codes.length; j++) {
      need += codes[j].fixed;
      if (codes[j].variable) break;
    }
    if (need > 0) parts.push(`if (p + ${need} > b.length) p = grow(p, ${need});`);
    for (let x = k; x <= j && x < codes.length; x++) parts.push(codes[x].code);
    k = j + 1;
  }
  parts.push("{ const u = m.$unknown; if (u !== undefined) p = unk(u, p); }");
  g.fns.push(`function w${i}(m, p) {\n  ${parts.join("\n  ")}\n  return p;\n}`);
}

/** Builds the source of an encoder unit for `root` and everything reachable from it. */
function generate(root: DescMessage): string {
  const g = new Gen();
  g.typeIndex(root);
  for (let i = 0; i < g.order.length; i++) emitMessage(g, g.order[i], i);
  const fns = g.fns.join("\n");
  // Floats are written through a DataView; units without them skip allocating one.
  const ownView = fns.includes("dv.set") ? "new DataView(own.buffer)" : "undefined";
  return `${HELPERS}
${fns}
// Size of the last message when it was large (else 0): the next one is written straight into
// its own buffer of that size plus 1/8, and the result is a view of it (no copy; at most 1/8
// unused). One that outgrows it is finished in the scratch buffer and copied out.
let bigLen = 0;
return function encode(m) {
  if (S.busy) return undefined;
  S.busy = true;
  let p, own;
  if (bigLen > 0) { own = new Uint8Array(bigLen + (bigLen >>> 3) + 64); b = own; dv = ${ownView}; st = 0; }
  else { b = S.slab; dv = S.view; st = S.used; }
  try {
    p = w0(m, st);
  } catch {
    // BAIL, or an error protobuf-es throws too (e.g. a list that is not an array): either way
    // the reflective encoder decides, so bytes and errors are exactly protobuf-es'.
    return undefined;
  } finally {
    S.busy = false;
  }
  const len = p - st;
  bigLen = len > SLAB_MSG_MAX ? len : 0;
  if (b === S.slab) {
    S.used = (p + 7) & ~7;
    return new Uint8Array(b.buffer, st, len);
  }
  if (b === own) return b.subarray(0, p);
  const out = b.slice(st, p);
  if (b.length > SCRATCH_KEEP_MAX) { S.scratch = new Uint8Array(0); S.scratchView = new DataView(S.scratch.buffer); }
  return out;
};`;
}

const cache = createCodegenCache<GeneratedEncoder>((schema) => new Function("D", generate(schema))(deps) as GeneratedEncoder);

/**
 * The generated encoder for `schema`, compiled at first use; undefined when code generation is
 * unavailable or disabled, or the schema is refused (then use the reflective encodeFast of
 * proto-encode.ts).
 * @internal
 */
export function compileEncoder(schema: DescMessage): GeneratedEncoder | undefined {
  return cache.get(schema);
}

/**
 * Turns code generation on or off and forgets compiled encoders and whether `new Function`
 * works (tests exercise the reflective fallback this way). Returns the previous setting.
 * @internal
 */
export function setEncoderCodegen(enabled: boolean): boolean {
  return cache.setEnabled(enabled);
}

/** The generated source for `schema` (debugging and tests). @internal */
export function encoderSource(schema: DescMessage): string {
  return generate(schema);
}
