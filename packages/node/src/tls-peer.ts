import type { Socket } from "node:net";
import type { PeerCertificate, TLSSocket } from "node:tls";
import type { HandlerContext, PeerInfo } from "@petrel/core";

/** One subject alternative name of a certificate. */
export interface TlsSubjectAltName {
  /** `DNS`, `IP`, `URI`, `email`, or another type as OpenSSL names it. */
  readonly type: string;
  /** e.g. `localhost`, `127.0.0.1`, `spiffe://example.org/ns/default/sa/api`. */
  readonly value: string;
}

/** The parts of a peer certificate handlers usually look at. */
export interface TlsPeerCertificate {
  readonly subject: Readonly<Record<string, string | string[] | undefined>>;
  readonly issuer: Readonly<Record<string, string | string[] | undefined>>;
  /** As Node reports it, e.g. `DNS:client.example, IP Address:10.0.0.1`. */
  readonly subjectAltName: string | undefined;
  /** The same SANs parsed into a list (`IP Address` becomes `IP`). */
  readonly subjectAltNames: readonly TlsSubjectAltName[];
  readonly serialNumber: string;
  /** SHA-256 fingerprint, `AA:BB:…`. */
  readonly fingerprint256: string;
  readonly validFrom: string;
  readonly validTo: string;
}

/** The TLS side of a caller, as the server saw it at the handshake. */
export interface TlsPeerInfo {
  /** Whether the client's certificate verified against the server's `ca`. */
  readonly authorized: boolean;
  /** Why it did not verify (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), when a certificate was presented. */
  readonly authorizationError: string | undefined;
  /** The client's certificate, if it presented one. */
  readonly certificate: TlsPeerCertificate | undefined;
  /** Negotiated TLS version, e.g. `TLSv1.3`. */
  readonly protocol: string | null;
  /** Negotiated ALPN protocol (`h2`, `http/1.1`, `petrel/1`), false when none was. */
  readonly alpnProtocol: string | false | null;
}

/** `PeerInfo` of a call that may have arrived over TLS. */
export interface TlsAwarePeerInfo extends PeerInfo {
  readonly tls?: TlsPeerInfo;
}

/** The caller's TLS identity on any transport, or undefined when the call did not come over TLS. */
export function getTlsPeer(ctx: HandlerContext): TlsPeerInfo | undefined {
  return (ctx.peer as TlsAwarePeerInfo).tls;
}

/**
 * Splits Node's `subjectaltname` string. Values with separators in them arrive JSON-quoted
 * (Node >= 16.17 escapes them so a crafted SAN cannot smuggle in a second entry), e.g.
 * `DNS:"a, DNS:b"`. @internal
 */
export function parseSubjectAltNames(s: string | undefined): TlsSubjectAltName[] {
  const out: TlsSubjectAltName[] = [];
  if (typeof s !== "string" || s === "") return out;
  let i = 0;
  while (i < s.length) {
    const colon = s.indexOf(":", i);
    if (colon < 0) break;
    const rawType = s.slice(i, colon).trim();
    let j = colon + 1;
    let value: string;
    if (s[j] === '"') {
      // A JSON string: find its closing quote (skipping escapes).
      let k = j + 1;
      while (k < s.length && s[k] !== '"') k += s[k] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(s.slice(j, k + 1)) as string;
      } catch {
        value = s.slice(j + 1, k);
      }
      j = k + 1;
      const comma = s.indexOf(",", j);
      j = comma < 0 ? s.length : comma;
    } else {
      const comma = s.indexOf(", ", j);
      const end = comma < 0 ? s.length : comma;
      value = s.slice(j, end);
      j = end;
    }
    out.push({ type: rawType === "IP Address" ? "IP" : rawType, value });
    i = j + 1;
    while (s[i] === " ") i++;
  }
  return out;
}

function certOf(c: PeerCertificate | undefined): TlsPeerCertificate | undefined {
  // getPeerCertificate() returns {} when the peer sent none.
  if (c === null || c === undefined || c.fingerprint256 === undefined) return undefined;
  return {
    subject: { ...c.subject },
    issuer: { ...c.issuer },
    subjectAltName: c.subjectaltname,
    subjectAltNames: parseSubjectAltNames(c.subjectaltname),
    serialNumber: c.serialNumber,
    fingerprint256: c.fingerprint256,
    validFrom: c.valid_from,
    validTo: c.valid_to,
  };
}

/** Reads a TLS socket's peer identity (call it once per connection, after the handshake). @internal */
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

/** `host:port` of a socket's remote end (`[v6]:port` for IPv6). @internal */
export function remoteAddressOf(socket: Socket | undefined | null): string {
  if (socket == null || socket.remoteAddress === undefined) return "unknown";
  return socket.remoteFamily === "IPv6" ? `[${socket.remoteAddress}]:${socket.remotePort}` : `${socket.remoteAddress}:${socket.remotePort}`;
}

// TLS identity per connection: a keep-alive connection carries many calls, and reading the peer
// certificate crosses into OpenSSL each time.
const tlsBySocket = new WeakMap<object, TlsPeerInfo>();

/**
 * The `PeerInfo` of a call that arrived on `socket`: its remote address and, when the socket is a
 * TLS one, the peer's TLS identity (`getTlsPeer(ctx)`). Every Petrel server builds `ctx.peer` with
 * it. `socket` may be an HTTP/2 request's socket proxy. @internal
 */
export function peerInfoOf(socket: Socket | undefined | null, protocol: string): TlsAwarePeerInfo {
  const address = remoteAddressOf(socket);
  if (socket == null || (socket as TLSSocket).encrypted !== true) return { address, protocol };
  let tls = tlsBySocket.get(socket);
  if (tls === undefined) {
    tls = tlsPeerInfo(socket as TLSSocket);
    tlsBySocket.set(socket, tls);
  }
  return { address, protocol, tls };
}
