// Decodes any gob stream into plain JS values. Gob streams are self-describing: type definitions
// (wireType values) precede the values that use them, once per stream, so the decoder keeps a
// table of definitions for the stream's lifetime.
import { GobError } from "./gob-error.js";
import { FIRST_USER_ID, INTERFACE_ID, type GobBasicKind } from "./gob-type.js";
import { GobReader, type GobInt } from "./wire.js";

/** Limits of a decoder; exceeding one is a GobError. */
export interface GobDecoderOptions {
  /** Largest message (type definition or value) in bytes. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Deepest nesting of structs, slices, arrays and maps in a value. Default 100. */
  maxDepth?: number;
  /** Most type definitions one stream may send. Default 1000. */
  maxTypes?: number;
}

/** A type definition as received. `opaque` are GobEncoder/BinaryMarshaler/TextMarshaler types. @internal */
export type WireDef =
  | { t: "basic"; kind: GobBasicKind }
  | { t: "interface" }
  | { t: "slice"; name: string; elem: number }
  | { t: "array"; name: string; elem: number; len: number }
  | { t: "map"; name: string; key: number; elem: number }
  | { t: "struct"; name: string; fields: { name: string; id: number }[] }
  | { t: "opaque"; name: string; text: boolean };

/** One decoded top-level value with the id and name of its type. */
export interface GobMessage {
  typeId: number;
  typeName: string;
  value: unknown;
}

const BASICS: GobBasicKind[] = ["bool", "int", "uint", "float", "bytes", "string", "complex"];

// The bootstrap types that describe types (type.go): ids 16..23, plus gobEncoderType, which has
// no fixed id on the wire (it only appears inside wireType) and gets a private one here.
const GOB_ENCODER_TYPE = -1;
const st = (name: string, fields: [string, number][]): WireDef => ({
  t: "struct",
  name,
  fields: fields.map(([n, id]) => ({ name: n, id })),
});
const BOOTSTRAP: [number, WireDef][] = [
  [
    16,
    st("wireType", [
      ["ArrayT", 17],
      ["SliceT", 19],
      ["StructT", 20],
      ["MapT", 23],
      ["GobEncoderT", GOB_ENCODER_TYPE],
      ["BinaryMarshalerT", GOB_ENCODER_TYPE],
      ["TextMarshalerT", GOB_ENCODER_TYPE],
    ]),
  ],
  [
    17,
    st("arrayType", [
      ["CommonType", 18],
      ["Elem", 2],
      ["Len", 2],
    ]),
  ],
  [
    18,
    st("CommonType", [
      ["Name", 6],
      ["Id", 2],
    ]),
  ],
  [
    19,
    st("sliceType", [
      ["CommonType", 18],
      ["Elem", 2],
    ]),
  ],
  [
    20,
    st("structType", [
      ["CommonType", 18],
      ["Field", 22],
    ]),
  ],
  [
    21,
    st("fieldType", [
      ["Name", 6],
      ["Id", 2],
    ]),
  ],
  [22, { t: "slice", name: "[]*gob.fieldType", elem: 21 }],
  [
    23,
    st("mapType", [
      ["CommonType", 18],
      ["Key", 2],
      ["Elem", 2],
    ]),
  ],
  [GOB_ENCODER_TYPE, st("gobEncoderType", [["CommonType", 18]])],
];

interface WireTypeValue {
  ArrayT?: { CommonType?: Common; Elem?: number; Len?: number };
  SliceT?: { CommonType?: Common; Elem?: number };
  StructT?: { CommonType?: Common; Field?: { Name?: string; Id?: number }[] };
  MapT?: { CommonType?: Common; Key?: number; Elem?: number };
  GobEncoderT?: { CommonType?: Common };
  BinaryMarshalerT?: { CommonType?: Common };
  TextMarshalerT?: { CommonType?: Common };
}
interface Common {
  Name?: string;
  Id?: number;
}

/**
 * A gob stream decoder. Feed bytes with `push`; it returns the values completed so far.
 * Values are plain JS: structs are objects keyed by the sender's field names holding only the
 * fields on the wire (gob omits zero values, so a missing key means zero), slices and arrays are
 * arrays, maps are `Map`s, ints and uints are numbers (bigints beyond 2^53), floats numbers,
 * `[]byte` Uint8Array, complex `{real, imag}`, GobEncoder/BinaryMarshaler values their bytes and
 * TextMarshaler values strings. Interface values are rejected (they need Go's type registry).
 * After a GobError the stream is unusable.
 */
export class GobDecoder {
  private readonly maxMessage: number;
  private readonly maxDepth: number;
  private readonly maxTypes: number;
  private readonly defs = new Map<number, WireDef>();
  private userTypes = 0;
  private pending: Uint8Array = new Uint8Array(0);
  private failed: GobError | undefined;

