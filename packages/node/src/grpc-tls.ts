import type * as http2 from "node:http2";
import type { PeerCertificate, TLSSocket } from "node:tls";
import type { HandlerContext, PeerInfo } from "@petrel/core";

/** PEM data: a string, a Buffer, or several of either (e.g. a CA bundle). */
export type Pem = string | Buffer | Array<string | Buffer>;

/** TLS options of `createGrpcServer`. */
export interface GrpcServerTlsOptions {
  /** The server's private key (PEM). */
  key: Pem;
  /** The server's certificate chain (PEM). */
  cert: Pem;
  /** CAs that client certificates are checked against. Default: Node's bundled root CAs. */
  ca?: Pem;
  /**
   * Ask clients for a certificate but accept them without one (or with one that does not verify);
   * handlers see the outcome through {@link getTlsPeer}. Default false.
   */
  requestClientCert?: boolean;
  /** Mutual TLS: refuse the handshake unless the client presents a certificate `ca` verifies. Default false. */
  requireClientCert?: boolean;
}

/** TLS options of `createGrpcTransport` (with an `https://` baseUrl). */
export interface GrpcClientTlsOptions {
  /** CAs the server certificate is checked against. Default: Node's bundled root CAs. */
  ca?: Pem;
  /** Client certificate chain for mutual TLS (PEM); needs `key`. */
  cert?: Pem;
  /** Client private key for mutual TLS (PEM); needs `cert`. */
  key?: Pem;
  /** The name the server certificate must match (and the SNI sent). Default: the baseUrl host. */
  servername?: string;
}

/** The TLS side of a gRPC caller, as the server saw it at the handshake. */
export interface TlsPeerInfo {
  /** Whether the client's certificate verified against the server's `ca`. */
  readonly authorized: boolean;
  /** Why it did not verify (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), when a certificate was presented. */
  readonly authorizationError: string | undefined;
  /** The client's certificate, if it presented one. */
  readonly certificate: TlsPeerCertificate | undefined;
  /** Negotiated TLS version, e.g. `TLSv1.3`. */
  readonly protocol: string | null;
  /** Negotiated ALPN protocol (`h2`). */
  readonly alpnProtocol: string | false | null;
}

/** The parts of a peer certificate handlers usually look at. */
export interface TlsPeerCertificate {
  readonly subject: Readonly<Record<string, string | string[] | undefined>>;
  readonly issuer: Readonly<Record<string, string | string[] | undefined>>;
  /** e.g. `DNS:client.example, IP Address:10.0.0.1`. */
  readonly subjectAltName: string | undefined;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly validFrom: string;
  readonly validTo: string;
}

/** `PeerInfo` of a call that arrived over TLS. */
export interface GrpcPeerInfo extends PeerInfo {
  readonly tls?: TlsPeerInfo;
}

/** The caller's TLS identity, or undefined when the call did not come over TLS. */
export function getTlsPeer(ctx: HandlerContext): TlsPeerInfo | undefined {
  return (ctx.peer as GrpcPeerInfo).tls;
}

function present(p: Pem | undefined): boolean {
  return p !== undefined && (Array.isArray(p) ? p.length > 0 : p.length > 0);
}

/** Checks the server TLS options; returns the `http2.createSecureServer` options. @internal */
export function secureServerOptions(tls: GrpcServerTlsOptions, settings: http2.Settings | undefined): http2.SecureServerOptions {
  if (typeof tls !== "object" || tls === null) throw new TypeError("grpc: tls must be an object with key and cert");
  if (!present(tls.key) || !present(tls.cert)) throw new TypeError("grpc: tls needs both key and cert (PEM)");
  const require = tls.requireClientCert === true;
  return {
    key: tls.key,
    cert: tls.cert,
    ca: tls.ca,
    requestCert: require || tls.requestClientCert === true,
    rejectUnauthorized: require,
    // gRPC is HTTP/2 only: no HTTP/1.1 fallback, ALPN must pick h2.
    allowHTTP1: false,
    ALPNProtocols: ["h2"],
    settings,
  };
}

/** Checks the client TLS options against the baseUrl; returns what `http2.connect` needs. @internal */
export function secureConnectOptions(baseUrl: string, tls: GrpcClientTlsOptions | undefined): http2.SecureClientSessionOptions | undefined {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`grpc: invalid baseUrl "${baseUrl}"`);
  }
  if (url.protocol === "http:") {
    if (tls !== undefined) throw new TypeError(`grpc: tls options need an https:// baseUrl, got "${baseUrl}"`);
    return undefined;
  }
  if (url.protocol !== "https:") throw new TypeError(`grpc: baseUrl must be http:// or https://, got "${baseUrl}"`);
  const t = tls ?? {};
  if (typeof t !== "object" || t === null) throw new TypeError("grpc: tls must be an object");
  if (present(t.cert) !== present(t.key)) throw new TypeError("grpc: tls.cert and tls.key go together (mutual TLS)");
  const out: http2.SecureClientSessionOptions = { ALPNProtocols: ["h2"] };
  if (t.ca !== undefined) out.ca = t.ca;
  if (t.cert !== undefined) out.cert = t.cert;
  if (t.key !== undefined) out.key = t.key;
  if (t.servername !== undefined) out.servername = t.servername;
  return out;
}

function certOf(c: PeerCertificate): TlsPeerCertificate | undefined {
  // getPeerCertificate() returns {} when the client sent none.
  if (c === null || c === undefined || c.fingerprint256 === undefined) return undefined;
  return {
    subject: { ...c.subject },
    issuer: { ...c.issuer },
    subjectAltName: c.subjectaltname,
    serialNumber: c.serialNumber,
    fingerprint256: c.fingerprint256,
    validFrom: c.valid_from,
    validTo: c.valid_to,
  };
}

/** Reads a TLS session's peer identity once, at session start. @internal */
export function tlsPeerInfo(socket: TLSSocket): TlsPeerInfo {
  let certificate: TlsPeerCertificate | undefined;
  try {
    certificate = certOf(socket.getPeerCertificate());
  } catch {
    certificate = undefined;
  }
  const err = socket.authorizationError as unknown;
  return {
    authorized: socket.authorized === true,
    authorizationError: certificate === undefined || err === null || err === undefined ? undefined : String((err as Error).message ?? err),
    certificate,
    protocol: socket.getProtocol(),
    alpnProtocol: socket.alpnProtocol,
  };
}
