import type { Code, HandlerContext } from "@petrel/core";
import type { AuthInfo } from "./auth-info.js";

/**
 * A redacted description of the credential a call presented: never the credential itself, only
 * what helps an operator (the JWT's `alg`/`kid`, the credential's length, the certificate's
 * fingerprint). Safe to log.
 */
export interface CredentialSummary {
  readonly scheme: string;
  /** Length in characters of the token or key that was sent. */
  readonly length?: number;
  readonly alg?: string;
  readonly kid?: string;
  readonly fingerprint256?: string;
}

/** Why authentication failed: a generic message for the peer and a machine-readable reason for operators. */
export interface AuthFailure {
  readonly ok: false;
  /** UNAUTHENTICATED for bad credentials; UNAVAILABLE when the key source (JWKS, key store) failed. */
  readonly code: Code;
  /** Sent to the peer: generic, never containing the credential ("invalid token", "token expired"). */
  readonly message: string;
  /** e.g. `expired`, `not_yet_valid`, `bad_signature`, `claim:iss`, `unknown_key`, `alg_not_allowed`. */
  readonly reason: string;
  readonly credential: CredentialSummary;
}

/** A successful authentication. */
export interface AuthSuccess {
  readonly ok: true;
  readonly info: AuthInfo;
  readonly credential: CredentialSummary;
}

/** The outcome of {@link AuthScheme.authenticate}. */
export type AuthResult = AuthSuccess | AuthFailure;

/**
 * One way to authenticate a caller. `authenticate` tries its schemes in order; the first one
 * that finds credentials decides (a bad JWT is not rescued by a good API key).
 */
export interface AuthScheme {
  /** e.g. `jwt`, `apiKey`, `mtls`. */
  readonly name: string;
  /** Undefined when the call carries no credentials of this scheme; otherwise the verdict. */
  authenticate(ctx: HandlerContext): Promise<AuthResult> | undefined;
}

/** Events for audit logs and metrics; they carry no credentials. */
export type AuthEvent =
  | {
      readonly type: "authenticated";
      readonly method: string;
      readonly peer: string;
      readonly scheme: string;
      readonly subject: string;
      readonly credential: CredentialSummary;
    }
  | {
      readonly type: "rejected";
      readonly method: string;
      readonly peer: string;
      /** Undefined when no credentials were sent (`reason` is then `missing`). */
      readonly scheme: string | undefined;
      readonly code: Code;
      readonly reason: string;
      readonly credential: CredentialSummary | undefined;
    }
  | {
      readonly type: "allowed" | "denied";
      readonly method: string;
      readonly peer: string;
      /** Undefined for an unauthenticated caller. */
      readonly subject: string | undefined;
      /** The rule pattern that decided, or `default`. */
      readonly rule: string;
      readonly code: Code;
    };

/** Calls an event hook; a throwing hook never breaks the call. @internal */
export function emitAuthEvent(hook: ((e: AuthEvent) => void) | undefined, event: AuthEvent): void {
  if (hook === undefined) return;
  try {
    hook(event);
  } catch {
    // An audit hook must not decide the call's outcome.
  }
}

/** A failure with a generic message. @internal */
export function fail(code: Code, message: string, reason: string, credential: CredentialSummary): AuthFailure {
  return { ok: false, code, message, reason, credential };
}

/** Whether a header value is a printable, space-free ASCII token (what tokens and keys are). @internal */
export function isTokenChars(s: string): boolean {
  return /^[\x21-\x7e]+$/.test(s);
}
