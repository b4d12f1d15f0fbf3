// Protobuf binary decoder for protobuf-es v2 messages, result-identical to `fromBinary` of
// @bufbuild/protobuf 2.17 (dist/esm/from-binary.js + wire/binary-encoding.js), without a
// BinaryReader, DataView and `[fieldNo, wireType]` array per message / tag:
//
// - A plan per message type (WeakMap keyed by DescMessage) maps field numbers to pre-classified
//   field decoders (array lookup for field numbers < 512).
// - The reader state lives in module variables; decode() is synchronous and not reentrant.
// - Messages are created with protobuf-es `create(schema)`, so defaults, `$typeName` and the
//   proto2 prototype chain are protobuf-es' own.
//
// Semantics deliberately copied from protobuf-es, quirks included, so that decode() throws
// exactly when fromBinary() throws and otherwise returns an equal message:
// - the wire type of a known field is not checked (the field's reader runs regardless), except
//   that repeated scalars accept both packed (LEN) and unpacked encodings;
// - bounds are checked against the whole input, not against the enclosing message's length;
//   a nested message that overruns its length is not an error;
// - singular message fields that occur twice are merged; repeated ones are appended; map
//   entries overwrite, missing key/value take the zero value;
// - unknown fields (and out-of-range values of closed enums) are kept in `$unknown`;
// - strings are decoded by TextDecoder (ignoreBOM), fatal only when the field has UTF-8
//   validation (proto3 / editions), otherwise invalid sequences become U+FFFD;
// - bytes fields and unknown-field data are views of the input (no copy);
// - recursion limit 100, varints longer than 10 bytes and tags longer than 5 bytes throw.
import { create, protoInt64, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { scalarZeroValue } from "@bufbuild/protobuf/reflect";
import { MAPPER_NONE, MAPPER_STRUCT, mapperOf, setOwn, structToLocal, structToReflect } from "./proto-wkt.js";
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
  WT_BIT32,
  WT_BIT64,
  WT_END_GROUP,
  WT_LEN,
  WT_START_GROUP,
  WT_VARINT,
} from "./proto-scalar.js";

// biome-ignore lint/suspicious/noExplicitAny: messages are accessed reflectively
type Any = any;

const RECURSION_LIMIT = 100;

// Field decoder kinds
const K_SCALAR = 0;
const K_SCALAR_ONEOF = 1;
const K_ENUM_CLOSED = 2;
const K_MESSAGE = 3;
const K_LIST_SCALAR = 4;
const K_LIST_MESSAGE = 5;
const K_MAP = 6;

// Map value kinds
const MV_SCALAR = 0;
const MV_ENUM = 1;
const MV_MESSAGE = 2;

class DecField {
  kind = K_SCALAR;
  readonly no: number;
  readonly name: string;
  oneof = "";
  scalar = 0;
  strict: boolean;
  longAsString = false;
  delimited = false;
  mapper = MAPPER_NONE;
  message: DescMessage | undefined = undefined;
  plan: DecPlan | undefined = undefined;
  enumValues: Set<number> | undefined = undefined;
  packable = false;
  mapKey = 0;
  keyZero: Any = undefined;
  valKind = MV_SCALAR;
  valZero: Any = undefined;
  constructor(desc: DescField) {
    this.no = desc.number;
    this.name = desc.localName;
    this.strict = desc.utf8Validation;
  }
}

// How newMessage() initializes a property of a fresh message.
const INIT_CONST = 0;
const INIT_LIST = 1;
const INIT_MAP = 2;
const INIT_ONEOF = 3;

class DecPlan {
  readonly desc: DescMessage;
  readonly descString: string;
  readonly byNo: (DecField | undefined)[] = [];
  readonly byNoLarge = new Map<number, DecField>();
  /** A message from protobuf-es create(); fresh messages copy its shape (see newMessage). */
  readonly template: Any;
  /** The prototype create() uses (proto2 / editions default values), or undefined. */
  readonly proto: object | undefined;
  readonly initNames: string[] = [];
  readonly initKinds: number[] = [];
  readonly initValues: unknown[] = [];
  constructor(desc: DescMessage) {
    this.desc = desc;
    this.descString = String(desc);
    this.template = create(desc);
    const proto = Object.getPrototypeOf(this.template);
    this.proto = proto === Object.prototype ? undefined : proto;
    const oneofs = new Set(desc.oneofs.map((o) => o.localName));
    const maps = new Set(desc.fields.filter((f) => f.fieldKind === "map").map((f) => f.localName));
    for (const key of Object.keys(this.template)) {
      const value = this.template[key];
      let kind = INIT_CONST;
      if (Array.isArray(value)) kind = INIT_LIST;
      else if (maps.has(key)) kind = INIT_MAP;
      else if (oneofs.has(key)) kind = INIT_ONEOF;
      this.initNames.push(key);
      this.initKinds.push(kind);
      this.initValues.push(value);
    }
  }
}

