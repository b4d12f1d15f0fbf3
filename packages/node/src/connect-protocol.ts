/**
 * The Connect protocol (connectrpc.com/docs/protocol) served from a Petrel router as an
 * {@link HttpHandler}, over Node's http (HTTP/1.1) and http2-compat servers:
 *
 * - unary: POST `application/json` / `application/proto` (any registered codec) with the bare
 *   message as body, or GET `?encoding=&message=&base64=1&compression=` for methods declared
 *   `idempotency_level = NO_SIDE_EFFECTS`. Errors are HTTP statuses with the error JSON body,
 *   response trailers are `trailer-`-prefixed headers, compression is `content-encoding`.
 * - streaming: POST `application/connect+<codec>`, enveloped messages both ways (`connect-content-encoding`
 *   compresses them), ending with an end-stream envelope (flag 0x02) holding `{error?, metadata?}`.
 */
import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  type Codec,
  type HandlerContext,
  type Metadata,
  type MethodHandler,
  RpcError,
  type Router,
  type ServerContext,
} from "@petrel/core";
import { type Compression, type CompressionRegistry, metadataToHeaders } from "@petrel/protocol-grpc";
import { connectErrorJson, connectHttpStatus } from "./connect-error-json.js";
import { WebCall, decodeMessage, encodeMessage, publishHandlerError } from "./connect-http-call.js";
import { type ConnectConfig, newContext, parseTimeout, requestCompression, responseCompression } from "./connect-request.js";
import { serveStream } from "./connect-stream.js";
import { createDefaultGrpcCompressions } from "./grpc-compression.js";
import { DEFAULT_MAX_BODY_BYTES, type HttpHandler, type HttpRequest, type HttpResponse, readBody } from "./http-handler.js";

export { CONNECT_END_STREAM_FLAG } from "./connect-stream.js";

/** Options of {@link createConnectHandler}. */
export interface ConnectHandlerOptions {
  /** Largest request message, in bytes (after decompression). Default 4 MiB; a unary body over it gets HTTP 413. */
  maxReceiveMessageSize?: number;
  /** Largest response message, in bytes. Default 2^31-1 (no practical limit). */
  maxSendMessageSize?: number;
  /** Compressions for requests and responses (`gzip`, `deflate`). Default: both. */
  compressions?: CompressionRegistry;
  /** Responses smaller than this are sent uncompressed even when the client accepts compression. Default 1024. */
  compressMinBytes?: number;
  /**
   * Refuse requests without `connect-protocol-version: 1` (GET: `connect=v1`), as connect-go's
   * `WithRequireConnectProtocolHeader`. Default false: plain `curl` requests work.
   */
  requireConnectProtocolHeader?: boolean;
  /** Sees handler failures (also non-RpcErrors the peer only sees as INTERNAL). Default: the `petrel:web:handler-error` diagnostics channel. */
  onHandlerError?: (error: unknown, ctx: HandlerContext) => void;
}

/** `idempotency_level = NO_SIDE_EFFECTS` (google.protobuf.MethodOptions.IdempotencyLevel). */
const NO_SIDE_EFFECTS = 1;

/**
 * Parses a Connect content-type: `application/connect+<codec>` (streaming) or
 * `application/<codec>` (unary); `json; charset=utf-8` is accepted. Undefined for anything else
 * that is not `application/…`.
 */
export function parseConnectContentType(contentType: string | undefined): { codec: string; stream: boolean } | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(";");
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (!type.startsWith("application/")) return undefined;
  const sub = type.slice(12);
  if (sub.startsWith("connect+")) return sub.length > 8 ? { codec: sub.slice(8), stream: true } : undefined;
  if (sub === "" || sub.includes("+") || sub.startsWith("grpc")) return undefined;
  return { codec: sub, stream: false };
}

/**
 * Creates an {@link HttpHandler} serving the router's methods over the Connect protocol.
 *
 * It takes a request when it is unmistakably Connect — an `application/connect+…` content-type,
 * a `connect-protocol-version` header, a GET with `connect=v1` — or when it is a POST of
 * `application/<codec>` (or a GET) to a registered `/package.Service/Method` path. Anything else
 * is left alone (returns false), so JSON-RPC and REST handlers can share the port; plain
 * `application/grpc*` is never taken.
 */
