import type * as http2 from "node:http2";
import { type ClientTlsOptions, type ServerTlsOptions, tlsServerOptions } from "./tls-options.js";
import type { TlsAwarePeerInfo } from "./tls-peer.js";

export type { Pem } from "./tls-options.js";
export { getTlsPeer, tlsPeerInfo, type TlsPeerCertificate, type TlsPeerInfo } from "./tls-peer.js";

/** TLS options of `createGrpcServer` (the same shape as every Petrel server's {@link ServerTlsOptions}). */
export type GrpcServerTlsOptions = ServerTlsOptions;

/** TLS options of `createGrpcTransport` with an `https://` baseUrl ({@link ClientTlsOptions}; `servername` defaults to the baseUrl host). */
export type GrpcClientTlsOptions = ClientTlsOptions;

/** `PeerInfo` of a call that arrived over TLS. */
export type GrpcPeerInfo = TlsAwarePeerInfo;

function present(p: ClientTlsOptions["cert"]): boolean {
  return p !== undefined && p !== null && p.length > 0;
}

/** Checks the server TLS options; returns the `http2.createSecureServer` options. @internal */
export function secureServerOptions(tls: GrpcServerTlsOptions, settings: http2.Settings | undefined): http2.SecureServerOptions {
  return {
    ...tlsServerOptions(tls, "grpc", ["h2"]),
    // gRPC is HTTP/2 only: no HTTP/1.1 fallback, ALPN must pick h2.
    allowHTTP1: false,
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