/**
 * A message like protobuf-es `create(desc)` makes it — same own properties in the same order,
 * same prototype, same (shared) zero-value constants, fresh lists / maps / oneof objects — but
 * cloned from a template instead of walking an init object.
 */
function newMessage(p: DecPlan): Any {
  const names = p.initNames;
  const kinds = p.initKinds;
  let m: Any;
  let i = 0;
  if (p.proto === undefined) {
    m = { ...p.template };
  } else {
    m = Object.create(p.proto);
    const values = p.initValues;
    // Assign constants first-to-last so the property order matches create().
    for (; i < names.length; i++) {
      const k = kinds[i];
      m[names[i]] = k === INIT_CONST ? values[i] : k === INIT_LIST ? [] : k === INIT_MAP ? {} : { case: undefined };
    }
    return m;
  }
  for (; i < names.length; i++) {
    switch (kinds[i]) {
      case INIT_LIST:
        m[names[i]] = [];
        break;
      case INIT_MAP:
        m[names[i]] = {};
        break;
      case INIT_ONEOF:
        m[names[i]] = { case: undefined };
        break;
    }
  }
  return m;
}

const BY_NO_ARRAY_MAX = 512;
const plans = new WeakMap<DescMessage, DecPlan>();

function planOf(desc: DescMessage): DecPlan {
  return plans.get(desc) ?? compilePlan(desc);
}

function compilePlan(desc: DescMessage): DecPlan {
  const plan = new DecPlan(desc);
  plans.set(desc, plan);
  for (const field of desc.fields) {
    const f = compileField(field);
    if (field.number < BY_NO_ARRAY_MAX) {
      while (plan.byNo.length <= field.number) plan.byNo.push(undefined);
      plan.byNo[field.number] = f;
    } else {
      plan.byNoLarge.set(field.number, f);
    }
  }
  return plan;
}

function compileField(field: DescField): DecField {
  const f = new DecField(field);
  switch (field.fieldKind) {
    case "scalar":
      f.scalar = field.scalar;
      f.longAsString = field.longAsString;
      if (field.oneof) {
        f.kind = K_SCALAR_ONEOF;
        f.oneof = field.oneof.localName;
      } else {
        f.kind = K_SCALAR;
      }
      return f;
    case "enum":
      f.scalar = T_INT32;
      if (field.oneof) f.oneof = field.oneof.localName;
      if (field.enum.open) {
        f.kind = field.oneof ? K_SCALAR_ONEOF : K_SCALAR;
      } else {
        f.kind = K_ENUM_CLOSED;
        f.enumValues = new Set(field.enum.values.map((v) => v.number));
      }
      return f;
    case "message":
      f.kind = K_MESSAGE;
      if (field.oneof) f.oneof = field.oneof.localName;
      f.message = field.message;
      f.plan = planOf(field.message);
      f.delimited = field.delimitedEncoding;
      f.mapper = mapperOf(field);
      return f;
    case "list":
      if (field.listKind === "message") {
        f.kind = K_LIST_MESSAGE;
        f.message = field.message;
        f.plan = planOf(field.message);
        f.delimited = field.delimitedEncoding;
        f.mapper = mapperOf(field);
        return f;
      }
      f.kind = K_LIST_SCALAR;
      f.scalar = field.listKind === "enum" ? T_INT32 : field.scalar;
      f.longAsString = field.listKind === "scalar" ? field.longAsString : false;
      f.packable = f.scalar !== T_STRING && f.scalar !== T_BYTES;
      return f;
    case "map":
      f.kind = K_MAP;
      f.mapKey = field.mapKey;
      f.keyZero = scalarZeroValue(field.mapKey, false);
      switch (field.mapKind) {
        case "scalar":
          f.valKind = MV_SCALAR;
          f.scalar = field.scalar;
          f.valZero = field.scalar === (T_BYTES as number) ? undefined : scalarZeroValue(field.scalar, false);
          break;
        case "enum":
          f.valKind = MV_ENUM;
          f.scalar = T_INT32;
          f.valZero = field.enum.values[0].number;
          break;
        case "message":
          f.valKind = MV_MESSAGE;
          f.message = field.message;
          f.plan = planOf(field.message);
          f.mapper = mapperOf(field);
          break;
      }
      return f;
  }
}

