import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { create, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, Metadata, RpcError, type StreamResponse, type Transport, type UnaryRequest, type UnaryResponse } from "@petrel/core";
import { type Compression, type CompressionRegistry, codeFromHttpStatus } from "@petrel/protocol-grpc";
import {
  clientWire,
  decodeResponse,
  encodeRequest,
  JsonValueSplitter,
  type JsonRpcMethodNaming,
  type JsonRpcParamStyle,
  rpcErrorOf,
  responseId,
} from "@petrel/protocol-jsonrpc";
import { createHttpContentEncoding, decodeRequestBody, requestCodings } from "./http-content-encoding.js";
import { JSONRPC_TIMEOUT_HEADER } from "./jsonrpc-server-common.js";
import { type ClientTlsOptions, tlsConnectOptions } from "./tls-options.js";

/** Options of `createJsonRpcTransport`. */
export interface JsonRpcTransportOptions {
  /** `"http"` (POST to `url`) or `"tcp"` (JSON values on a raw stream to host:port). Default: `"http"` with `url`, else `"tcp"`. */
  protocol?: "http" | "tcp";
  /** HTTP endpoint, e.g. `http://127.0.0.1:8080/jsonrpc`. */
  url?: string;
  /** TCP host. Default `127.0.0.1`. */
  host?: string;
  /** TCP port. */
  port?: number;
  /** `"2.0"` (default) or `"1.0"`, Go net/rpc/jsonrpc's dialect (TCP, no batches). */
  version?: "2.0" | "1.0";
  /** Wire method names. Default `"path"` for 2.0 (`pkg.Service/Method`), `"go"` for 1.0 (`Service.Method`). */
  naming?: JsonRpcMethodNaming;
  /** Params style. Default `"object"` for 2.0, `"array"` (`[message]`) for 1.0. */
  params?: JsonRpcParamStyle;
  /** Send default-valued fields in params. Default true. */
  emitDefaultValues?: boolean;
  /** HTTP: most pooled keep-alive sockets. Default 16. */
  maxSockets?: number;
  /** TCP: connections in the pool; calls pipeline on them by id. Default 2. */
  connections?: number;
  /** Largest response accepted, before and after decompression. Default 16 MiB. */
  maxResponseBytes?: number;
  /**
   * HTTP: content codings this client reads in responses (sent as `Accept-Encoding`) and may use
   * for requests. Default `createDefaultGrpcCompressions()` (gzip, deflate, and br where
   * registered); an empty registry sends no `Accept-Encoding`.
   */
  compressions?: CompressionRegistry;
  /**
   * HTTP: compress request bodies with this coding (`"gzip"`, `"deflate"`, `"br"`; it must be in
   * `compressions`) when they are at least `compressMinBytes`. Default: requests go uncompressed,
   * since a server need not accept compressed requests (it answers 415 then).
   */
  compression?: string;
  /** HTTP: request bodies smaller than this are sent uncompressed. Default 1024. */
  compressMinBytes?: number;
  /**
   * TLS (optionally mutual TLS): with an `https://` url, or over TCP (e.g. to a one-port server's
   * TLS side). The server certificate is always verified, against `ca` (default Node's root CAs).
   * Default: TLS with Node's defaults for `https://` urls, cleartext otherwise.
   */
  tls?: ClientTlsOptions;
}

/** One call of a batch. */
export interface JsonRpcBatchCall<I extends DescMessage = DescMessage> {
  method: DescMethod;
  message: MessageInitShape<I> | MessageShape<I>;
  /** Send as a notification: no response, its slot in the result is undefined. */
  notify?: boolean;
}

/** Per-batch options. */
export interface JsonRpcBatchOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** HTTP request headers. */
  headers?: Metadata;
}

/** A JSON-RPC client transport: `createClient(Service, transport)` plus batches. */
export interface JsonRpcTransport extends Transport {
  /**
   * Sends several calls as one JSON-RPC 2.0 batch. Resolves with one entry per call, in order:
   * the decoded response message, the call's RpcError, or undefined for a notification. Rejects
   * (RpcError) only when the batch as a whole failed (connection, deadline, HTTP status).
   */
  batch(calls: JsonRpcBatchCall[], options?: JsonRpcBatchOptions): Promise<(MessageShape<DescMessage> | RpcError | undefined)[]>;
  /** Closes pooled sockets/connections; calls in flight fail with UNAVAILABLE. */
  close(): Promise<void>;
}

/** What an exchange resolves with: the response objects by id, plus id-less errors. */
interface Replies {
  byId: Map<unknown, unknown>;
  orphanError: unknown;
}

