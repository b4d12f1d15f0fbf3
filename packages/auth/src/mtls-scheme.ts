import { Code, type HandlerContext } from "@petrel/core";
import type { MtlsAuth, SubjectAltNames } from "./auth-info.js";
import { type AuthScheme, fail } from "./auth-scheme.js";

/** The client certificate fields this scheme reads (what `getTlsPeer(ctx).certificate` of @petrel/node holds). */
export interface TlsPeerCertificateLike {
  readonly subject: Readonly<Record<string, string | string[] | undefined>>;
  /** Node's form, e.g. `DNS:client.example, URI:spiffe://td/svc, IP Address:10.0.0.1`. */
  readonly subjectAltName: string | undefined;
  readonly fingerprint256?: string;
}

/** The TLS side of a call (what `getTlsPeer(ctx)` of @petrel/node returns). */
export interface TlsPeerLike {
  /** Whether the certificate verified against the server's CAs. */
  readonly authorized: boolean;
  readonly certificate: TlsPeerCertificateLike | undefined;
}

/** Options of {@link createMtlsScheme} (and `authenticate({ mtls })`). */
export interface MtlsOptions {
  /** The caller's subject. Default: the certificate's single `CN` (a certificate with several CNs is refused). */
  subject?: (cert: TlsPeerCertificateLike, sans: SubjectAltNames) => string | undefined;
  /** Roles of a verified certificate. Default none. */
  roles?: (subject: string, cert: TlsPeerCertificateLike, sans: SubjectAltNames) => readonly string[];
  /**
   * Reads the TLS peer of a call. Default: `ctx.peer.tls`, which the Node servers fill in
   * (the same value `getTlsPeer(ctx)` returns).
   */
  peer?: (ctx: HandlerContext) => TlsPeerLike | undefined;
}

/**
 * Splits Node's `subjectaltname` string. Values with commas or quotes come JSON-quoted
 * (Node >= 17.3 escapes them so a SAN cannot smuggle in a second entry).
 * @internal
 */
export function parseSubjectAltNames(s: string | undefined): SubjectAltNames {
  const out = { dns: [] as string[], uri: [] as string[], ip: [] as string[], email: [] as string[] };
  if (s === undefined || s === "") return out;
  let i = 0;
  while (i < s.length) {
    const colon = s.indexOf(":", i);
    if (colon < 0) break;
    const type = s.slice(i, colon).trim();
    let value: string;
    let end: number;
    if (s[colon + 1] === '"') {
      // Find the closing quote, skipping escaped ones.
      let j = colon + 2;
      while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(s.slice(colon + 1, j + 1)) as string;
      } catch {
        value = "";
      }
      end = s.indexOf(",", j + 1);
    } else {
      end = s.indexOf(",", colon + 1);
      value = s.slice(colon + 1, end < 0 ? s.length : end);
    }
    if (value !== "") {
      if (type === "DNS") out.dns.push(value);
      else if (type === "URI") out.uri.push(value);
      else if (type === "IP Address") out.ip.push(value);
      else if (type === "email") out.email.push(value);
    }
    if (end < 0) break;
    i = end + 1;
  }
  return out;
}

function defaultSubject(cert: TlsPeerCertificateLike): string | undefined {
  const cn = cert.subject.CN;
  return typeof cn === "string" && cn !== "" ? cn : undefined;
}

function defaultPeer(ctx: HandlerContext): TlsPeerLike | undefined {
  return (ctx.peer as { tls?: TlsPeerLike }).tls;
}

/**
 * Mutual-TLS identity: a caller that presented a client certificate is authenticated by it when
 * the certificate verified against the server's CA (`requireClientCert`/`requestClientCert`);
 * an unverified certificate is UNAUTHENTICATED. Without a certificate the scheme finds no credentials.
 */
export function createMtlsScheme(options: MtlsOptions = {}): AuthScheme {
  if (typeof options !== "object" || options === null) throw new TypeError("mtls: options must be an object");
  for (const k of ["subject", "roles", "peer"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "function") throw new TypeError(`mtls: ${k} must be a function`);
  }
  const subjectOf = options.subject ?? defaultSubject;
  const peerOf = options.peer ?? defaultPeer;
  return {
    name: "mtls",
    authenticate(ctx) {
      const tls = peerOf(ctx);
      const cert = tls?.certificate;
      if (tls === undefined || cert === undefined) return undefined;
      const credential = { scheme: "mtls", fingerprint256: cert.fingerprint256 };
      if (tls.authorized !== true)
        return Promise.resolve(fail(Code.UNAUTHENTICATED, "untrusted client certificate", "untrusted_certificate", credential));
      const sans = parseSubjectAltNames(cert.subjectAltName);
      const subject = subjectOf(cert, sans);
      if (typeof subject !== "string" || subject === "") {
        return Promise.resolve(fail(Code.UNAUTHENTICATED, "client certificate has no usable identity", "no_subject", credential));
      }
      const info: MtlsAuth = {
        kind: "mtls",
        subject,
        roles: [...(options.roles?.(subject, cert, sans) ?? [])],
        scopes: [],
        certificateSubject: { ...cert.subject },
        subjectAltNames: sans,
        fingerprint256: cert.fingerprint256,
      };
      return Promise.resolve({ ok: true as const, info, credential });
    },
  };
}