// ---------------------------------------------------------------------------------------------
// Reader state

const EMPTY = new Uint8Array(0);
let rb: Uint8Array = EMPTY;
let rp = 0;
let rl = 0;
let depth = 0;
/** Result of rVarint64(). */
let vLo = 0;
let vHi = 0;

function eof(): Error {
  return new RangeError("premature EOF");
}

/** Unsigned 32-bit varint (low 32 bits of up to 10 bytes), like protobuf-es varint32read. */
function rVarint32(): number {
  if (rp < rl) {
    const b = rb[rp];
    if (b < 0x80) {
      rp++;
      return b;
    }
  }
  return rVarint32Slow();
}

function rVarint32Slow(): number {
  const buf = rb;
  let result = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (rp >= rl) throw eof();
    const b = buf[rp++];
    result |= (b & 0x7f) << shift;
    if (b < 0x80) return result;
  }
  if (rp >= rl) throw eof();
  let b = buf[rp++];
  result |= (b & 0x0f) << 28;
  for (let readBytes = 5; (b & 0x80) !== 0 && readBytes < 10; readBytes++) {
    if (rp >= rl) throw eof();
    b = buf[rp++];
  }
  if ((b & 0x80) !== 0) throw new Error("invalid varint");
  return result >>> 0;
}

/** 64-bit varint into vLo/vHi, like protobuf-es varint64read. */
function rVarint64(): void {
  const buf = rb;
  let lo = 0;
  let hi = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (rp >= rl) throw eof();
    const b = buf[rp++];
    lo |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      vLo = lo;
      vHi = hi;
      return;
    }
  }
  if (rp >= rl) throw eof();
  const middleByte = buf[rp++];
  lo |= (middleByte & 0x0f) << 28;
  hi = (middleByte & 0x70) >> 4;
  if ((middleByte & 0x80) === 0) {
    vLo = lo;
    vHi = hi;
    return;
  }
  for (let shift = 3; shift <= 31; shift += 7) {
    if (rp >= rl) throw eof();
    const b = buf[rp++];
    hi |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      vLo = lo;
      vHi = hi;
      return;
    }
  }
  throw new Error("invalid varint");
}

/** A tag as `(fieldNo << 3 | wireType) >>> 0`, validated like BinaryReader.tag(). */
function rTag(): number {
  if (rp < rl) {
    const b = rb[rp];
    if (b < 0x80 && b >= 8 && (b & 7) <= 5) {
      rp++;
      return b;
    }
  }
  const begin = rp;
  const tag = rVarint32();
  const bytesRead = rp - begin;
  if (bytesRead > 5 || (bytesRead === 5 && rb[rp - 1] > 0x0f)) {
    throw new Error("illegal tag: varint overflows uint32");
  }
  const fieldNo = tag >>> 3;
  const wireType = tag & 7;
  if (fieldNo <= 0 || wireType > 5) {
    throw new Error(`illegal tag: field no ${fieldNo} wire type ${wireType}`);
  }
  return tag;
}

/** Skips one value, returning its bytes (BinaryReader.skip()). */
function skip(wireType: number, fieldNo: number, recursionLimit: number): Uint8Array {
  const begin = rp;
  switch (wireType) {
    case WT_VARINT:
      // protobuf-es does not limit the length of a skipped varint.
      for (;;) {
        if (rp >= rl) throw eof();
        if ((rb[rp++] & 0x80) === 0) break;
      }
      break;
    case WT_BIT64:
      rp += 8;
      break;
    case WT_BIT32:
      rp += 4;
      break;
    case WT_LEN: {
      const len = rVarint32();
      rp += len;
      break;
    }
    case WT_START_GROUP:
      if (recursionLimit <= 0) throw new Error("maximum recursion depth reached");
      for (;;) {
        const tag = rTag();
        const fn = tag >>> 3;
        const wt = tag & 7;
        if (wt === WT_END_GROUP) {
          if (fn !== fieldNo) throw new Error("invalid end group tag");
          break;
        }
        skip(wt, fn, recursionLimit - 1);
      }
      break;
    default:
      throw new Error(`cant skip wire type ${wireType}`);
  }
  if (rp > rl) throw eof();
  return rb.subarray(begin, rp);
}

