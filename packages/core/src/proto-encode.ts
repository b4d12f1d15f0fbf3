// Protobuf binary encoder for protobuf-es v2 messages, wire-identical to `toBinary` of
// @bufbuild/protobuf 2.17 (dist/esm/to-binary.js), but without a BinaryWriter per message.
// The codec uses the generated encoder of proto-encode-gen.ts first; this reflective one runs
// where code generation is unavailable and for messages the generated code gives up on
// (loosely typed values, errors), so it also decides protobuf-es-compatible errors.
//
// - A plan per message type is compiled once (WeakMap keyed by DescMessage): fields sorted by
//   number (protobuf-es writes in field-number order, then `$unknown`), with the presence test
//   and the value encoding pre-classified into small integer codes.
// - Bytes go straight into a module-level 32 KiB slab. The result is a view of the slab
//   (`new Uint8Array(slab, offset, len)`), so a message costs no ArrayBuffer of its own and no
//   copy. The slab is never written again below the handed-out offset; a fresh slab is taken
//   when one runs out (the old one lives as long as any result viewing it). Messages larger than
//   SLAB_MSG_MAX are written into a reused scratch buffer and returned as one exact-size copy.
// - Length prefixes of nested messages are reserved as one byte and widened (bytes shifted) only
//   when the body is >= 128 bytes, like protobuf-es.
// - Scalars take a fast path for well-typed values; 64-bit values outside [-2^31, 2^32) and
//   jstype=JS_STRING strings go through protobuf-es' protoInt64; anything else (numeric strings
//   in number fields, out-of-range values, wrong types …) through protobuf-es' own BinaryWriter
//   for that one value, so the bytes and the errors thrown are protobuf-es'.
//
// encode() is synchronous. The only user code it can run is `String(value)` for a non-string in
// a string field (like protobuf-es); a reentrant encode from there is delegated to toBinary.
import { create, protoInt64, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FieldError } from "@bufbuild/protobuf/reflect";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { MAPPER_NONE, MAPPER_STRUCT, MAPPER_WRAPPER, mapperOf, structToReflect } from "./proto-wkt.js";
import {
  T_DOUBLE,
  T_FLOAT,
  T_INT64,
  T_UINT64,
  T_INT32,
  T_FIXED64,
  T_FIXED32,
  T_BOOL,
  T_STRING,
  T_BYTES,
  T_UINT32,
  T_SFIXED32,
  T_SFIXED64,
  T_SINT32,
  T_SINT64,
  WT_END_GROUP,
  WT_LEN,
  WT_START_GROUP,
  wireTypeOf,
} from "./proto-scalar.js";

// biome-ignore lint/suspicious/noExplicitAny: messages are accessed reflectively
type Any = any;

// FeatureSet.FieldPresence
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;

// Field modes: how presence is decided (singular) or which repeated layout is written.
const M_ONEOF = 0;
const M_EXPLICIT = 1;
const M_REQUIRED = 2;
const M_IMPL_LOOSE = 3; // integers: value != 0 (matches 0, 0n and "0")
const M_IMPL_STRING = 4;
const M_IMPL_BOOL = 5;
const M_IMPL_BYTES = 6;
const M_IMPL_FLOAT = 7; // !Object.is(value, 0)
const M_IMPL_ENUM = 8;
const M_LIST_MESSAGE = 9;
const M_LIST_PACKED = 10;
const M_LIST_UNPACKED = 11;
const M_MAP = 12;
/** Explicit presence in a message type whose zero values live on a prototype (proto2). */
const M_EXPLICIT_OWN = 13;

// Value kinds of a singular field / a map value.
const V_SCALAR = 0;
const V_MESSAGE = 1;
const V_GROUP = 2;

class EncField {
  mode = 0;
  vkind = V_SCALAR;
  name: string;
  oneof = "";
  /** Scalar type of the value (enum: INT32). For maps: of the value. */
  scalar = 0;
  /** Tag of the field with the wire type of its value (lists: of one element; packed/maps: LEN). */
  tag = 0;
  /** Group end tag. */
  endTag = 0;
  zero = 0;
  mapper = MAPPER_NONE;
  plan: EncPlan | undefined = undefined;
  mapKey = 0;
  keyTag = 0;
  valTag = 0;
  wrapperTypeName = "";
  wrapperPlan: EncPlan | undefined = undefined;
  readonly desc: DescField;
  readonly errPrefix: string;
  constructor(desc: DescField) {
    this.desc = desc;
    this.name = desc.localName;
    this.errPrefix = `cannot encode field ${desc.parent.typeName}.${desc.name} to binary: `;
  }
}

