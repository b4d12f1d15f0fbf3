// Writes gob streams: each value is preceded, once per stream, by the definitions of the types it
// uses (outer type first, then its parts, as Go's encoder does; recursive types work because a
// type counts as sent before its parts are).
import { GobError } from "./gob-error.js";
import { BASIC_IDS, FIRST_USER_ID, type GobComplex, type GobType } from "./gob-type.js";
import { type GobInt, GobWriter } from "./wire.js";

/**
 * A gob stream encoder. `encode(type, value)` returns the bytes of one `Encode` call: any type
 * definitions not yet sent on this stream, then the value message. Values use the decoder's JS
 * shapes (objects by field name for structs, arrays, `Map` or plain objects for maps, number or
 * bigint for integers, Uint8Array for `[]byte`, `{real, imag}` for complex); zero-valued struct
 * fields are omitted as Go does, and missing fields count as zero. Throws GobError for a value
 * that does not fit its type; the stream stays usable (nothing is recorded as sent).
 */
export class GobEncoder {
  private readonly ids = new Map<GobType, number>();
  private nextId = FIRST_USER_ID + 1;

  encode(type: GobType, value: unknown): Uint8Array {
    const defs: [number, GobType][] = [];
    const newIds = new Map<GobType, number>();
    const idOf = (t: GobType): number => {
      if (t.kind in BASIC_IDS) return BASIC_IDS[t.kind as keyof typeof BASIC_IDS];
      const known = this.ids.get(t) ?? newIds.get(t);
      if (known !== undefined) return known;
      const id = this.nextId + newIds.size;
      newIds.set(t, id);
      defs.push([id, t]);
      return id;
    };
    const top = idOf(type);
    const out = new GobWriter();
    // Definitions may discover further types; `defs` grows while we walk it.
    for (let i = 0; i < defs.length; i++) {
      const [id, t] = defs[i] as [number, GobType];
      const w = new GobWriter();
      w.int(-id);
      writeWireType(w, t, id, idOf);
      frame(out, w);
    }
    const w = new GobWriter();
    w.int(top);
    if (type.kind === "struct") writeStruct(w, type, value, 0);
    else {
      w.uint(0);
      writeValue(w, type, value, 0);
    }
    frame(out, w);
    for (const [t, id] of newIds) this.ids.set(t, id);
    this.nextId += newIds.size;
    return out.finish();
  }
}

function frame(out: GobWriter, msg: GobWriter): void {
  out.uint(msg.len);
  out.raw(msg.buf.subarray(0, msg.len));
}

/** The wireType value for `t` (field numbers of type.go's wireType and its parts). */
function writeWireType(w: GobWriter, t: GobType, id: number, idOf: (t: GobType) => number): void {
  const common = (name: string) => {
    w.uint(1); // CommonType is field 0 of every *Type struct
    if (name !== "") {
      w.uint(1);
      w.string(name);
      w.uint(1);
    } else w.uint(2);
    w.int(id);
    w.uint(0);
  };
  switch (t.kind) {
    case "array":
      w.uint(1); // wireType.ArrayT
      common(t.name ?? `[${t.len}]`);
      w.uint(1);
      w.int(idOf(t.elem));
      if (t.len !== 0) {
        w.uint(1);
        w.int(t.len);
      }
      w.uint(0);
      break;
    case "slice":
      w.uint(2); // SliceT
      common(t.name ?? "[]");
      w.uint(1);
      w.int(idOf(t.elem));
      w.uint(0);
      break;
    case "struct":
      w.uint(3); // StructT
      common(t.name);
      if (t.fields.length > 0) {
        w.uint(1);
        w.uint(t.fields.length);
        for (const f of t.fields) {
          if (f.name !== "") {
            w.uint(1);
            w.string(f.name);
            w.uint(1);
          } else w.uint(2);
          w.int(idOf(f.type));
          w.uint(0);
        }
      }
      w.uint(0);
      break;
    case "map":
      w.uint(4); // MapT
      common(t.name ?? "map");
      w.uint(1);
      w.int(idOf(t.key));
      w.uint(1);
      w.int(idOf(t.elem));
      w.uint(0);
      break;
    default:
      throw new GobError(`cannot define basic type ${t.kind}`);
  }
  w.uint(0); // end of wireType
}

