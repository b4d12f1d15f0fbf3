/**
 * Early load shedding: protocols ask an admission controller at stream open, before any request
 * byte is decoded, so an overloaded server spends almost nothing on calls it refuses (a server
 * interceptor runs only after decoding). `@petrel/resilience`'s bulkhead and adaptive limiter
 * implement it.
 */
export interface AdmissionController {
  /** A permit for one call, or undefined to refuse it (RESOURCE_EXHAUSTED with pushback). */
  admit(): AdmissionPermit | undefined;
  /** Suggested client pushback (ms) for a refusal, sent as `grpc-retry-pushback-ms`. */
  readonly pushbackMs: number;
}

/** A held admission; released once when the call ends, with how it ended. */
export interface AdmissionPermit {
  release(outcome?: AdmissionOutcome): void;
}

/** `success`: served; `dropped`: failed for load reasons (deadline, overload); `ignore`: cancelled or connection lost. */
export type AdmissionOutcome = "success" | "dropped" | "ignore";

/** The outcome a permit is released with, from a call's final status code (undefined = cancelled or lost). */
export function admissionOutcome(code: number | undefined): AdmissionOutcome {
  if (code === undefined || code === 1 /* CANCELLED */) return "ignore";
  if (code === 4 /* DEADLINE_EXCEEDED */ || code === 8 /* RESOURCE_EXHAUSTED */) return "dropped";
  return "success";
}

/** The message of a refusal. */
export const OVERLOAD_MESSAGE = "server overloaded; retry later";
