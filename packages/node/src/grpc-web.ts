/**
 * gRPC-Web (PROTOCOL-WEB.md) served from a Petrel router as an {@link HttpHandler}, over Node's
 * http (HTTP/1.1) and http2-compat servers. Binary (`application/grpc-web[+proto|+json]`) and
 * text (`application/grpc-web-text[+proto]`, base64 bodies) modes. The status and trailers travel
 * in a final message with flag 0x80 holding `key:value\r\n` lines, since browsers and HTTP/1.1
 * cannot read HTTP trailers; the status is never put in the response headers, so a client that
 * cannot read headers (CORS) still sees it. Requests may be compressed (`grpc-encoding`); responses
 * are compressed only when the handler is configured to (`compression`, or a call's
 * `x-petrel-compress` response header) and the client's `grpc-accept-encoding` lists the algorithm.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  type HandlerContext,
  type Metadata,
  RpcError,
  ServerContext,
  type Router,
  type Codec,
  messageCompressionHint,
} from "@petrel/core";
import {
  type CompressionRegistry,
  type Compression,
  IDENTITY_ENCODING,
  frameMessage,
  headersToMetadata,
  parseAcceptEncoding,
  metadataToHeaders,
  parseGrpcTimeout,
  writeGrpcStatus,
} from "@petrel/protocol-grpc";
import { COMPRESS_HEADER } from "@petrel/protocol-native";
import {
  WebCall,
  type WebCallConfig,
  bodyChunks,
  encodeMessage,
  envelopedMessages,
  peerOf,
  publishHandlerError,
  stripHeaders,
} from "./connect-http-call.js";
import { decodeBase64Stream, encodeBase64Chunk } from "./grpc-web-base64.js";
import { createDefaultGrpcCompressions, shouldCompress, validCompressMinBytes } from "./grpc-compression.js";
import { DEFAULT_MAX_BODY_BYTES, type HttpHandler, type HttpRequest, type HttpResponse } from "./http-handler.js";

/** Options of {@link createGrpcWebHandler}. */
export interface GrpcWebHandlerOptions {
  /** Largest request message, in bytes (after decompression). Default 4 MiB. */
  maxReceiveMessageSize?: number;
  /** Largest response message, in bytes. Default 2^31-1 (no practical limit). */
  maxSendMessageSize?: number;
  /**
   * Message compressions understood in requests (`grpc-encoding`) and usable for responses,
   * advertised in `grpc-accept-encoding`. Default `createDefaultGrpcCompressions()` (deflate, gzip, br).
   */
  compressions?: CompressionRegistry;
  /**
   * Compression for response messages (e.g. `"gzip"`), used only when the request's
   * `grpc-accept-encoding` lists it; a handler can choose per call with the response header
   * `x-petrel-compress` (never sent). Default: none (identity).
   */
  compression?: string;
  /**
   * On a call whose responses are compressed, response messages smaller than this many encoded
   * bytes are sent uncompressed (flag 0); `setMessageCompression(msg, true/false)` overrides it per
   * message. Default 1024.
   */
  compressMinBytes?: number;
  /** Sees handler failures (also non-RpcErrors the peer only sees as INTERNAL). Default: the `petrel:web:handler-error` diagnostics channel. */
  onHandlerError?: (error: unknown, ctx: HandlerContext) => void;
}

/** The trailer message flag (most significant bit of the frame's flag byte). */
export const GRPC_WEB_TRAILER_FLAG = 0x80;

const WEB_TYPE = "application/grpc-web";

/**
 * Parses a gRPC-Web content-type: `application/grpc-web` and `+proto` give codec `proto`,
 * `+<name>` gives `<name>`; the `-text` variants set `text`. Anything else (plain
 * `application/grpc` included) gives undefined. Case-insensitive; parameters are ignored.
 */
export function parseGrpcWebContentType(contentType: string | undefined): { codec: string; text: boolean } | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(";");
  let type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (!type.startsWith(WEB_TYPE)) return undefined;
  type = type.slice(WEB_TYPE.length);
  let text = false;
  if (type.startsWith("-text")) {
    text = true;
    type = type.slice(5);
  }
  if (type === "") return { codec: "proto", text };
  if (type.charCodeAt(0) !== 0x2b || type.length === 1) return undefined; // "+"
  return { codec: type.slice(1), text };
}

/**
 * Creates an {@link HttpHandler} serving the router's methods over gRPC-Web. It takes every
 * request whose content-type starts with `application/grpc-web` (and only those, so plain
 * `application/grpc` stays with the gRPC server): an unknown codec gets HTTP 415, a method other
 * than POST 405, an unknown path the status UNIMPLEMENTED in the trailers.
 */
