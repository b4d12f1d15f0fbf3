/**
 * Request/response metadata (headers and trailers).
 *
 * Stored as one flat array `[k0, v0, k1, v1, ...]` rather than a Map: per-call Maps and objects
 * with changing keys were measured to promote to old space and trigger full GCs on the hot path
 * (see shared PERF-NOTES). Keys are lower-case; keys ending in `-bin` hold binary values
 * (`Uint8Array`), all other values are strings. A key may repeat.
 */
export type MetadataValue = string | Uint8Array;

/** What `new Metadata(init)` and call options accept. */
export type MetadataInit =
  | Metadata
  | Record<string, MetadataValue | readonly MetadataValue[]>
  | ReadonlyArray<readonly [string, MetadataValue]>;

/** `^[0-9a-z_.-]+$`, as a loop: this runs for every header of every call. */
function isValidKey(key: string): boolean {
  const n = key.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e)) return false;
  }
  return true;
}

/** Whether a key names a binary header. */
export function isBinaryKey(key: string): boolean {
  return key.endsWith("-bin");
}

/** Throws a TypeError if the key/value pair is not valid metadata. */
/** Like {@link validateMetadataPair} without the exception: for parsers on the hot path. */
export function isValidMetadataPair(key: string, value: MetadataValue): boolean {
  if (!isValidKey(key)) return false;
  if (isBinaryKey(key)) return value instanceof Uint8Array;
  if (typeof value !== "string") return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

export function validateMetadataPair(key: string, value: MetadataValue): void {
  if (!isValidKey(key)) throw new TypeError(`invalid metadata key "${key}"`);
  if (isBinaryKey(key)) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`metadata key "${key}" needs a Uint8Array value`);
  } else if (typeof value !== "string") {
    throw new TypeError(`metadata key "${key}" needs a string value`);
  } else {
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) throw new TypeError(`metadata value for "${key}" has a non-printable character`);
    }
  }
}

/** An ordered multimap of lower-case keys to string or binary values. */
export class Metadata {
  /** @internal flat `[key, value, key, value ...]`; protocols read it directly. */
  readonly flat: Array<string | MetadataValue>;

  constructor(init?: MetadataInit) {
    this.flat = [];
    if (init !== undefined) this.merge(init);
  }

  /** Wraps an already validated flat array without copying. @internal */
  static fromFlat(flat: Array<string | MetadataValue>): Metadata {
    const m = new Metadata();
    (m as { flat: Array<string | MetadataValue> }).flat = flat;
    return m;
  }

  /** Number of key/value pairs. */
  get size(): number {
    return this.flat.length >> 1;
  }

  /** First value for `key`, or undefined. */
  get(key: string): MetadataValue | undefined {
    const k = key.toLowerCase();
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === k) return f[i + 1];
    return undefined;
  }

  /** First value for `key` if it is a string. */
  getString(key: string): string | undefined {
    const v = this.get(key);
    return typeof v === "string" ? v : undefined;
  }

  /** All values for `key`, in order. */
  getAll(key: string): MetadataValue[] {
    const k = key.toLowerCase();
    const out: MetadataValue[] = [];
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === k) out.push(f[i + 1] as MetadataValue);
    return out;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Replaces every value of `key` with `value`. */
  set(key: string, value: MetadataValue): this {
    this.delete(key);
    return this.append(key, value);
  }

  /** Adds a value for `key`, keeping earlier ones. */
  append(key: string, value: MetadataValue): this {
    const k = key.toLowerCase();
    validateMetadataPair(k, value);
    this.flat.push(k, value);
    return this;
  }

  /** Removes every value of `key`. */
  delete(key: string): this {
    const k = key.toLowerCase();
    const f = this.flat;
    let w = 0;
    for (let r = 0; r < f.length; r += 2) {
      if (f[r] !== k) {
        f[w] = f[r] as string;
        f[w + 1] = f[r + 1] as MetadataValue;
        w += 2;
      }
    }
    f.length = w;
    return this;
  }

  /** Appends every pair of `init`. */
  merge(init: MetadataInit): this {
    if (init instanceof Metadata) {
      const f = init.flat;
      for (let i = 0; i < f.length; i += 2) this.flat.push(f[i] as string, f[i + 1] as MetadataValue);
    } else if (Array.isArray(init)) {
      for (const [k, v] of init as ReadonlyArray<readonly [string, MetadataValue]>) this.append(k, v);
    } else {
      const rec = init as Record<string, MetadataValue | readonly MetadataValue[]>;
      for (const k in rec) {
        const v = rec[k];
        if (Array.isArray(v)) for (const x of v) this.append(k, x);
        else if (v !== undefined) this.append(k, v as MetadataValue);
      }
    }
    return this;
  }

  /** Iterates `[key, value]` pairs in order. */
  *[Symbol.iterator](): IterableIterator<[string, MetadataValue]> {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) yield [f[i] as string, f[i + 1] as MetadataValue];
  }

  /** A plain object for logging; binary values as base64. Multiple values are joined with ", ". */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this) {
      const s = typeof v === "string" ? v : toBase64(v);
      out[k] = k in out ? `${out[k]}, ${s}` : s;
    }
    return out;
  }
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
  return btoa(s);
}