interface Exchange {
  send(
    body: string,
    ids: number[],
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    header: Metadata | undefined,
  ): Promise<Replies>;
  close(): Promise<void>;
}

/**
 * Creates a JSON-RPC client transport. HTTP pools keep-alive sockets in an `http.Agent`; TCP keeps
 * a small pool of connections and pipelines calls on them, matching responses by id. Only unary
 * methods (stream -> UNIMPLEMENTED). Deadlines abort the call locally with DEADLINE_EXCEEDED and,
 * over HTTP, travel as `x-petrel-timeout-ms`; request metadata travels as HTTP headers (TCP has no
 * place for it and drops it). JSON-RPC errors map back to RpcError (exactly, from
 * a Petrel server; by code otherwise). Over HTTP, responses may come compressed (the client sends
 * `Accept-Encoding`) and requests may be compressed (`compression`).
 */
export function createJsonRpcTransport(options: JsonRpcTransportOptions): JsonRpcTransport {
  const wire = clientWire(options);
  const protocol = options.protocol ?? (options.url !== undefined ? "http" : "tcp");
  const maxResponse = options.maxResponseBytes ?? 16 * 1024 * 1024;
  const exchange = protocol === "http" ? httpExchange(options, maxResponse) : tcpExchange(options, maxResponse);
  let nextId = 1;
  const newId = () => {
    const id = nextId;
    nextId = nextId >= Number.MAX_SAFE_INTEGER ? 1 : nextId + 1;
    return id;
  };

  return {
    async unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>> {
      const id = newId();
      const body = JSON.stringify(encodeRequest(wire, req.method, req.message as MessageShape<DescMessage>, id));
      const replies = await exchange.send(body, [id], req.deadline, req.signal, req.header);
      const res = replies.byId.get(id) ?? orphan(replies);
      const message = decodeResponse<O>(wire, req.method, res);
      return { stream: false, service: req.service, method: req.method, header: new Metadata(), trailer: new Metadata(), message };
    },
    stream<O extends DescMessage>(): Promise<StreamResponse<O>> {
      return Promise.reject(new RpcError(Code.UNIMPLEMENTED, "JSON-RPC carries unary calls only"));
    },
    async batch(calls, opts = {}) {
      if (wire.version === "1.0") throw new RpcError(Code.UNIMPLEMENTED, "JSON-RPC 1.0 has no batches");
      if (calls.length === 0) return [];
      const ids = calls.map((c) => (c.notify === true ? undefined : newId()));
      const body = JSON.stringify(
        calls.map((c, i) => encodeRequest(wire, c.method, create(c.method.input, c.message as never) as MessageShape<DescMessage>, ids[i])),
      );
      const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
      const wanted = ids.filter((id): id is number => id !== undefined);
      const replies = await exchange.send(body, wanted, deadline, opts.signal, opts.headers);
      return calls.map((c, i) => {
        const id = ids[i];
        if (id === undefined) return undefined;
        try {
          return decodeResponse(wire, c.method, replies.byId.get(id) ?? orphan(replies));
        } catch (e) {
          return RpcError.from(e);
        }
      });
    },
    close: () => exchange.close(),
  };
}

/** A response without an id usable for this call: the server's id-less error, or INTERNAL. */
function orphan(replies: Replies): unknown {
  if (replies.orphanError !== undefined) return { error: replies.orphanError };
  throw new RpcError(Code.INTERNAL, "no JSON-RPC response for the call");
}

/** Sorts a parsed response body (object or batch array) into Replies. */
function collect(parsed: unknown, into: Replies): void {
  for (const r of Array.isArray(parsed) ? parsed : [parsed]) {
    const id = responseId(r);
    if (id === undefined || id === null) {
      const err = (r as Record<string, unknown> | null)?.error;
      if (err !== undefined && err !== null) into.orphanError = err;
    } else into.byId.set(id, r);
  }
}

function failureOf(signal: AbortSignal | undefined): RpcError {
  const r = signal?.reason;
  return r instanceof RpcError ? r : new RpcError(Code.CANCELLED, "call cancelled");
}

/** Runs `start` with deadline and signal; `cancel` is called when either fires first. */
function guard<T>(
  deadline: number | undefined,
  signal: AbortSignal | undefined,
  start: (settle: (err: RpcError | undefined, v?: T) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(failureOf(signal));
    if (deadline !== undefined && deadline <= Date.now()) return reject(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
    new Guard<T>(resolve, reject, signal).run(start, deadline);
  });
}

function noop(): void {}