class EncPlan {
  readonly typeName: string;
  readonly fields: EncField[] = [];
  readonly foreign: DescField | undefined;
  constructor(desc: DescMessage, sorted: DescField[]) {
    this.typeName = desc.typeName;
    this.foreign = sorted[0];
  }
}

const plans = new WeakMap<DescMessage, EncPlan>();

function planOf(desc: DescMessage): EncPlan {
  return plans.get(desc) ?? compilePlan(desc);
}

function compilePlan(desc: DescMessage): EncPlan {
  const sorted = desc.fields.concat().sort((a, b) => a.number - b.number);
  const plan = new EncPlan(desc, sorted);
  // Register before compiling fields: recursive types resolve to this instance.
  plans.set(desc, plan);
  // protobuf-es keeps default values of explicit-presence scalars on a prototype (proto2 and
  // some editions types). There, most unset fields are found on the prototype, so testing
  // "own property" first saves a lookup.
  const usesPrototype = Object.getPrototypeOf(create(desc)) !== Object.prototype;
  for (const field of sorted) {
    const f = compileField(field);
    if (f.mode === M_EXPLICIT && usesPrototype) f.mode = M_EXPLICIT_OWN;
    plan.fields.push(f);
  }
  return plan;
}

function makeTag(no: number, wt: number): number {
  return ((no << 3) | wt) >>> 0;
}

