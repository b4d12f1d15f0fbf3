// Small validators for policy configs: JSON-able objects, unknown keys rejected, errors name the field.

/** @internal Checks `config` is undefined or a plain object with only `allowed` keys. */
export function readConfig(policy: string, config: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (config === undefined || config === null) return {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new TypeError(`${policy}: config must be an object, got ${Array.isArray(config) ? "array" : typeof config}`);
  }
  const c = config as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!allowed.includes(k)) {
      const known = allowed.length ? allowed.join(", ") : "none";
      throw new TypeError(`${policy}: unknown config field "${k}" (known: ${known})`);
    }
  }
  return c;
}

/** @internal A number field in [min, max]; `int` requires an integer. */
export function numberField(
  policy: string,
  c: Record<string, unknown>,
  key: string,
  def: number,
  min: number,
  max: number,
  int = false,
): number {
  const v = c[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    throw new TypeError(`${policy}: ${key} must be ${int ? "an integer" : "a number"} in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

/** @internal A boolean field. */
export function boolField(policy: string, c: Record<string, unknown>, key: string, def: boolean): boolean {
  const v = c[key];
  if (v === undefined) return def;
  if (typeof v !== "boolean") throw new TypeError(`${policy}: ${key} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

/** @internal A non-empty string field, or undefined. */
export function stringField(policy: string, c: Record<string, unknown>, key: string): string | undefined {
  const v = c[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0)
    throw new TypeError(`${policy}: ${key} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** @internal One of `choices`. */
export function enumField<T extends string>(policy: string, c: Record<string, unknown>, key: string, choices: readonly T[], def: T): T {
  const v = c[key];
  if (v === undefined) return def;
  if (typeof v !== "string" || !choices.includes(v as T)) {
    throw new TypeError(`${policy}: ${key} must be one of ${choices.map((x) => JSON.stringify(x)).join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** @internal Smallest and largest positive weights honoured. */
export const MIN_WEIGHT = 1e-6;
export const MAX_WEIGHT = 1e9;

/**
 * @internal An endpoint's weight: `endpoint.weight`, else `metadata[weightKey]` parsed as a number,
 * else 1, clamped to [MIN_WEIGHT, MAX_WEIGHT] (0 stays 0). Bad values (negative, NaN, infinite,
 * unparsable) fall back to 1: registry data must not break picks.
 */
export function endpointWeight(e: { weight?: number; metadata?: Readonly<Record<string, string>> }, weightKey: string): number {
  let w: number | undefined = e.weight;
  if (w === undefined && e.metadata !== undefined) {
    const s = e.metadata[weightKey];
    if (s !== undefined && s.trim() !== "") w = Number(s);
  }
  if (w === undefined || !Number.isFinite(w) || w < 0) return 1;
  if (w === 0) return 0;
  // Clamped so ring sizes, EDF steps and Maglev credits stay finite and bounded.
  return Math.min(Math.max(w, MIN_WEIGHT), MAX_WEIGHT);
}
