/**
 * The one error the gob codec throws: malformed or unsupported input, or a limit exceeded.
 * Branded with `Symbol.for` so `isGobError` works across two copies of the package.
 */
const BRAND = Symbol.for("petrel.GobError");

export class GobError extends Error {
  readonly [BRAND] = true;
  constructor(message: string) {
    super(`gob: ${message}`);
    this.name = "GobError";
  }
}

/** Whether `e` is a GobError (from any copy of this package). */
export function isGobError(e: unknown): e is GobError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}