const MAX_DEPTH = 100;

function writeStruct(w: GobWriter, t: Extract<GobType, { kind: "struct" }>, value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new GobError(`value nested deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value !== "object") throw new GobError(`struct ${t.name} needs an object, got ${typeof value}`);
  const o = value as Record<string, unknown>;
  let last = -1;
  for (let i = 0; i < t.fields.length; i++) {
    const f = t.fields[i]!;
    const v = Object.hasOwn(o, f.name) ? o[f.name] : undefined;
    if (isZero(f.type, v)) continue;
    w.uint(i - last);
    last = i;
    writeValue(w, f.type, v, depth + 1);
  }
  w.uint(0);
}

/** Go omits zero-valued fields; structs are always sent when present (Go sends non-pointer structs). */
function isZero(t: GobType, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  switch (t.kind) {
    case "bool":
      return v === false;
    case "int":
    case "uint":
    case "float":
      return v === 0 || v === 0n;
    case "string":
      return v === "";
    case "bytes":
    case "slice":
      return (v as { length?: number }).length === 0;
    case "map":
      return false;
    case "complex":
      return (v as GobComplex).real === 0 && (v as GobComplex).imag === 0;
    default:
      return false;
  }
}

function writeValue(w: GobWriter, t: GobType, v: unknown, depth: number): void {
  switch (t.kind) {
    case "bool":
      if (typeof v !== "boolean") throw new GobError(`bool needs a boolean, got ${typeof v}`);
      return w.bool(v);
    case "int":
      return w.int(intOf(v));
    case "uint":
      return w.uint(intOf(v));
    case "float":
      if (typeof v !== "number") throw new GobError(`float needs a number, got ${typeof v}`);
      return w.float(v);
    case "string":
      if (typeof v !== "string") throw new GobError(`string needs a string, got ${typeof v}`);
      return w.string(v);
    case "bytes":
      if (!(v instanceof Uint8Array)) throw new GobError("[]byte needs a Uint8Array");
      return w.bytes(v);
    case "complex": {
      const c = (v ?? {}) as GobComplex;
      w.float(c.real ?? 0);
      return w.float(c.imag ?? 0);
    }
    case "struct":
      return writeStruct(w, t, v ?? {}, depth);
    case "slice":
    case "array": {
      if (depth > MAX_DEPTH) throw new GobError(`value nested deeper than ${MAX_DEPTH}`);
      const a = (v ?? []) as unknown[];
      if (!Array.isArray(a)) throw new GobError(`${t.kind} needs an array`);
      if (t.kind === "array" && a.length !== t.len) throw new GobError(`array needs ${t.len} elements, got ${a.length}`);
      w.uint(a.length);
      for (let i = 0; i < a.length; i++) writeValue(w, t.elem, a[i], depth + 1);
      return;
    }
    case "map": {
      if (depth > MAX_DEPTH) throw new GobError(`value nested deeper than ${MAX_DEPTH}`);
      const entries: [unknown, unknown][] =
        v instanceof Map ? [...v] : v === undefined || v === null ? [] : Object.entries(v as Record<string, unknown>);
      w.uint(entries.length);
      for (const [k, e] of entries) {
        writeValue(
          w,
          t.key,
          t.key.kind === "int" || t.key.kind === "uint" ? intOf(k) : t.key.kind === "bool" && typeof k === "string" ? k === "true" : k,
          depth + 1,
        );
        writeValue(w, t.elem, e, depth + 1);
      }
      return;
    }
  }
}

function intOf(v: unknown): GobInt {
  if (v === undefined || v === null) return 0;
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  // Plain-object map keys are strings: integer keys come back from them.
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  throw new GobError(`integer needs a safe integer or bigint, got ${String(v)}`);
}