  constructor(options: GobDecoderOptions = {}) {
    this.maxMessage = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.maxDepth = options.maxDepth ?? 100;
    this.maxTypes = options.maxTypes ?? 1000;
    for (let i = 0; i < BASICS.length; i++) this.defs.set(i + 1, { t: "basic", kind: BASICS[i] as GobBasicKind });
    this.defs.set(INTERFACE_ID, { t: "interface" });
    for (const [id, def] of BOOTSTRAP) this.defs.set(id, def);
  }

  /** Whether a partial message is buffered (the stream ended mid-message if it closes now). */
  get midMessage(): boolean {
    return this.pending.length > 0 || this.partsLength > 0;
  }

  /** Decodes the complete messages in `chunk` (plus buffered bytes). Throws only GobError. */
  push(chunk: Uint8Array): GobMessage[] {
    if (this.failed !== undefined) throw this.failed;
    try {
      return this.pushUnchecked(chunk);
    } catch (e) {
      this.failed = e instanceof GobError ? e : new GobError(`internal decoder failure: ${String(e)}`);
      throw this.failed;
    }
  }

  private pushUnchecked(chunk: Uint8Array): GobMessage[] {
    // A large message arrives in many chunks: collect them and join once the message is complete
    // (joining on every chunk would copy quadratically).
    if (this.pending.length > 0 || this.parts.length > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.pending.length + this.partsLength < this.need) return [];
      const buf = new Uint8Array(this.pending.length + this.partsLength);
      buf.set(this.pending);
      let at = this.pending.length;
      for (const p of this.parts) {
        buf.set(p, at);
        at += p.length;
      }
      this.parts = [];
      this.partsLength = 0;
      return this.messages(buf);
    }
    return this.messages(chunk);
  }
  private parts: Uint8Array[] = [];
  private partsLength = 0;
  /** Bytes the buffered partial message needs in all (0 = unknown, its length prefix is cut). */
  private need = 0;

  private messages(buf: Uint8Array): GobMessage[] {
    const out: GobMessage[] = [];
    let pos = 0;
    this.need = 0;
    while (pos < buf.length) {
      const head = new GobReader(buf, pos);
      let len: number;
      try {
        len = head.count("message length");
      } catch (e) {
        // A length prefix cut by the chunk boundary: wait for more bytes.
        const b = buf[pos] as number;
        if (b >= 0x80 && 256 - b <= 8 && buf.length - pos < 257 - b) break;
        throw e;
      }
      if (len > this.maxMessage) throw new GobError(`message of ${len} bytes exceeds the limit of ${this.maxMessage}`);
      if (len === 0) throw new GobError("empty message");
      if (head.pos + len > buf.length) {
        this.need = head.pos - pos + len;
        break;
      }
      const m = this.message(new GobReader(buf, head.pos, head.pos + len));
      if (m !== undefined) out.push(m);
      pos = head.pos + len;
    }
    this.pending = pos === buf.length ? new Uint8Array(0) : new Uint8Array(buf.subarray(pos));
    return out;
  }

  private message(r: GobReader): GobMessage | undefined {
    const id = r.smallInt("type id");
    if (id < 0) {
      this.define(-id, r);
      if (r.remaining !== 0) throw new GobError(`${r.remaining} extra bytes after the definition of type ${-id}`);
      return undefined;
    }
    const def = this.defs.get(id);
    if (def === undefined) throw new GobError(`value of undefined type id ${id}`);
    let value: unknown;
    if (def.t === "struct") value = this.struct(r, def, 0);
    else {
      if (r.count("field delta") !== 0) throw new GobError("corrupted data: non-zero delta for a singleton value");
      value = this.value(r, id, 0);
    }
    if (r.remaining !== 0) throw new GobError(`${r.remaining} extra bytes after a value of type ${id}`);
    return { typeId: id, typeName: nameOf(def), value };
  }

  private define(id: number, r: GobReader): void {
    if (id < FIRST_USER_ID) throw new GobError(`type id ${id} is reserved`);
    if (this.defs.has(id)) throw new GobError(`duplicate definition of type id ${id}`);
    if (++this.userTypes > this.maxTypes) throw new GobError(`more than ${this.maxTypes} type definitions`);
    const w = this.struct(r, this.defs.get(16) as Extract<WireDef, { t: "struct" }>, 0) as WireTypeValue;
    const name = (c: { CommonType?: Common } | undefined) => c?.CommonType?.Name ?? "";
    const ref = (v: unknown, what: string): number => {
      if (typeof v !== "number" || v <= 0 || !Number.isSafeInteger(v))
        throw new GobError(`type ${id}: invalid ${what} type id ${String(v)}`);
      return v;
    };
    let def: WireDef;
    if (w.StructT !== undefined) {
      def = {
        t: "struct",
        name: name(w.StructT),
        fields: (w.StructT.Field ?? []).map((f) => ({ name: f.Name ?? "", id: ref(f.Id, "field") })),
      };
    } else if (w.SliceT !== undefined) def = { t: "slice", name: name(w.SliceT), elem: ref(w.SliceT.Elem, "element") };
    else if (w.ArrayT !== undefined) {
      const len = w.ArrayT.Len ?? 0;
      if (typeof len !== "number" || len < 0) throw new GobError(`type ${id}: invalid array length`);
      def = { t: "array", name: name(w.ArrayT), elem: ref(w.ArrayT.Elem, "element"), len };
    } else if (w.MapT !== undefined) def = { t: "map", name: name(w.MapT), key: ref(w.MapT.Key, "key"), elem: ref(w.MapT.Elem, "element") };
    else if (w.GobEncoderT !== undefined) def = { t: "opaque", name: name(w.GobEncoderT), text: false };
    else if (w.BinaryMarshalerT !== undefined) def = { t: "opaque", name: name(w.BinaryMarshalerT), text: false };
    else if (w.TextMarshalerT !== undefined) def = { t: "opaque", name: name(w.TextMarshalerT), text: true };
    else throw new GobError(`type ${id}: empty type definition`);
    this.defs.set(id, def);
  }

  private def(id: number): WireDef {
    const d = this.defs.get(id);
    if (d === undefined) throw new GobError(`reference to undefined type id ${id}`);
    return d;
  }

  private struct(r: GobReader, def: Extract<WireDef, { t: "struct" }>, depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) throw new GobError(`value nested deeper than ${this.maxDepth}`);
    const out: Record<string, unknown> = {};
    let field = -1;
    for (;;) {
      const delta = r.count("field delta");
      if (delta === 0) return out;
      field += delta;
      const f = def.fields[field];
      if (f === undefined) throw new GobError(`field number ${field} out of range for struct ${def.name || "(anonymous)"}`);
      // Own-property define, so a field named "__proto__" stays data.
      Object.defineProperty(out, f.name, { value: this.value(r, f.id, depth + 1), enumerable: true, writable: true, configurable: true });
    }
  }

  private value(r: GobReader, id: number, depth: number): unknown {
    if (depth > this.maxDepth) throw new GobError(`value nested deeper than ${this.maxDepth}`);
    const d = this.def(id);
    switch (d.t) {
      case "basic":
        return basic(r, d.kind);
      case "interface":
        throw new GobError("interface values are not supported (they need Go's gob.Register type names)");
      case "struct":
        return this.struct(r, d, depth);
      case "opaque":
        return d.text ? r.string() : r.bytes();
      case "slice":
      case "array": {
        const n = this.elements(r);
        if (d.t === "array" && n !== d.len) throw new GobError(`array of length ${d.len} received ${n} elements`);
        const elemDef = this.def(d.elem);
        if (elemDef.t === "basic" && elemDef.kind !== "complex" && elemDef.kind !== "bytes" && elemDef.kind !== "string") {
          const out = new Array<unknown>(n);
          for (let i = 0; i < n; i++) out[i] = basic(r, elemDef.kind);
          return out;
        }
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.value(r, d.elem, depth + 1);
        return out;
      }
      case "map": {
        const n = this.elements(r);
        const out = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const k = this.value(r, d.key, depth + 1);
          out.set(k, this.value(r, d.elem, depth + 1));
        }
        return out;
      }
    }
  }

  /** An element count, which cannot exceed the bytes left (every element takes at least one). */
  private elements(r: GobReader): number {
    const n = r.count("element count");
    if (n > r.remaining) throw new GobError(`element count ${n} exceeds the message`);
    return n;
  }

  /** The definition of a type id seen on this stream. @internal */
  typeOf(id: number): WireDef | undefined {
    return this.defs.get(id);
  }
}

function basic(r: GobReader, kind: GobBasicKind): unknown {
  switch (kind) {
    case "bool":
      return r.bool();
    case "int":
      return r.int();
    case "uint":
      return r.uint();
    case "float":
      return r.float();
    case "bytes":
      return r.bytes();
    case "string":
      return r.string();
    case "complex":
      return { real: r.float(), imag: r.float() };
  }
}

function nameOf(d: WireDef): string {
  switch (d.t) {
    case "basic":
      return d.kind === "bytes" ? "[]byte" : d.kind === "float" ? "float64" : d.kind === "complex" ? "complex128" : d.kind;
    case "interface":
      return "interface";
    default:
      return d.name;
  }
}

/** Decodes a whole gob stream at once (tests, files). Throws GobError, also when it ends mid-message. */
export function decodeGob(bytes: Uint8Array, options?: GobDecoderOptions): GobMessage[] {
  const d = new GobDecoder(options);
  const out = d.push(bytes);
  if (d.midMessage) throw new GobError("stream ends inside a message");
  return out;
}

export type { GobInt };
