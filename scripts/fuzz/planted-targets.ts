/**
 * Deliberately broken targets for scripts/fuzz.test.ts: proof that the runner reports a crash
 * (an undocumented TypeError), a broken invariant, a synchronous infinite loop and a promise
 * that never settles. Not part of `npm run fuzz`.
 */
import type { Rng } from "./rng.js";
import { type FuzzTarget, check } from "./target.js";

class ParseError extends Error {}

/** Inputs starting 0xBA throw TypeError ("a bug"); other bytes >= 0x80 throw the documented ParseError. */
function throwsTypeError(): FuzzTarget {
  return {
    name: "planted-typeerror",
    description: "throws TypeError when the input starts with 0xBA",
    generate: (rng: Rng) => rng.bytes(1 + rng.int(4)),
    run(input) {
      if (input[0] === 0xba) throw new TypeError("planted bug: cannot read properties of undefined");
      if ((input[0] as number) >= 0x80) throw new ParseError("documented rejection");
    },
    expected: (e) => e instanceof ParseError,
  };
}

/** Breaks an invariant on inputs of length 3. */
function breaksInvariant(): FuzzTarget {
  return {
    name: "planted-invariant",
    description: "an invariant fails for 3-byte inputs",
    generate: (rng: Rng) => rng.bytes(rng.int(6)),
    run(input) {
      check(input.length !== 3, "planted invariant: length 3");
    },
    expected: () => true,
  };
}

/** Inputs starting with a byte below 8 (1 in 32) loop forever, synchronously. */
function loops(): FuzzTarget {
  return {
    name: "planted-loop",
    description: "inputs starting below 0x08 loop forever",
    generate: (rng: Rng) => rng.bytes(4),
    run(input) {
      if ((input[0] as number) < 8) for (;;) {}
    },
    expected: () => false,
  };
}

/** Inputs starting with a byte below 8 return a promise that never settles (a timer keeps the worker alive). */
function neverSettles(): FuzzTarget {
  return {
    name: "planted-stall",
    description: "inputs starting below 0x08 never settle",
    generate: (rng: Rng) => rng.bytes(4),
    run(input) {
      if ((input[0] as number) < 8) return new Promise<void>(() => setInterval(() => {}, 1000));
      return undefined;
    },
    expected: () => false,
  };
}

const factories = [throwsTypeError, breaksInvariant, loops, neverSettles];

export function createTarget(name: string): FuzzTarget | undefined {
  return factories.map((f) => f()).find((t) => t.name === name);
}