export function createConnectHandler(router: Router, options: ConnectHandlerOptions = {}): HttpHandler {
  const config: ConnectConfig = {
    maxRecv: options.maxReceiveMessageSize ?? DEFAULT_MAX_BODY_BYTES,
    maxSend: options.maxSendMessageSize ?? 0x7fff_ffff,
    onHandlerError: options.onHandlerError ?? publishHandlerError,
    compressions: options.compressions ?? createDefaultGrpcCompressions(),
    compressMinBytes: options.compressMinBytes ?? 1024,
    requireHeader: options.requireConnectProtocolHeader ?? false,
  };
  return (req, res) => {
    const rawUrl = req.url ?? "";
    const q = rawUrl.indexOf("?");
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    if (req.method === "GET") {
      const query = new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1));
      const handler = router.lookup(path);
      if (handler === undefined) {
        if (query.get("connect") !== "v1") return false;
        unknownMethod(router, path, req, res);
        return true;
      }
      serveGet(handler, query, req, res, config, router);
      return true;
    }
    const rawType = req.headers["content-type"];
    const ct = parseConnectContentType(rawType);
    const version = req.headers["connect-protocol-version"];
    const handler = router.lookup(path);
    if (ct === undefined) {
      // Not Connect's media type: ours only if the client says it speaks Connect.
      if (version === undefined || parseGrpcLike(rawType)) return false;
      sendUnaryError(req, res, new RpcError(Code.UNKNOWN, `unsupported content-type ${JSON.stringify(rawType ?? "")}`), 415);
      return true;
    }
    if (!ct.stream && version === undefined && handler === undefined) return false;
    if (handler === undefined) {
      unknownMethod(router, path, req, res);
      return true;
    }
    if (req.method !== "POST") {
      sendUnaryError(req, res, new RpcError(Code.UNIMPLEMENTED, `method ${req.method} not allowed, want POST`), 405, { allow: "POST" });
      return true;
    }
    const codec = router.codecs.get(ct.codec);
    const streamingMethod = handler.method.methodKind !== "unary";
    if (codec === undefined || ct.stream !== streamingMethod) {
      const want = router.codecs
        .names()
        .map((n) => (streamingMethod ? `application/connect+${n}` : `application/${n}`))
        .join(", ");
      sendUnaryError(req, res, new RpcError(Code.UNKNOWN, `unsupported content-type ${JSON.stringify(rawType)}, want ${want}`), 415);
      return true;
    }
    if (version !== undefined ? version !== "1" : config.requireHeader) {
      sendUnaryError(req, res, new RpcError(Code.INVALID_ARGUMENT, 'protocol error: want "connect-protocol-version: 1"'));
      return true;
    }
    if (ct.stream) serveStream(handler, codec, req, res, config);
    else serveUnaryPost(handler, codec, req, res, config);
    return true;
  };
}

function parseGrpcLike(type: string | string[] | undefined): boolean {
  return typeof type === "string" && type.trim().toLowerCase().startsWith("application/grpc");
}

function unknownMethod(router: Router, path: string, req: HttpRequest, res: HttpResponse): void {
  const service = path.split("/")[1] ?? "";
  const msg = router.hasService(service) ? `unknown method ${path}` : `unknown service ${service}`;
  // 404 rather than unimplemented's 501: the route does not exist (what connect-go's mux answers).
  sendUnaryError(req, res, new RpcError(Code.UNIMPLEMENTED, msg), 404);
}

// ---------------------------------------------------------------------------------------------
// Unary

function serveUnaryPost(handler: MethodHandler, codec: Codec, req: HttpRequest, res: HttpResponse, config: ConnectConfig): void {
  let timeoutMs: number | undefined;
  let compression: Compression | undefined;
  let ctx: ServerContext;
  try {
    timeoutMs = parseTimeout(req.headers["connect-timeout-ms"]);
    compression = requestCompression(config, req.headers["content-encoding"] as string | undefined);
    ctx = newContext(handler, req, timeoutMs);
  } catch (e) {
    sendUnaryError(req, res, RpcError.from(e, Code.INTERNAL));
    return;
  }
  const call = new ConnectUnaryCall(req, res, handler, ctx, config, codec, responseCompression(config, req.headers["accept-encoding"]));
  call.run(timeoutMs, call.bodyMessage(compression));
}

function serveGet(
  handler: MethodHandler,
  query: URLSearchParams,
  req: HttpRequest,
  res: HttpResponse,
  config: ConnectConfig,
  router: Router,
): void {
  if (handler.method.methodKind !== "unary" || (handler.method as DescMethod).idempotency !== NO_SIDE_EFFECTS) {
    sendUnaryError(
      req,
      res,
      new RpcError(Code.UNIMPLEMENTED, `GET is only allowed for unary methods with idempotency_level = NO_SIDE_EFFECTS`),
      405,
      { allow: "POST" },
    );
    return;
  }
  const connect = query.get("connect");
  if (connect !== null ? connect !== "v1" : config.requireHeader) {
    sendUnaryError(req, res, new RpcError(Code.INVALID_ARGUMENT, 'protocol error: want query parameter "connect=v1"'));
    return;
  }
  const encoding = query.get("encoding");
  const codec = encoding === null ? undefined : router.codecs.get(encoding);
  if (codec === undefined) {
    sendUnaryError(
      req,
      res,
      new RpcError(Code.UNKNOWN, `unsupported or missing "encoding" query parameter ${JSON.stringify(encoding)}`),
      415,
    );
    return;
  }
  const message = query.get("message");
  let timeoutMs: number | undefined;
  let compression: Compression | undefined;
  let ctx: ServerContext;
  let bytes: Uint8Array;
  try {
    if (message === null) throw new RpcError(Code.INVALID_ARGUMENT, 'protocol error: missing "message" query parameter');
    bytes = query.get("base64") === "1" ? decodeBase64Url(message) : Buffer.from(message, "utf8");
    timeoutMs = parseTimeout(req.headers["connect-timeout-ms"]);
    compression = requestCompression(config, query.get("compression"));
    ctx = newContext(handler, req, timeoutMs);
  } catch (e) {
    sendUnaryError(req, res, RpcError.from(e, Code.INTERNAL));
    return;
  }
  const call = new ConnectUnaryCall(req, res, handler, ctx, config, codec, responseCompression(config, req.headers["accept-encoding"]));
  call.run(timeoutMs, oneDecoded(codec, handler.method.input, bytes, compression, config.maxRecv));
  req.resume();
}