// ---------------------------------------------------------------------------------------------
// Scalars

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const bigintSupported = protoInt64.supported;

const utf8Lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function rString(strict: boolean): string {
  const len = rVarint32();
  const begin = rp;
  const end = begin + len;
  rp = end;
  if (end > rl) throw eof();
  const b = rb;
  // Short ASCII is cheaper in JS than a TextDecoder call. Up to 12 chars, concatenation yields
  // flat strings; up to 24, one fromCharCode over an array. Non-ASCII falls through.
  if (len <= 12) {
    let s = "";
    let i = begin;
    for (; i + 4 <= end; i += 4) {
      const c0 = b[i];
      const c1 = b[i + 1];
      const c2 = b[i + 2];
      const c3 = b[i + 3];
      if ((c0 | c1 | c2 | c3) > 0x7f) return (strict ? utf8Strict : utf8Lenient).decode(b.subarray(begin, end));
      s += String.fromCharCode(c0, c1, c2, c3);
    }
    for (; i < end; i++) {
      const c = b[i];
      if (c > 0x7f) return (strict ? utf8Strict : utf8Lenient).decode(b.subarray(begin, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  if (len <= 24) {
    const codes: number[] = new Array(len);
    for (let i = 0; i < len; i++) {
      const c = b[begin + i];
      if (c > 0x7f) return (strict ? utf8Strict : utf8Lenient).decode(b.subarray(begin, end));
      codes[i] = c;
    }
    return String.fromCharCode.apply(String, codes);
  }
  return (strict ? utf8Strict : utf8Lenient).decode(b.subarray(begin, end));
}

function rBytes(): Uint8Array {
  const len = rVarint32();
  const begin = rp;
  rp += len;
  if (rp > rl) throw eof();
  return rb.subarray(begin, rp);
}

function rU32fixed(): number {
  if (rp + 4 > rl) throw eof();
  const b = rb;
  const p = rp;
  rp = p + 4;
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

function rDouble(): number {
  if (rp + 8 > rl) throw eof();
  const b = rb;
  const p = rp;
  if (littleEndian) {
    for (let i = 0; i < 8; i++) f64b[i] = b[p + i];
  } else {
    for (let i = 0; i < 8; i++) f64b[7 - i] = b[p + i];
  }
  rp = p + 8;
  return f64[0];
}

function rFloat(): number {
  if (rp + 4 > rl) throw eof();
  const b = rb;
  const p = rp;
  if (littleEndian) {
    for (let i = 0; i < 4; i++) f32b[i] = b[p + i];
  } else {
    for (let i = 0; i < 4; i++) f32b[3 - i] = b[p + i];
  }
  rp = p + 4;
  return f32[0];
}

function dec64(lo: number, hi: number): Any {
  if (bigintSupported && hi === 0 && lo >= 0) return BigInt(lo);
  return protoInt64.dec(lo, hi);
}

function uDec64(lo: number, hi: number): Any {
  if (bigintSupported && hi === 0) return BigInt(lo >>> 0);
  return protoInt64.uDec(lo, hi);
}

function rScalar(t: number, strict: boolean, longAsString: boolean): Any {
  switch (t) {
    case T_STRING:
      return rString(strict);
    case T_BOOL: {
      if (rp < rl) {
        const b = rb[rp];
        if (b < 0x80) {
          rp++;
          return b !== 0;
        }
      }
      rVarint64();
      return vLo !== 0 || vHi !== 0;
    }
    case T_DOUBLE:
      return rDouble();
    case T_FLOAT:
      return rFloat();
    case T_INT32:
      return rVarint32() | 0;
    case T_UINT32:
      return rVarint32();
    case T_SINT32: {
      const zze = rVarint32();
      return (zze >>> 1) ^ -(zze & 1);
    }
    case T_FIXED32:
      return rU32fixed() >>> 0;
    case T_SFIXED32:
      return rU32fixed();
    case T_BYTES:
      return rBytes();
    case T_INT64: {
      rVarint64();
      const v = dec64(vLo, vHi);
      return longAsString ? String(v) : v;
    }
    case T_UINT64: {
      rVarint64();
      const v = uDec64(vLo, vHi);
      return longAsString ? String(v) : v;
    }
    case T_SINT64: {
      rVarint64();
      const s = -(vLo & 1);
      const v = dec64(((vLo >>> 1) | ((vHi & 1) << 31)) ^ s, (vHi >>> 1) ^ s);
      return longAsString ? String(v) : v;
    }
    case T_FIXED64: {
      const lo = rU32fixed();
      const v = uDec64(lo, rU32fixed());
      return longAsString ? String(v) : v;
    }
    case T_SFIXED64: {
      const lo = rU32fixed();
      const v = dec64(lo, rU32fixed());
      return longAsString ? String(v) : v;
    }
  }
  throw new Error(`unsupported scalar type ${t}`);
}

/** varint32write() of protobuf-es: int32 as varint, negative values sign-extended to 10 bytes. @internal */
export function int32VarintBytes(value: number): Uint8Array {
  const bytes: number[] = [];
  if (value >>> 0 < 0x80) {
    bytes.push(value);
  } else if (value >= 0) {
    while (value > 0x7f) {
      bytes.push((value & 0x7f) | 0x80);
      value = value >>> 7;
    }
    bytes.push(value);
  } else {
    for (let i = 0; i < 9; i++) {
      bytes.push((value & 127) | 128);
      value = value >> 7;
    }
    bytes.push(1);
  }
  return new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// Messages

function fieldOf(p: DecPlan, no: number): DecField | undefined {
  return no < BY_NO_ARRAY_MAX ? p.byNo[no] : p.byNoLarge.get(no);
}

function readMessage(p: DecPlan, m: Any, length: number): void {
  if (++depth > RECURSION_LIMIT) {
    throw new Error(`cannot decode ${p.descString} from binary: maximum recursion depth of ${RECURSION_LIMIT} reached`);
  }
  const end = rp + length;
  // Like protobuf-es: the array unknown fields are collected in is the message's existing
  // `$unknown` or a fresh one, assigned at the end if not empty.
  let unknown: Any[] | undefined = m.$unknown;
  while (rp < end) {
    const tag = rTag();
    const no = tag >>> 3;
    const f = no < BY_NO_ARRAY_MAX ? p.byNo[no] : p.byNoLarge.get(no);
    if (f === undefined) {
      const wireType = tag & 7;
      const data = skip(wireType, no, RECURSION_LIMIT - depth);
      if (unknown === undefined) unknown = [];
      unknown.push({ no, wireType, data });
      continue;
    }
    readField(f, m, tag & 7);
  }
  if (unknown !== undefined && unknown.length > 0) m.$unknown = unknown;
  depth--;
}

function readGroup(p: DecPlan, m: Any, fieldNo: number): void {
  if (++depth > RECURSION_LIMIT) {
    throw new Error(`cannot decode ${p.descString} from binary: maximum recursion depth of ${RECURSION_LIMIT} reached`);
  }
  let no = 0;
  let wireType = -1;
  let unknown: Any[] | undefined = m.$unknown;
  while (rp < rl) {
    const tag = rTag();
    no = tag >>> 3;
    wireType = tag & 7;
    if (wireType === WT_END_GROUP) break;
    const f = fieldOf(p, no);
    if (f === undefined) {
      const data = skip(wireType, no, RECURSION_LIMIT - depth);
      if (unknown === undefined) unknown = [];
      unknown.push({ no, wireType, data });
      continue;
    }
    readField(f, m, wireType);
  }
  if (wireType !== WT_END_GROUP || no !== fieldNo) throw new Error("invalid end group tag");
  if (unknown !== undefined && unknown.length > 0) m.$unknown = unknown;
  depth--;
}

function readChild(f: DecField, child: Any): void {
  if (f.delimited) {
    readGroup(f.plan as DecPlan, child, f.no);
  } else {
    const len = rVarint32();
    readMessage(f.plan as DecPlan, child, len);
  }
}

function newChild(f: DecField, existing: Any): Any {
  switch (f.mapper) {
    case MAPPER_NONE:
      return existing === undefined ? newMessage(f.plan as DecPlan) : existing;
    case MAPPER_STRUCT:
      return structToReflect(existing);
    default: {
      const w: Any = newMessage(f.plan as DecPlan);
      if (existing !== undefined) w.value = existing;
      return w;
    }
  }
}

function toLocal(f: DecField, child: Any): Any {
  switch (f.mapper) {
    case MAPPER_NONE:
      return child;
    case MAPPER_STRUCT:
      return structToLocal(child);
    default:
      return child.value;
  }
}

function readField(f: DecField, m: Any, wireType: number): void {
  switch (f.kind) {
    case K_SCALAR:
      m[f.name] = rScalar(f.scalar, f.strict, f.longAsString);
      return;
    case K_SCALAR_ONEOF:
      m[f.oneof] = { case: f.name, value: rScalar(f.scalar, f.strict, f.longAsString) };
      return;
    case K_ENUM_CLOSED: {
      const val = rVarint32() | 0;
      if ((f.enumValues as Set<number>).has(val)) {
        if (f.oneof !== "") m[f.oneof] = { case: f.name, value: val };
        else m[f.name] = val;
      } else {
        const unknown = m.$unknown ?? [];
        unknown.push({ no: f.no, wireType, data: int32VarintBytes(val) });
        m.$unknown = unknown;
      }
      return;
    }
    case K_MESSAGE: {
      if (f.oneof !== "") {
        const o = m[f.oneof];
        const child = newChild(f, o.case === f.name ? o.value : undefined);
        readChild(f, child);
        m[f.oneof] = { case: f.name, value: toLocal(f, child) };
      } else if (f.mapper === MAPPER_NONE) {
        let child = m[f.name];
        if (child === undefined) child = newMessage(f.plan as DecPlan);
        readChild(f, child);
        m[f.name] = child;
      } else {
        const child = newChild(f, m[f.name]);
        readChild(f, child);
        m[f.name] = toLocal(f, child);
      }
      return;
    }
    case K_LIST_SCALAR: {
      const items = m[f.name];
      const t = f.scalar;
      if (wireType === WT_LEN && f.packable) {
        const len = rVarint32();
        const end = len + rp;
        while (rp < end) items.push(rScalar(t, f.strict, f.longAsString));
      } else {
        items.push(rScalar(t, f.strict, f.longAsString));
      }
      return;
    }
    case K_LIST_MESSAGE: {
      if (f.mapper === MAPPER_NONE) {
        const child = newMessage(f.plan as DecPlan);
        readChild(f, child);
        m[f.name].push(child);
      } else {
        const child = newChild(f, undefined);
        readChild(f, child);
        m[f.name].push(toLocal(f, child));
      }
      return;
    }
    case K_MAP:
      readMapEntry(f, m[f.name]);
      return;
  }
}

function readMapEntry(f: DecField, record: Any): void {
  let key: Any;
  let val: Any;
  const len = rVarint32();
  const end = rp + len;
  while (rp < end) {
    const tag = rTag();
    const no = tag >>> 3;
    if (no === 1) {
      key = rScalar(f.mapKey, f.strict, false);
    } else if (no === 2) {
      switch (f.valKind) {
        case MV_SCALAR:
          val = rScalar(f.scalar, f.strict, false);
          break;
        case MV_ENUM:
          val = rVarint32() | 0;
          break;
        default: {
          // A repeated value within one entry merges into the previous one.
          const child = f.mapper === MAPPER_STRUCT ? structToReflect(val) : val === undefined ? newMessage(f.plan as DecPlan) : val;
          const n = rVarint32();
          readMessage(f.plan as DecPlan, child, n);
          val = f.mapper === MAPPER_STRUCT ? structToLocal(child) : child;
        }
      }
    } else {
      skip(tag & 7, no, RECURSION_LIMIT - depth);
    }
  }
  if (key === undefined) key = f.keyZero;
  if (val === undefined) {
    switch (f.valKind) {
      case MV_MESSAGE:
        val = f.mapper === MAPPER_STRUCT ? {} : newMessage(f.plan as DecPlan);
        break;
      default:
        val = f.scalar === T_BYTES ? new Uint8Array(0) : f.valZero;
    }
  }
  setOwn(record, key, val);
}

/**
 * Decodes `bytes` as a message of `schema`, equal to protobuf-es `fromBinary(schema, bytes)`
 * (and throwing whenever it throws). Bytes fields are views of `bytes`, like protobuf-es.
 */
export function decodeFast(schema: DescMessage, bytes: Uint8Array): Any {
  const plan = plans.get(schema) ?? compilePlan(schema);
  const message = newMessage(plan);
  rb = bytes;
  rp = 0;
  rl = bytes.length;
  depth = 0;
  try {
    readMessage(plan, message, rl);
  } finally {
    rb = EMPTY;
    rl = 0;
  }
  return message;
}