export function createGrpcWebHandler(router: Router, options: GrpcWebHandlerOptions = {}): HttpHandler {
  const config: WebCallConfig = {
    maxRecv: options.maxReceiveMessageSize ?? DEFAULT_MAX_BODY_BYTES,
    maxSend: options.maxSendMessageSize ?? 0x7fff_ffff,
    onHandlerError: options.onHandlerError ?? publishHandlerError,
  };
  const compressions = options.compressions ?? createDefaultGrpcCompressions();
  if (options.compression !== undefined && !compressions.supports(options.compression)) {
    throw new TypeError(`grpc-web: unknown compression "${options.compression}"`);
  }
  const resConfig: ResponseCompressionConfig = {
    compressions,
    compression: options.compression?.trim().toLowerCase(),
    minBytes: validCompressMinBytes(options.compressMinBytes),
    accept: compressions.acceptEncoding(),
  };
  return (req, res) => {
    const ct = parseGrpcWebContentType(req.headers["content-type"]);
    if (ct === undefined) return false;
    const codec = router.codecs.get(ct.codec);
    if (codec === undefined) {
      plain(req, res, 415, `petrel: unsupported gRPC-Web codec "${ct.codec}"; this server accepts: ${router.codecs.names().join(", ")}\n`);
      return true;
    }
    if (req.method !== "POST") {
      plain(req, res, 405, "petrel: gRPC-Web wants POST\n", { allow: "POST" });
      return true;
    }
    const contentType = `${WEB_TYPE}${ct.text ? "-text" : ""}+${ct.codec}`;
    const path = (req.url ?? "").split("?")[0] as string;
    const early = (code: Code, message: string): true => {
      earlyError(req, res, contentType, ct.text, new RpcError(code, message));
      return true;
    };
    const handler = router.lookup(path);
    if (handler === undefined) {
      const service = path.split("/")[1] ?? "";
      return early(Code.UNIMPLEMENTED, router.hasService(service) ? `unknown method ${path}` : `unknown service ${service}`);
    }
    let compression: Compression | undefined;
    const enc = req.headers["grpc-encoding"];
    if (typeof enc === "string" && enc.toLowerCase() !== "identity") {
      compression = compressions.get(enc);
      if (compression === undefined) return early(Code.UNIMPLEMENTED, `grpc: unsupported grpc-encoding "${enc}"`);
    }
    let timeoutMs: number | undefined;
    let md: Metadata;
    try {
      timeoutMs = parseGrpcTimeout(req.headers["grpc-timeout"] as string | undefined);
      md = headersToMetadata(stripHeaders(req.headers, [], WEB_OWNED_HEADERS));
    } catch (e) {
      const err = RpcError.from(e, Code.INTERNAL);
      return early(err.code, err.rawMessage);
    }
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const ctx = new ServerContext(handler.service, handler.method, md, deadline, peerOf(req, "grpc-web"));
    const chunks = bodyChunks(req);
    const input = envelopedMessages(
      ct.text ? decodeBase64Stream(chunks) : chunks,
      codec,
      handler.method.input,
      config.maxRecv,
      compression,
    );
    new GrpcWebCall(req, res, handler, ctx, config, codec, contentType, ct.text, resConfig).run(timeoutMs, input);
    return true;
  };
}

/** Request headers of the transport itself, not application metadata. */
const WEB_OWNED_HEADERS: ReadonlySet<string> = new Set(["x-grpc-web", "accept", "accept-encoding", "content-encoding"]);

/** How a handler compresses responses; one per handler. */
interface ResponseCompressionConfig {
  compressions: CompressionRegistry;
  /** The `compression` option, lower-cased. */
  compression: string | undefined;
  minBytes: number;
  /** Our `grpc-accept-encoding` value. */
  accept: string;
}

class GrpcWebCall extends WebCall {
  /** The response compression once chosen (null: identity); see {@link responseCompression}. */
  private resCompression: Compression | null | undefined = undefined;

  constructor(
    req: HttpRequest,
    res: HttpResponse,
    handler: ConstructorParameters<typeof WebCall>[2],
    ctx: ServerContext,
    config: WebCallConfig,
    private readonly codec: Codec,
    private readonly contentType: string,
    private readonly text: boolean,
    private readonly comp: ResponseCompressionConfig,
  ) {
    super(req, res, handler, ctx, config);
  }