function compileField(field: DescField): EncField {
  const f = new EncField(field);
  const no = field.number;
  switch (field.fieldKind) {
    case "scalar":
    case "enum":
    case "message": {
      if (field.fieldKind === "message") {
        f.plan = planOf(field.message);
        f.mapper = mapperOf(field);
        if (field.delimitedEncoding) {
          f.vkind = V_GROUP;
          f.tag = makeTag(no, WT_START_GROUP);
          f.endTag = makeTag(no, WT_END_GROUP);
        } else {
          f.vkind = V_MESSAGE;
          f.tag = makeTag(no, WT_LEN);
        }
        if (f.mapper === MAPPER_WRAPPER) {
          f.wrapperTypeName = field.message.typeName;
        }
      } else {
        f.scalar = field.fieldKind === "enum" ? T_INT32 : field.scalar;
        f.tag = makeTag(no, wireTypeOf(f.scalar));
      }
      if (field.oneof) {
        f.mode = M_ONEOF;
        f.oneof = field.oneof.localName;
      } else if (field.presence !== IMPLICIT) {
        f.mode = field.presence === LEGACY_REQUIRED ? M_REQUIRED : M_EXPLICIT;
      } else if (field.fieldKind === "enum") {
        f.mode = M_IMPL_ENUM;
        f.zero = field.enum.values[0].number;
      } else if (field.fieldKind === "scalar") {
        switch (field.scalar as number) {
          case T_BOOL:
            f.mode = M_IMPL_BOOL;
            break;
          case T_STRING:
            f.mode = M_IMPL_STRING;
            break;
          case T_BYTES:
            f.mode = M_IMPL_BYTES;
            break;
          case T_DOUBLE:
          case T_FLOAT:
            f.mode = M_IMPL_FLOAT;
            break;
          default:
            f.mode = M_IMPL_LOOSE;
        }
      } else {
        // protobuf-es: a message field always has explicit presence.
        f.mode = M_EXPLICIT;
      }
      return f;
    }
    case "list": {
      if (field.listKind === "message") {
        f.mode = M_LIST_MESSAGE;
        f.plan = planOf(field.message);
        f.mapper = mapperOf(field);
        if (field.delimitedEncoding) {
          f.vkind = V_GROUP;
          f.tag = makeTag(no, WT_START_GROUP);
          f.endTag = makeTag(no, WT_END_GROUP);
        } else {
          f.vkind = V_MESSAGE;
          f.tag = makeTag(no, WT_LEN);
        }
        return f;
      }
      f.scalar = field.listKind === "enum" ? T_INT32 : field.scalar;
      if (field.packed) {
        f.mode = M_LIST_PACKED;
        f.tag = makeTag(no, WT_LEN);
      } else {
        f.mode = M_LIST_UNPACKED;
        f.tag = makeTag(no, wireTypeOf(f.scalar));
      }
      return f;
    }
    case "map": {
      f.mode = M_MAP;
      f.tag = makeTag(no, WT_LEN);
      f.mapKey = field.mapKey;
      f.keyTag = makeTag(1, wireTypeOf(field.mapKey));
      if (field.mapKind === "message") {
        f.vkind = V_MESSAGE;
        f.plan = planOf(field.message);
        f.mapper = mapperOf(field);
        f.valTag = makeTag(2, WT_LEN);
      } else {
        f.vkind = V_SCALAR;
        f.scalar = field.mapKind === "enum" ? T_INT32 : field.scalar;
        f.valTag = makeTag(2, wireTypeOf(f.scalar));
      }
      return f;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output buffer: a slab handed out in pieces.

const SLAB_SIZE = 32 * 1024;
/** Messages that outgrow this are written to `scratch` and copied out instead. */
const SLAB_MSG_MAX = 8 * 1024;
/** A scratch buffer larger than this is dropped after use instead of kept. */
const SCRATCH_KEEP_MAX = 1024 * 1024;

let slab = new Uint8Array(SLAB_SIZE);
let slabView = new DataView(slab.buffer);
/** Bytes of `slab` handed out (8-aligned). */
let slabUsed = 0;
let scratch = new Uint8Array(0);
/** An encode is in progress (reentrancy guard). */
let busy = false;

/** Current output buffer: `slab` or `scratch`. */
let buf = slab;
let view = slabView;
/** Write position in `buf`. */
let pos = 0;
/** Where the current message starts in `buf`. Positions kept across writes are relative to it. */
let start = 0;

function _ensure(n: number): void {
  if (pos + n > buf.length) grow(n);
}

function grow(n: number): void {
  const used = pos - start;
  const need = used + n;
  if (buf === slab && need <= SLAB_MSG_MAX) {
    const fresh = new Uint8Array(SLAB_SIZE);
    if (used > 0) fresh.set(slab.subarray(start, pos));
    slab = fresh;
    slabView = new DataView(fresh.buffer);
    slabUsed = 0;
    buf = slab;
    view = slabView;
  } else {
    let cap = Math.max(scratch.length, 2 * SLAB_MSG_MAX);
    while (cap < need) cap *= 2;
    if (cap > scratch.length) {
      const next = new Uint8Array(cap);
      if (used > 0) next.set(buf.subarray(start, pos));
      scratch = next;
    } else if (used > 0) {
      // buf is the slab here (scratch would have had room): bring the partial message over.
      scratch.set(buf.subarray(start, pos));
    }
    buf = scratch;
    view = new DataView(scratch.buffer);
  }
  start = 0;
  pos = used;
}

function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Unsigned 32-bit varint. `v` must be an integer in [0, 2^32). */
function wVarint32(v: number): void {
  if (pos + 5 > buf.length) grow(5);
  const b = buf;
  while (v > 0x7f) {
    b[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[pos++] = v;
}

/** Negative int32, sign-extended to 10 bytes. */
function wNegInt32(v: number): void {
  if (pos + 10 > buf.length) grow(10);
  const b = buf;
  for (let i = 0; i < 9; i++) {
    b[pos++] = (v & 0x7f) | 0x80;
    v >>= 7;
  }
  b[pos++] = 1;
}

/** 64-bit varint from two's complement halves (BinaryWriter.writeVarint64). */
function wVarint64(lo: number, hi: number): void {
  if (pos + 10 > buf.length) grow(10);
  const b = buf;
  for (let i = 0; i < 28; i = i + 7) {
    const shift = lo >>> i;
    const hasNext = !(shift >>> 7 === 0 && hi === 0);
    b[pos++] = (hasNext ? shift | 0x80 : shift) & 0xff;
    if (!hasNext) return;
  }
  const splitBits = ((lo >>> 28) & 0x0f) | ((hi & 0x07) << 4);
  const hasMoreBits = !(hi >> 3 === 0);
  b[pos++] = (hasMoreBits ? splitBits | 0x80 : splitBits) & 0xff;
  if (!hasMoreBits) return;
  for (let i = 3; i < 31; i = i + 7) {
    const shift = hi >>> i;
    const hasNext = !(shift >>> 7 === 0);
    b[pos++] = (hasNext ? shift | 0x80 : shift) & 0xff;
    if (!hasNext) return;
  }
  b[pos++] = (hi >>> 31) & 0x01;
}

function w32(v: number): void {
  if (pos + 4 > buf.length) grow(4);
  const b = buf;
  b[pos] = v;
  b[pos + 1] = v >>> 8;
  b[pos + 2] = v >>> 16;
  b[pos + 3] = v >>> 24;
  pos += 4;
}

function wRaw(chunk: ArrayLike<number>): void {
  const n = chunk.length;
  if (pos + n > buf.length) grow(n);
  buf.set(chunk, pos);
  pos += n;
}

function wBytes(v: Uint8Array): void {
  const n = v.length;
  if (pos + 5 + n > buf.length) grow(5 + n);
  const b = buf;
  let p = pos;
  let len = n;
  while (len > 0x7f) {
    b[p++] = (len & 0x7f) | 0x80;
    len >>>= 7;
  }
  b[p++] = len;
  if (n <= 32) {
    for (let i = 0; i < n; i++) b[p + i] = v[i];
  } else {
    b.set(v, p);
  }
  pos = p + n;
}

const textEncoder = new TextEncoder();
/** Strings up to this many UTF-16 units are encoded by a JS loop, longer ones by encodeInto. */
const STRING_JS_MAX = 64;

/**
 * UTF-8 encodes s[i..n) at p (room for 3 bytes per unit must exist); returns the end position.
 * Lone surrogates become U+FFFD, like TextEncoder. Also used by the generated encoders. @internal
 */
export function utf8Write(b: Uint8Array, p: number, s: string, i: number, n: number): number {
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      b[p++] = c;
    } else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          b[p++] = 0xf0 | (cp >> 18);
          b[p++] = 0x80 | ((cp >> 12) & 0x3f);
          b[p++] = 0x80 | ((cp >> 6) & 0x3f);
          b[p++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
      }
      // Lone surrogate: U+FFFD, like TextEncoder.
      b[p++] = 0xef;
      b[p++] = 0xbf;
      b[p++] = 0xbd;
    }
  }
  return p;
}

function wString(s: string): void {
  const n = s.length;
  if (n <= 42) {
    // At most 126 bytes: the length prefix is one byte.
    if (pos + 1 + 3 * n > buf.length) grow(1 + 3 * n);
    const b = buf;
    const p0 = pos;
    let p = p0 + 1;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
    if (i < n) p = utf8Write(b, p, s, i, n);
    b[p0] = p - p0 - 1;
    pos = p;
    return;
  }
  if (pos + 5 + 3 * n > buf.length) grow(5 + 3 * n);
  const b = buf;
  const guess = varint32Size(n);
  const at = pos + guess;
  let written: number;
  if (n <= STRING_JS_MAX) {
    written = utf8Write(b, at, s, 0, n) - at;
  } else {
    written = textEncoder.encodeInto(s, b.subarray(at)).written as number;
  }
  const size = varint32Size(written);
  if (size !== guess) b.copyWithin(pos + size, at, at + written);
  wVarint32(written);
  pos += written;
}

/** Reserves a one-byte length prefix; returns the body start relative to `start`. */
function fork(): number {
  if (pos + 1 > buf.length) grow(1);
  buf[pos++] = 0;
  return pos - start;
}

/** Writes the length of the body begun by fork(), widening the prefix if needed. */
function join(mark: number): void {
  let bodyStart = start + mark;
  const len = pos - bodyStart;
  if (len < 0x80) {
    buf[bodyStart - 1] = len;
    return;
  }
  const extra = varint32Size(len) - 1;
  if (pos + extra > buf.length) {
    grow(extra);
    bodyStart = start + mark;
  }
  buf.copyWithin(bodyStart + extra, bodyStart, pos);
  let p = bodyStart - 1;
  let v = len;
  while (v > 0x7f) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p] = v;
  pos += extra;
}

// ---------------------------------------------------------------------------------------------
// Scalars

function wrapError(f: EncField, e: unknown): unknown {
  return e instanceof Error ? new Error(f.errPrefix + e.message) : e;
}

/** Fallback: protobuf-es' own BinaryWriter for one value (exact bytes and errors). */
function slowScalar(t: number, v: Any, f: EncField): void {
  const w = new BinaryWriter();
  try {
    switch (t) {
      case T_STRING:
        w.string(v);
        break;
      case T_BOOL:
        w.bool(v);
        break;
      case T_DOUBLE:
        w.double(v);
        break;
      case T_FLOAT:
        w.float(v);
        break;
      case T_INT32:
        w.int32(v);
        break;
      case T_INT64:
        w.int64(v);
        break;
      case T_UINT64:
        w.uint64(v);
        break;
      case T_FIXED64:
        w.fixed64(v);
        break;
      case T_BYTES:
        w.bytes(v);
        break;
      case T_FIXED32:
        w.fixed32(v);
        break;
      case T_SFIXED32:
        w.sfixed32(v);
        break;
      case T_SFIXED64:
        w.sfixed64(v);
        break;
      case T_SINT64:
        w.sint64(v);
        break;
      case T_UINT32:
        w.uint32(v);
        break;
      case T_SINT32:
        w.sint32(v);
        break;
    }
  } catch (e) {
    throw wrapError(f, e);
  }
  wRaw(w.finish());
}

function wScalar(t: number, v: Any, f: EncField): void {
  switch (t) {
    case T_STRING:
      wString(typeof v === "string" ? v : String(v));
      return;
    case T_BOOL:
      if (pos + 1 > buf.length) grow(1);
      buf[pos++] = v ? 1 : 0;
      return;
    case T_INT32:
      if (typeof v === "number" && (v | 0) === v) {
        if (v >= 0) wVarint32(v);
        else wNegInt32(v);
        return;
      }
      break;
    case T_UINT32:
      if (typeof v === "number" && v >>> 0 === v) {
        wVarint32(v);
        return;
      }
      break;
    case T_SINT32:
      if (typeof v === "number" && (v | 0) === v) {
        wVarint32(((v << 1) ^ (v >> 31)) >>> 0);
        return;
      }
      break;
    case T_FIXED32:
      if (typeof v === "number" && v >>> 0 === v) {
        w32(v);
        return;
      }
      break;
    case T_SFIXED32:
      if (typeof v === "number" && (v | 0) === v) {
        w32(v);
        return;
      }
      break;
    case T_DOUBLE:
      if (typeof v === "number") {
        if (pos + 8 > buf.length) grow(8);
        view.setFloat64(pos, v, true);
        pos += 8;
        return;
      }
      break;
    case T_FLOAT:
      // protobuf-es rejects finite values that overflow float32.
      if (typeof v === "number" && (Number.isFinite(Math.fround(v)) || !Number.isFinite(v))) {
        if (pos + 4 > buf.length) grow(4);
        view.setFloat32(pos, v, true);
        pos += 4;
        return;
      }
      break;
    case T_BYTES:
      if (v instanceof Uint8Array) {
        wBytes(v);
        return;
      }
      break;
    case T_INT64:
      if (typeof v === "bigint" && v >= -0x80000000n && v <= 0xffffffffn) {
        const n = Number(v);
        if (n >= 0) wVarint32(n);
        else wNegInt32(n);
        return;
      }
      if (typeof v === "bigint" || typeof v === "string") {
        const tc = enc64(v, f, false);
        wVarint64(tc.lo, tc.hi);
        return;
      }
      break;
    case T_UINT64:
      if (typeof v === "bigint" && v >= 0n && v <= 0xffffffffn) {
        wVarint32(Number(v));
        return;
      }
      if (typeof v === "bigint" || typeof v === "string") {
        const tc = enc64(v, f, true);
        wVarint64(tc.lo, tc.hi);
        return;
      }
      break;
    case T_SINT64:
      if (typeof v === "bigint" && v >= -0x40000000n && v < 0x40000000n) {
        const n = Number(v);
        wVarint32(((n << 1) ^ (n >> 31)) >>> 0);
        return;
      }
      if (typeof v === "bigint" || typeof v === "string") {
        const tc = enc64(v, f, false);
        const sign = tc.hi >> 31;
        wVarint64((tc.lo << 1) ^ sign, ((tc.hi << 1) | (tc.lo >>> 31)) ^ sign);
        return;
      }
      break;
    case T_FIXED64:
      if (typeof v === "bigint" && v >= 0n && v <= 0xffffffffn) {
        w32(Number(v));
        w32(0);
        return;
      }
      if (typeof v === "bigint" || typeof v === "string") {
        const tc = enc64(v, f, true);
        w32(tc.lo);
        w32(tc.hi);
        return;
      }
      break;
    case T_SFIXED64:
      if (typeof v === "bigint" && v >= -0x80000000n && v <= 0xffffffffn) {
        const n = Number(v);
        w32(n);
        w32(n < 0 ? -1 : 0);
        return;
      }
      if (typeof v === "bigint" || typeof v === "string") {
        const tc = enc64(v, f, false);
        w32(tc.lo);
        w32(tc.hi);
        return;
      }
      break;
  }
  slowScalar(t, v, f);
}

function enc64(v: Any, f: EncField, unsigned: boolean): { lo: number; hi: number } {
  try {
    return unsigned ? protoInt64.uEnc(v) : protoInt64.enc(v);
  } catch (e) {
    throw wrapError(f, e);
  }
}

/** Map keys are strings locally; convert like protobuf-es' compileMapKeyConverter. */
function convertKey(t: number, key: string): Any {
  switch (t) {
    case T_STRING:
      return key;
    case T_BOOL:
      return key === "true" ? true : key === "false" ? false : key;
    case T_UINT64:
    case T_FIXED64:
      try {
        return protoInt64.uParse(key);
      } catch {
        return key;
      }
    case T_INT64:
    case T_SFIXED64:
    case T_SINT64:
      try {
        return protoInt64.parse(key);
      } catch {
        return key;
      }
    default: {
      // biome-ignore lint/correctness/useParseIntRadix: no radix, like protobuf-es ("0x10" is 16)
      const n = Number.parseInt(key);
      return Number.isFinite(n) ? n : key;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

const hasOwn = Object.prototype.hasOwnProperty;

function toMessage(f: EncField, v: Any): Any {
  switch (f.mapper) {
    case MAPPER_STRUCT:
      return structToReflect(v);
    case MAPPER_WRAPPER:
      return { $typeName: f.wrapperTypeName, value: v };
    default:
      return v;
  }
}

function writeChild(f: EncField, child: Any): void {
  if (f.vkind === V_GROUP) {
    wVarint32(f.tag);
    writeMessage(f.plan as EncPlan, child);
    wVarint32(f.endTag);
  } else {
    wVarint32(f.tag);
    const mark = fork();
    writeMessage(f.plan as EncPlan, child);
    join(mark);
  }
}

function writeMessage(p: EncPlan, m: Any): void {
  if (m.$typeName !== p.typeName && p.foreign !== undefined) {
    throw new FieldError(p.foreign, `cannot use ${p.foreign} with message ${m.$typeName}`, "ForeignFieldError");
  }
  const fields = p.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    let v: Any;
    switch (f.mode) {
      case M_ONEOF: {
        const o = m[f.oneof];
        if (o.case !== f.name) continue;
        v = o.value;
        break;
      }
      case M_EXPLICIT:
        v = m[f.name];
        if (v === undefined || !hasOwn.call(m, f.name)) continue;
        break;
      case M_EXPLICIT_OWN:
        if (!hasOwn.call(m, f.name)) continue;
        v = m[f.name];
        if (v === undefined) continue;
        break;
      case M_REQUIRED:
        v = m[f.name];
        if (v === undefined || !hasOwn.call(m, f.name)) {
          throw new Error(`cannot encode ${f.desc} to binary: required field not set`);
        }
        break;
      case M_IMPL_LOOSE:
        v = m[f.name];
        // biome-ignore lint/suspicious/noDoubleEquals: loose, like protobuf-es (0, 0n, "0")
        if (v == 0) continue;
        break;
      case M_IMPL_STRING:
        v = m[f.name];
        if (v === "") continue;
        break;
      case M_IMPL_BOOL:
        v = m[f.name];
        if (v === false) continue;
        break;
      case M_IMPL_BYTES:
        v = m[f.name];
        if (v instanceof Uint8Array && v.byteLength === 0) continue;
        break;
      case M_IMPL_FLOAT:
        v = m[f.name];
        if (v === 0 && 1 / v > 0) continue;
        break;
      case M_IMPL_ENUM:
        v = m[f.name];
        if (v === f.zero) continue;
        break;
      case M_LIST_MESSAGE: {
        const items = m[f.name];
        if (f.mapper === MAPPER_NONE) {
          for (let j = 0; j < items.length; j++) writeChild(f, items[j]);
        } else {
          for (let j = 0; j < items.length; j++) writeChild(f, toMessage(f, items[j]));
        }
        continue;
      }
      case M_LIST_PACKED: {
        const items = m[f.name];
        if (items.length === 0) continue;
        wVarint32(f.tag);
        const mark = fork();
        const t = f.scalar;
        for (let j = 0; j < items.length; j++) wScalar(t, items[j], f);
        join(mark);
        continue;
      }
      case M_LIST_UNPACKED: {
        const items = m[f.name];
        const t = f.scalar;
        const tag = f.tag;
        for (let j = 0; j < items.length; j++) {
          wVarint32(tag);
          wScalar(t, items[j], f);
        }
        continue;
      }
      case M_MAP:
        writeMap(f, m[f.name]);
        continue;
    }
    if (f.vkind === V_SCALAR) {
      wVarint32(f.tag);
      wScalar(f.scalar, v, f);
    } else {
      writeChild(f, f.mapper === MAPPER_NONE ? v : toMessage(f, v));
    }
  }
  const unknown = m.$unknown;
  if (unknown !== undefined) {
    for (let i = 0; i < unknown.length; i++) {
      const u = unknown[i];
      wVarint32(((u.no << 3) | u.wireType) >>> 0);
      wRaw(u.data);
    }
  }
}

function writeMap(f: EncField, record: Any): void {
  const keys = Object.keys(record);
  const keyType = f.mapKey;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    wVarint32(f.tag);
    const mark = fork();
    wVarint32(f.keyTag);
    wScalar(keyType, keyType === T_STRING ? key : convertKey(keyType, key), f);
    wVarint32(f.valTag);
    if (f.vkind === V_MESSAGE) {
      const inner = fork();
      const val = record[key];
      writeMessage(f.plan as EncPlan, f.mapper === MAPPER_STRUCT ? structToReflect(val) : val);
      join(inner);
    } else {
      wScalar(f.scalar, record[key], f);
    }
    join(mark);
  }
}

/**
 * Encodes `message` of `schema` to the protobuf binary format, byte-identical to protobuf-es
 * `toBinary(schema, message)`. The result may be a view into a shared slab (like a pooled
 * Node.js Buffer): don't rely on `result.buffer` holding only this message.
 */
export function encodeFast(schema: DescMessage, message: object): Uint8Array {
  // A reentrant call (only possible from user code run by String(value) for a non-string in a
  // string field) must not touch the buffer in use: leave it to protobuf-es.
  if (busy) return toBinary(schema, message as never);
  busy = true;
  try {
    const plan = plans.get(schema) ?? compilePlan(schema);
    buf = slab;
    view = slabView;
    start = pos = slabUsed;
    writeMessage(plan, message);
    const len = pos - start;
    if (buf === slab) {
      const out = new Uint8Array(slab.buffer, start, len);
      slabUsed = (pos + 7) & ~7;
      return out;
    }
    // Large message: one exact-size copy out of the scratch buffer.
    const out = scratch.slice(0, len);
    if (scratch.length > SCRATCH_KEEP_MAX) scratch = new Uint8Array(0);
    return out;
  } finally {
    buf = slab;
    view = slabView;
    busy = false;
  }
}