/**
 * One guard() call. A class with bound methods rather than closures: code that runs per call
 * makes no named closures (tsx's keepNames defines each one's name; docs/ARCHITECTURE.md).
 */
class Guard<T> {
  private done = false;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private cancel: () => void = noop;
  private readonly settle = this.finish.bind(this);
  private readonly onAbort = this.abort.bind(this);

  constructor(
    private readonly resolve: (v: T) => void,
    private readonly reject: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  run(start: (settle: (err: RpcError | undefined, v?: T) => void) => () => void, deadline: number | undefined): void {
    this.cancel = start(this.settle);
    // Settled while starting (e.g. nothing to wait for): no timer, no listener left behind.
    if (this.done) return;
    if (deadline !== undefined) {
      this.timer = setTimeout(
        () => this.finish(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")),
        Math.min(deadline - Date.now(), 0x7fff_ffff),
      );
    }
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  private abort(): void {
    this.finish(failureOf(this.signal));
  }

  private finish(err: RpcError | undefined, v?: T): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
    if (err !== undefined) {
      this.cancel();
      this.reject(err);
    } else this.resolve(v as T);
  }
}

/**
 * The code for a JSON-RPC HTTP response that is not 200: gRPC's mapping for responses without a
 * status (codeFromHttpStatus), except that a JSON-RPC 400 is the caller's bad request and 413 its
 * oversized body.
 */
function httpStatusCode(status: number): Code {
  if (status === 400) return Code.INVALID_ARGUMENT;
  if (status === 413) return Code.RESOURCE_EXHAUSTED;
  return codeFromHttpStatus(status);
}

/** The https.Agent TLS options from `tls` (checked like every Petrel client's). */
function httpsTlsOptions(tls: ClientTlsOptions | undefined, url: URL): Record<string, unknown> {
  // ALPN http/1.1 tells a server that multiplexes protocols on one port what this is at once.
  if (tls === undefined) return { ALPNProtocols: ["http/1.1"] };
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const { host: _host, port: _port, ...rest } = tlsConnectOptions(tls, host, 443, "jsonrpc", ["http/1.1"]);
  return rest;
}

function httpExchange(options: JsonRpcTransportOptions, maxResponse: number): Exchange {
  if (options.url === undefined) throw new TypeError("createJsonRpcTransport: protocol http needs url");
  const url = new URL(options.url);
  const tls = url.protocol === "https:";
  if (url.protocol !== "http:" && !tls)
    throw new TypeError(`createJsonRpcTransport: url must be http:// or https://, got "${options.url}"`);
  if (options.tls !== undefined && !tls)
    throw new TypeError(`createJsonRpcTransport: tls options need an https:// url, got "${options.url}"`);
  const agentOpts = { keepAlive: true, maxSockets: options.maxSockets ?? 16 };
  const agent = tls ? new HttpsAgent({ ...agentOpts, ...httpsTlsOptions(options.tls, url) }) : new HttpAgent(agentOpts);
  const doRequest = tls ? httpsRequest : httpRequest;
  const enc = createHttpContentEncoding({ compressions: options.compressions });
  const acceptEncoding = enc.enabled ? enc.order.map((c) => c.name).join(", ") : undefined;
  let requestCoding: Compression | undefined;
  if (options.compression !== undefined && options.compression.toLowerCase() !== "identity") {
    requestCoding = enc.compressions.get(options.compression);
    if (requestCoding === undefined)
      throw new TypeError(`createJsonRpcTransport: compression "${options.compression}" is not registered (have: ${enc.accept})`);
  }
  const compressMin = options.compressMinBytes ?? 1024;

  const post = (
    body: string | Uint8Array,
    coding: Compression | undefined,
    ids: number[],
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    header: Metadata | undefined,
  ): Promise<Replies> =>
    guard<Replies>(deadline, signal, (settle) => {
      const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
      if (header !== undefined) {
        for (const [k, v] of header) headers[k] = typeof v === "string" ? v : Buffer.from(v).toString("base64");
      }
      // After the metadata: these describe this request's bytes, whatever a propagated header said.
      if (acceptEncoding !== undefined) headers["accept-encoding"] = acceptEncoding;
      if (coding !== undefined) headers["content-encoding"] = coding.name;
      else delete headers["content-encoding"];
      if (deadline !== undefined) headers[JSONRPC_TIMEOUT_HEADER] = Math.max(1, deadline - Date.now());
      const req = doRequest(url, { method: "POST", agent, headers }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > maxResponse) {
            settle(new RpcError(Code.RESOURCE_EXHAUSTED, `response larger than ${maxResponse} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on("error", () => settle(new RpcError(Code.UNAVAILABLE, "response aborted")));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          // RFC 9110 §15.5.16: the server does not take this content coding (the request was not
          // processed); send() retries the same body uncompressed.
          if (status === 415 && coding !== undefined) return settle(codingRefused(coding));
          const raw = Buffer.concat(chunks);
          const ce = res.headers["content-encoding"];
          if (ce === undefined) return settleResponse(status, raw, ids, settle);
          const codings = requestCodings(enc, ce);
          if (codings.t === "identity") return settleResponse(status, raw, ids, settle);
          if (codings.t === "unsupported") {
            return settle(new RpcError(Code.INTERNAL, `response has content-encoding "${ce}", which this client cannot decode`));
          }
          decodeRequestBody(raw, codings.codings, maxResponse).then(
            (plain) => settleResponse(status, plain, ids, settle),
            (e: unknown) => {
              const err = RpcError.from(e);
              settle(
                err.code === Code.RESOURCE_EXHAUSTED
                  ? new RpcError(Code.RESOURCE_EXHAUSTED, `response decompresses to more than ${maxResponse} bytes`)
                  : new RpcError(Code.INTERNAL, `cannot decode the response: ${err.rawMessage.replace(/^request body /, "")}`),
              );
            },
          );
        });
      });
      req.on("error", (e) => settle(new RpcError(Code.UNAVAILABLE, `JSON-RPC over HTTP: ${e.message}`, { cause: e })));
      req.end(body);
      return () => req.destroy();
    });

  return {
    send(body, ids, deadline, signal, header) {
      if (requestCoding === undefined || Buffer.byteLength(body) < compressMin) return post(body, undefined, ids, deadline, signal, header);
      const coding = requestCoding;
      return coding.compress(Buffer.from(body)).then(
        (zipped) =>
          post(zipped, coding, ids, deadline, signal, header).catch((e: unknown) => {
            if (!isCodingRefused(e)) throw e;
            // The server refuses this coding: from now on requests go uncompressed.
            if (requestCoding === coding) requestCoding = undefined;
            return post(body, undefined, ids, deadline, signal, header);
          }),
        (e: unknown) => Promise.reject(new RpcError(Code.INTERNAL, `cannot compress the request (${coding.name})`, { cause: e })),
      );
    },
    async close() {
      agent.destroy();
    },
  };
}

const CODING_REFUSED = Symbol("petrel.jsonrpc.codingRefused");

/** The error of an HTTP 415 answer to a compressed request (send() retries uncompressed). */
function codingRefused(coding: Compression): RpcError {
  const e = new RpcError(Code.UNIMPLEMENTED, `the server does not accept ${coding.name}-compressed requests (HTTP 415)`);
  (e as unknown as Record<symbol, boolean>)[CODING_REFUSED] = true;
  return e;
}

function isCodingRefused(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[CODING_REFUSED] === true;
}

/** Settles an HTTP exchange from the (decoded) response body. */
function settleResponse(status: number, body: Buffer, ids: number[], settle: (err: RpcError | undefined, v?: Replies) => void): void {
  const text = body.toString("utf8");
  if (status === 204 || (status === 200 && text.trim() === "")) {
    if (ids.length === 0) return settle(undefined, { byId: new Map(), orphanError: undefined });
    return settle(new RpcError(Code.INTERNAL, "server sent no JSON-RPC response"));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    if (status !== 200) return settle(new RpcError(httpStatusCode(status), `HTTP ${status}`));
    return settle(new RpcError(Code.INTERNAL, "response is not JSON"));
  }
  const replies: Replies = { byId: new Map(), orphanError: undefined };
  collect(parsed, replies);
  if (replies.byId.size === 0 && replies.orphanError === undefined && status !== 200) {
    return settle(new RpcError(httpStatusCode(status), `HTTP ${status}`));
  }
  settle(undefined, replies);
}

/** One pooled TCP connection with calls pipelined by id. */
interface TcpConn {
  socket: Socket;
  /** Pending calls: id -> resolver. A batch registers every id with one shared collector. */
  pending: Map<unknown, (res: unknown) => void>;
  closed: boolean;
  fail(err: RpcError): void;
  /** Callbacks for id-less errors (the server's parse errors). */
  orphans: Set<(err: unknown) => void>;
  /** Calls in flight, failed together when the connection dies. */
  failers: Set<(err: RpcError) => void>;
}

/** One call (a request or a batch) on a TCP connection: its replies by id, until all came. */
class TcpCall {
  private left: number;
  private readonly replies: Replies = { byId: new Map(), orphanError: undefined };
  /** Bound methods, registered with the connection (and removed by identity). */
  readonly cleanup = this.release.bind(this);
  private readonly done = this.finish.bind(this);
  private readonly onReply = this.reply.bind(this);
  private readonly onOrphan = this.orphan.bind(this);

  constructor(
    private readonly conn: TcpConn,
    private readonly ids: number[],
    private readonly settle: (err: RpcError | undefined, v?: Replies) => void,
  ) {
    this.left = ids.length;
  }

  start(body: string): void {
    const conn = this.conn;
    for (const id of this.ids) conn.pending.set(id, this.onReply);
    conn.failers.add(this.done);
    conn.orphans.add(this.onOrphan);
    conn.socket.write(`${body}\n`);
    if (this.ids.length === 0) this.finish(undefined, this.replies);
  }

  private release(): void {
    for (const id of this.ids) this.conn.pending.delete(id);
    this.conn.failers.delete(this.done);
    this.conn.orphans.delete(this.onOrphan);
  }

  private finish(err: RpcError | undefined, v?: Replies): void {
    this.release();
    this.settle(err, v);
  }

  private reply(r: unknown): void {
    const id = responseId(r);
    if (this.replies.byId.has(id)) return;
    this.replies.byId.set(id, r);
    if (--this.left === 0) this.finish(undefined, this.replies);
  }

  /** An id-less error (e.g. a parse error) cannot be matched; the server closes after one. */
  private orphan(err: unknown): void {
    this.finish(rpcErrorOf(err));
  }
}

function tcpExchange(options: JsonRpcTransportOptions, maxResponse: number): Exchange {
  if (options.port === undefined) throw new TypeError("createJsonRpcTransport: protocol tcp needs port");
  const host = options.host ?? "127.0.0.1";
  const port = options.port;
  const size = Math.max(1, options.connections ?? 2);
  const pool: (TcpConn | undefined)[] = new Array(size).fill(undefined);

  const open = (slot: number): TcpConn => {
    const socket =
      options.tls === undefined ? connect({ host, port }) : tlsConnect(tlsConnectOptions(options.tls, host, port, "jsonrpc", []));
    socket.setNoDelay(true);
    const splitter = new JsonValueSplitter(maxResponse);
    const conn: TcpConn = {
      socket,
      pending: new Map(),
      orphans: new Set(),
      failers: new Set(),
      closed: false,
      fail(err) {
        if (conn.closed) return;
        conn.closed = true;
        if (pool[slot] === conn) pool[slot] = undefined;
        socket.destroy();
        for (const f of [...conn.failers]) f(err);
      },
    };
    socket.on("data", (chunk: Buffer) => {
      let values: Uint8Array[];
      try {
        values = splitter.push(chunk);
      } catch (e) {
        conn.fail(new RpcError(Code.INTERNAL, `JSON-RPC over TCP: ${(e as Error).message}`));
        return;
      }
      for (const v of values) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.from(v.buffer, v.byteOffset, v.length).toString("utf8"));
        } catch {
          conn.fail(new RpcError(Code.INTERNAL, "JSON-RPC over TCP: response is not JSON"));
          return;
        }
        for (const r of Array.isArray(parsed) ? parsed : [parsed]) {
          const id = responseId(r);
          const cb = id === undefined || id === null ? undefined : conn.pending.get(id);
          if (cb !== undefined) cb(r);
          else if (id === null || id === undefined) for (const o of conn.orphans) o((r as Record<string, unknown> | null)?.error);
        }
      }
    });
    socket.on("error", (e) => conn.fail(new RpcError(Code.UNAVAILABLE, `JSON-RPC over TCP: ${e.message}`, { cause: e })));
    socket.on("close", () => conn.fail(new RpcError(Code.UNAVAILABLE, "JSON-RPC over TCP: connection closed")));
    return conn;
  };
  /** The open connection with the fewest calls in flight (opening empty slots first). */
  const pick = (): TcpConn => {
    let best: TcpConn | undefined;
    for (let i = 0; i < size; i++) {
      let c = pool[i];
      if (c === undefined || c.closed) {
        c = open(i);
        pool[i] = c;
        return c;
      }
      if (best === undefined || c.pending.size < best.pending.size) best = c;
    }
    return best as TcpConn;
  };

  return {
    send(body, ids, deadline, signal) {
      return guard<Replies>(deadline, signal, (settle) => {
        const call = new TcpCall(pick(), ids, settle);
        call.start(body);
        return call.cleanup;
      });
    },
    async close() {
      for (const c of pool) c?.fail(new RpcError(Code.UNAVAILABLE, "transport closed"));
    },
  };
}