  /**
   * The compression for this call's responses, chosen at the first response message: the
   * handler's `x-petrel-compress` header, else the `compression` option — used only if the
   * client's `grpc-accept-encoding` lists it.
   */
  private responseCompression(): Compression | undefined {
    if (this.resCompression !== undefined) return this.resCompression ?? undefined;
    const perCall = this.ctx.peekResponseHeader()?.getString(COMPRESS_HEADER);
    const name = perCall?.trim().toLowerCase() ?? this.comp.compression;
    let c: Compression | undefined;
    if (name !== undefined && name !== IDENTITY_ENCODING) {
      const accept = this.req.headers["grpc-accept-encoding"];
      if (accept !== undefined && parseAcceptEncoding(accept).includes(name)) c = this.comp.compressions.get(name);
    }
    this.resCompression = c ?? null;
    return c;
  }

  private sendHeaders(): void {
    if (this.res.headersSent) return;
    const headers: Record<string, string | string[]> = { "content-type": this.contentType, "grpc-accept-encoding": this.comp.accept };
    const c = this.resCompression;
    if (c) headers["grpc-encoding"] = c.name;
    const h = this.ctx.peekResponseHeader();
    if (h !== undefined) {
      if (h.has(COMPRESS_HEADER)) h.delete(COMPRESS_HEADER);
      metadataToHeaders(h, headers);
    }
    this.res.writeHead(200, headers);
  }

  protected sendMessage(message: MessageShape<DescMessage>): Promise<void> | void {
    const bytes = encodeMessage(this.codec, this.handler.method.output, message);
    this.checkSend(bytes);
    const c = this.responseCompression();
    if (c !== undefined && shouldCompress(messageCompressionHint(message), bytes.length, this.comp.minBytes)) {
      return this.sendCompressed(c, bytes);
    }
    this.sendHeaders();
    return this.writeFrame(bytes, false);
  }

  private async sendCompressed(c: Compression, bytes: Uint8Array): Promise<void> {
    let out: Uint8Array;
    try {
      out = await c.compress(bytes);
    } catch (e) {
      throw new RpcError(Code.INTERNAL, `grpc-web: cannot compress response: ${(e as Error).message}`, { cause: e });
    }
    // The call may have ended (deadline, client gone) while zlib worked.
    if (this.done || this.res.destroyed) return;
    this.sendHeaders();
    return this.writeFrame(out, true);
  }

  private writeFrame(bytes: Uint8Array, compressed: boolean): Promise<void> | void {
    const frame = frameMessage(bytes, compressed, Buffer.allocUnsafe);
    return this.write(this.text ? encodeBase64Chunk(frame) : frame);
  }

  protected finish(): void {
    this.sendHeaders();
    const t: Record<string, string | string[]> = {};
    writeGrpcStatus(Code.OK, "", [], t);
    const md = this.ctx.peekResponseTrailer();
    if (md !== undefined) metadataToHeaders(md, t);
    this.res.end(trailerFrame(t, this.text));
  }

  protected sendError(err: RpcError): void {
    this.sendHeaders();
    this.res.end(trailerFrame(errorTrailers(err, this.ctx.peekResponseTrailer()), this.text));
  }
}

function errorTrailers(err: RpcError, trailer: Metadata | undefined): Record<string, string | string[]> {
  const t: Record<string, string | string[]> = {};
  writeGrpcStatus(err.code, err.rawMessage, err.details, t);
  metadataToHeaders(err.metadata, t);
  if (trailer !== undefined) metadataToHeaders(trailer, t);
  return t;
}

/** The trailer message: flag 0x80 and `key:value\r\n` lines (a repeated key on several lines). */
export function trailerFrame(trailers: Record<string, string | string[]>, text: boolean): Buffer {
  let s = "";
  for (const k in trailers) {
    const v = trailers[k] as string | string[];
    if (typeof v === "string") s += `${k}:${v}\r\n`;
    else for (const x of v) s += `${k}:${x}\r\n`;
  }
  const frame = frameMessage(Buffer.from(s, "latin1"), false, Buffer.allocUnsafe);
  frame[0] = GRPC_WEB_TRAILER_FLAG;
  return text ? encodeBase64Chunk(frame) : frame;
}

/** Answers a call that never started: 200, headers, and the status in the trailer message. */
function earlyError(req: HttpRequest, res: HttpResponse, contentType: string, text: boolean, err: RpcError): void {
  res.writeHead(200, { "content-type": contentType });
  res.end(trailerFrame(errorTrailers(err, undefined), text));
  req.resume();
}

function plain(req: HttpRequest, res: HttpResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), ...extra });
  res.end(body);
  req.resume();
}
