// The compile-at-first-use cache shared by the generated protobuf encoder and decoder
// (proto-encode-gen.ts, proto-decode-gen.ts): one compiled function per schema, and a switch that
// remembers when `new Function` is refused (a CSP without 'unsafe-eval', some Workers) so the
// callers fall back to the reflective code without trying again.
import type { DescMessage } from "@bufbuild/protobuf";

/** @internal */
export interface CodegenCache<F> {
  /** The compiled function for `schema`, or undefined: generation off, unavailable, or the schema refused. */
  get(schema: DescMessage): F | undefined;
  /** Turns generation on or off and forgets everything compiled and learned. Returns the previous setting. */
  setEnabled(enabled: boolean): boolean;
}

/**
 * A cache around `compile`, which returns the function or throws: an EvalError turns generation
 * off until {@link CodegenCache.setEnabled} (code generation from strings is disallowed here);
 * any other error refuses that schema only (a generator limit; the reflective path serves it).
 * @internal
 */
export function createCodegenCache<F>(compile: (schema: DescMessage) => F): CodegenCache<F> {
  let available: boolean | undefined;
  let enabled = true;
  let compiled = new WeakMap<DescMessage, F | null>();
  return {
    get(schema) {
      if (!enabled) return undefined;
      const have = compiled.get(schema);
      if (have !== undefined) return have ?? undefined;
      let fn: F | null = null;
      if (available !== false) {
        try {
          fn = compile(schema);
          available = true;
        } catch (e) {
          if (e instanceof EvalError) available = false;
          fn = null;
        }
      }
      compiled.set(schema, fn);
      return fn ?? undefined;
    },
    setEnabled(on) {
      const prev = enabled;
      enabled = on;
      available = undefined;
      compiled = new WeakMap();
      return prev;
    },
  };
}
