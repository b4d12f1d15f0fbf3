/**
 * The closed set of gRPC status codes. Petrel uses them on every protocol so that a status
 * means the same thing whatever wire carried it.
 */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status code, 0..16. */
export type Code = (typeof Code)[keyof typeof Code];

const names: string[] = Object.keys(Code);

/** The canonical upper-case name of a code (`"DEADLINE_EXCEEDED"`), or `"CODE(n)"` if out of range. */
export function codeName(code: number): string {
  return names[code] ?? `CODE(${code})`;
}

/** Whether `n` is one of the 17 valid codes (0..16). */
export function isCode(n: unknown): n is Code {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 16;
}

/** Parses `"NOT_FOUND"`, `"not_found"` or `"5"`; undefined if it is neither. */
export function parseCode(s: string): Code | undefined {
  const upper = s.trim().toUpperCase();
  if (upper in Code) return Code[upper as keyof typeof Code];
  const n = Number(upper);
  return isCode(n) ? n : undefined;
}
