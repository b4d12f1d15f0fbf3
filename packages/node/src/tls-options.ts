import { isIP } from "node:net";
import type * as tls from "node:tls";

/** PEM data: a string, a Buffer, or several of either (e.g. a CA bundle). */
export type Pem = string | Buffer | Array<string | Buffer>;

/**
 * Server-side TLS options, the same on every Petrel server (gRPC, petrel/1, the one-port server).
 * Defaults are secure ones: Node's TLS defaults (TLS 1.2 minimum, its default cipher list) and no
 * client certificate asked for.
 */
export interface ServerTlsOptions {
  /** The server's private key (PEM). */
  key: Pem;
  /** The server's certificate chain (PEM). */
  cert: Pem;
  /** CAs that client certificates are checked against. Default: Node's bundled root CAs. */
  ca?: Pem;
  /**
   * Ask clients for a certificate but accept them without one (or with one that does not verify);
   * handlers see the outcome through `getTlsPeer(ctx)`. Default false.
   */
  requestClientCert?: boolean;
  /** Mutual TLS: refuse the handshake unless the client presents a certificate `ca` verifies. Default false. */
  requireClientCert?: boolean;
  /**
   * A client that has not completed the TLS handshake within this many ms is disconnected
   * (slow-loris on the handshake). Default 10000, like the protocols' own preface timeouts
   * (Node's default is 120000).
   */
  handshakeTimeoutMs?: number;
}

/** Client-side TLS options, the same on every Petrel client transport. */
export interface ClientTlsOptions {
  /** CAs the server certificate is checked against. Default: Node's bundled root CAs. */
  ca?: Pem;
  /** Client certificate chain for mutual TLS (PEM); needs `key`. */
  cert?: Pem;
  /** Client private key for mutual TLS (PEM); needs `cert`. */
  key?: Pem;
  /** The name the server certificate must match (and the SNI sent). Default: the host dialed. */
  servername?: string;
}

function present(p: Pem | undefined): boolean {
  return p !== undefined && p !== null && p.length > 0;
}

/**
 * Checks server TLS options and returns the `tls.createServer` options (`who` prefixes errors,
 * `alpn` lists the protocols offered, most preferred first). @internal
 */
export function tlsServerOptions(options: ServerTlsOptions, who: string, alpn: string[]): tls.TlsOptions {
  if (typeof options !== "object" || options === null) throw new TypeError(`${who}: tls must be an object with key and cert`);
  if (!present(options.key) || !present(options.cert)) throw new TypeError(`${who}: tls needs both key and cert (PEM)`);
  const require = options.requireClientCert === true;
  const handshakeTimeout = options.handshakeTimeoutMs ?? 10_000;
  if (!Number.isInteger(handshakeTimeout) || handshakeTimeout < 1) {
    throw new TypeError(`${who}: tls.handshakeTimeoutMs must be a positive integer, got ${handshakeTimeout}`);
  }
  return {
    handshakeTimeout,
    key: options.key,
    cert: options.cert,
    ca: options.ca,
    requestCert: require || options.requestClientCert === true,
    rejectUnauthorized: require,
    ALPNProtocols: alpn,
  };
}

/** What a `tls.Server` keeps of its client-certificate policy; Node reads these per accepted socket. */
interface ClientCertPolicy {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/**
 * Swaps a running TLS server's key, certificate, CAs and client-certificate policy. Connections
 * accepted afterwards use them; established ones keep the session they negotiated. Throws (and
 * changes nothing) when the options or the PEM data are invalid. @internal
 */
export function reloadServerTls(server: tls.Server, options: ServerTlsOptions, who: string): void {
  const o = tlsServerOptions(options, who, []);
  try {
    server.setSecureContext({ key: o.key, cert: o.cert, ca: o.ca });
  } catch (e) {
    throw new TypeError(`${who}: invalid TLS key/certificate: ${(e as Error).message}`);
  }
  // setSecureContext() swaps the credentials only; the policy lives on the server object, where
  // Node's connection listener reads it for every new socket.
  const policy = server as unknown as ClientCertPolicy;
  policy.requestCert = o.requestCert === true;
  policy.rejectUnauthorized = o.rejectUnauthorized === true;
}

/**
 * Checks client TLS options and returns `tls.connect` options for `host`. SNI is sent only for
 * host names (RFC 6066 forbids IP addresses); verification still checks an IP against the
 * certificate's IP SANs. @internal
 */
export function tlsConnectOptions(
  options: ClientTlsOptions,
  host: string,
  port: number,
  who: string,
  alpn: string[],
): tls.ConnectionOptions {
  if (typeof options !== "object" || options === null) throw new TypeError(`${who}: tls must be an object`);
  if (present(options.cert) !== present(options.key)) throw new TypeError(`${who}: tls.cert and tls.key go together (mutual TLS)`);
  const out: tls.ConnectionOptions = { host, port, ALPNProtocols: alpn };
  if (options.ca !== undefined) out.ca = options.ca;
  if (options.cert !== undefined) out.cert = options.cert;
  if (options.key !== undefined) out.key = options.key;
  const name = options.servername ?? host;
  if (options.servername !== undefined || isIP(host) === 0) out.servername = name;
  return out;
}