async function* oneDecoded(
  codec: Codec,
  schema: DescMessage,
  bytes: Uint8Array,
  compression: Compression | undefined,
  maxRecv: number,
): AsyncGenerator<MessageShape<DescMessage>> {
  if (bytes.length > maxRecv) throw new RpcError(Code.RESOURCE_EXHAUSTED, `message larger than ${maxRecv} bytes`);
  yield await decodeMessage(codec, schema, bytes, compression !== undefined, compression, maxRecv);
}

/** Base64 from a URL: the URL-safe alphabet (what clients send) or the standard one, padded or not. */
function decodeBase64Url(s: string): Uint8Array {
  if (!/^[A-Za-z0-9\-_+/]*={0,2}$/.test(s) || s.replace(/=+$/, "").length % 4 === 1) {
    throw new RpcError(Code.INVALID_ARGUMENT, 'protocol error: invalid base64 in "message" query parameter');
  }
  return Buffer.from(s, "base64url");
}

class ConnectUnaryCall extends WebCall {
  private body: Uint8Array | undefined = undefined;
  private compressed: Compression | undefined = undefined;
  private tooLarge = false;

  constructor(
    req: HttpRequest,
    res: HttpResponse,
    handler: MethodHandler,
    ctx: ServerContext,
    config: ConnectConfig,
    private readonly codec: Codec,
    private readonly accepted: Compression | undefined,
  ) {
    super(req, res, handler, ctx, config);
  }

  /** The request body as the one request message. */
  async *bodyMessage(compression: Compression | undefined): AsyncGenerator<MessageShape<DescMessage>> {
    let bytes: Uint8Array;
    try {
      bytes = await readBody(this.req, this.config.maxRecv);
    } catch (e) {
      if (e instanceof RpcError && e.code === Code.RESOURCE_EXHAUSTED) this.tooLarge = true;
      throw e;
    }
    yield await decodeMessage(this.codec, this.handler.method.input, bytes, compression !== undefined, compression, this.config.maxRecv);
  }

  protected async sendMessage(message: MessageShape<DescMessage>): Promise<void> {
    const bytes = encodeMessage(this.codec, this.handler.method.output, message);
    this.checkSend(bytes);
    const cfg = this.config as ConnectConfig;
    if (this.accepted !== undefined && bytes.length >= cfg.compressMinBytes) {
      this.body = await this.accepted.compress(bytes);
      this.compressed = this.accepted;
    } else this.body = bytes;
  }

  protected finish(): void {
    const body = this.body as Uint8Array;
    const headers = responseHeaders(this.ctx.peekResponseHeader(), undefined, this.ctx.peekResponseTrailer());
    headers["content-type"] = `application/${this.codec.name}`;
    headers["content-length"] = String(body.length);
    if (this.compressed !== undefined) headers["content-encoding"] = this.compressed.name;
    this.res.writeHead(200, headers);
    this.res.end(body);
  }

  protected sendError(err: RpcError): void {
    sendUnaryError(this.req, this.res, err, this.tooLarge ? 413 : undefined, undefined, this.ctx);
  }
}

/** Response headers of a unary call: header metadata, error metadata, trailers as `trailer-<key>`. */
function responseHeaders(
  header: Metadata | undefined,
  errorMd: Metadata | undefined,
  trailer: Metadata | undefined,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (header !== undefined) metadataToHeaders(header, out);
  if (errorMd !== undefined) metadataToHeaders(errorMd, out);
  if (trailer !== undefined && trailer.size > 0) {
    const t: Record<string, string | string[]> = {};
    metadataToHeaders(trailer, t);
    for (const k in t) out[`trailer-${k}`] = t[k] as string | string[];
  }
  return out;
}

/** A unary error response: the code's HTTP status (or `status`) and the error JSON. */
function sendUnaryError(
  req: HttpRequest,
  res: HttpResponse,
  err: RpcError,
  status?: number,
  extra?: Record<string, string>,
  ctx?: ServerContext,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(connectErrorJson(err));
  const headers = responseHeaders(ctx?.peekResponseHeader(), err.metadata, ctx?.peekResponseTrailer());
  Object.assign(headers, extra);
  headers["content-type"] = "application/json";
  headers["content-length"] = String(Buffer.byteLength(body));
  res.writeHead(status ?? connectHttpStatus(err.code), headers);
  res.end(body);
  if (!req.readableEnded) req.resume();
}
