/**
 * Shared fixtures of the auth tests: keys and tokens made at test time with jose, a JWKS served
 * by a local node:http server, and a TestService that answers with the caller's identity.
 * @internal test-only; not exported from the package.
 */
import { createServer, type Server } from "node:http";
import { Code, createClient, createRouter, type Interceptor, type RpcError, type ServerInterceptor, type ServiceImpl } from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { getAuth } from "./auth-info.js";

export const ISSUER = "https://issuer.test";
export const AUDIENCE = "petrel-tests";
export const T0 = 1_750_000_000_000;

/** A signing key and its public JWK. */
export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export async function makeKey(kid: string, alg = "ES256"): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, jwk };
}

/** Signs a token valid around T0 (iat T0, exp T0+1h) unless `claims`/`opts` say otherwise. */
export function sign(
  key: TestKey,
  claims: JWTPayload = {},
  opts: { iss?: string; aud?: string; alg?: string; nowMs?: number; expSec?: number } = {},
): Promise<string> {
  const now = Math.floor((opts.nowMs ?? T0) / 1000);
  return new SignJWT({ sub: "alice", ...claims })
    .setProtectedHeader({ alg: opts.alg ?? key.alg, kid: key.kid })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expSec ?? 3600))
    .sign(key.privateKey);
}

/** A JWKS endpoint on 127.0.0.1 whose keys the test can change; counts fetches. */
export interface JwksServer {
  readonly url: string;
  keys: JWK[];
  /** Answer with this HTTP status instead of the key set (e.g. 500). */
  status: number;
  fetches: number;
  close(): Promise<void>;
}

export async function startJwks(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, status: 200, fetches: 0 };
  const server: Server = createServer((_req, res) => {
    state.fetches++;
    if (state.status !== 200) {
      res.writeHead(state.status).end("down");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  return Object.assign(state, {
    url: `http://127.0.0.1:${addr.port}/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as JwksServer;
}

/** TestService whose Echo answers `kind:subject|roles|scopes` of the caller, or `anonymous`. */
export function identityImpl(): ServiceImpl<typeof TestService> {
  const impl = createTestServiceImpl();
  return {
    ...impl,
    echo(req, ctx) {
      if (req.text !== "who") return impl.echo(req, ctx);
      const a = getAuth(ctx);
      return { text: a === undefined ? "anonymous" : `${a.kind}:${a.subject}|${a.roles.join(",")}|${a.scopes.join(",")}` };
    },
  };
}

/** A petrel/1 server with the given interceptors; `client(interceptors)` makes clients to it. */
export async function startNative(interceptors: ServerInterceptor[]) {
  const router = createRouter({ interceptors }).service(TestService, identityImpl());
  const server = createNativeServer({ router });
  const { port } = await server.listen();
  const transports: Array<{ close(): Promise<void> }> = [];
  return {
    client(clientInterceptors: Interceptor[] = []) {
      const t = createNativeTransport({ address: `127.0.0.1:${port}` });
      transports.push(t);
      return createClient(TestService, t, { interceptors: clientInterceptors });
    },
    async close() {
      for (const t of transports) await t.close();
      await server.close({ graceMs: 1000 });
    },
  };
}

/** A client interceptor that sets one header. */
export function withHeader(key: string, value: string): Interceptor {
  return (next) => (req) => {
    req.header.set(key, value);
    return next(req);
  };
}

/** Asserts that `secret` appears nowhere in an RpcError that crossed the wire. */
export function errorText(e: RpcError): string {
  const meta = [...e.metadata].map(([k, v]) => `${k}=${typeof v === "string" ? v : Buffer.from(v).toString("latin1")}`);
  const details = e.details.map((d) => `${d.typeName}:${Buffer.from(d.value).toString("latin1")}`);
  return [e.message, e.rawMessage, String(e.code), ...meta, ...details, JSON.stringify(e)].join("\n");
}

export { Code };
