// The HTTP side of the gateway, shared by the in-process gateway and the proxy: route lookup,
// request mapping, invoking through a {@link CallInvoker}, and writing JSON, NDJSON or SSE back.
import {
  createRegistry,
  toJson,
  type DescFile,
  type DescMessage,
  type DescService,
  type JsonValue,
  type JsonWriteOptions,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { Code, type Metadata, type PeerInfo, RpcError, toWireError } from "@petrel/core";
import {
  DEFAULT_MAX_BODY_BYTES,
  type HttpContentEncoding,
  type HttpContentEncodingOptions,
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
  createHttpContentEncoding,
  decodeRequestBody,
  encodeResponseBody,
  peerInfoOf,
  readBody,
  requestCodings,
  responseCoding,
} from "@petrel/node";
import { createEventWriter, createStreamEncoding, streamCoding, type EventWriter } from "./event-writer.js";
import { collectRoutes, type Route } from "./http-rules.js";
import { httpStatusFromCode, statusJson } from "./http-status.js";
import {
  DEFAULT_FORWARDED_HEADERS,
  METADATA_HEADER_PREFIX,
  TRAILER_HEADER_PREFIX,
  deadlineFromHeaders,
  headersToRequestMetadata,
  metadataToHeaders,
} from "./metadata-headers.js";
import { type OpenApiInfo, createOpenApiDocument } from "./openapi.js";
import { buildRequest, parseJsonBody } from "./request-mapping.js";
import { RouteTable } from "./route-table.js";

/** What one call produced. `header`/`trailer` may be read after the response (streams fill the trailer last). */
export type CallResult =
  | { readonly stream: false; readonly message: MessageShape<DescMessage>; header(): Metadata | undefined; trailer(): Metadata | undefined }
  | {
      readonly stream: true;
      readonly message: AsyncIterable<MessageShape<DescMessage>>;
      header(): Metadata | undefined;
      trailer(): Metadata | undefined;
    };

/** One call as the transcoder hands it to the service side. */
export interface CallSpec {
  readonly route: Route;
  readonly message: MessageShape<DescMessage>;
  readonly header: Metadata;
  readonly deadline: number | undefined;
  /** Aborted with an RpcError reason (CANCELLED on disconnect, DEADLINE_EXCEEDED). */
  readonly signal: AbortSignal;
  readonly peerAddress: string;
  /** The caller as handlers see it (TLS identity included when the request came over TLS). */
  readonly peer?: PeerInfo;
}

/** Runs a call: in-process through a router, or remotely through a Transport. Rejections may be anything. */
export type CallInvoker = (call: CallSpec) => Promise<CallResult>;

/**
 * Options shared by `createRestGateway` and `createRestProxy`. Content codings
 * (`compressions`, `compressMinBytes`, `preferredEncodings`): request bodies with
 * `Content-Encoding` are decompressed within `maxBodyBytes`; unary responses and the OpenAPI
 * document are compressed per `Accept-Encoding` from `compressMinBytes` on; NDJSON/SSE streams
 * are compressed per `Accept-Encoding` whatever their size (gzip, deflate or br only), flushed
 * after every record so each reaches the client when it is produced.
 */
export interface TranscoderOptions extends HttpContentEncodingOptions {
  /**
   * Serve the OpenAPI 3.1 document at this path (GET). Default `/openapi.json`; `false` turns it off.
   */
  openapiPath?: string | false;
  /** `info` of the OpenAPI document. Default `{title: "Petrel REST gateway", version: "1.0.0"}`. */
  openapiInfo?: OpenApiInfo;
  /** Largest request body read, in bytes, before and after decompression; bigger bodies get 413. Default 4 MiB. */
  maxBodyBytes?: number;
  /**
   * Headers forwarded as metadata under their own name (lower case). Default `["authorization", "traceparent", "tracestate"]`.
   * Headers named `grpc-metadata-<key>` are always forwarded as `<key>`.
   */
  forwardHeaders?: readonly string[];
  /** Ignore unknown JSON fields in bodies instead of answering 400. Default false (protobuf JSON rules). */
  ignoreUnknownFields?: boolean;
  /** Ignore query parameters that name no request field instead of answering 400. Default false. */
  ignoreUnknownQueryParameters?: boolean;
  /** protobuf-es JSON write options for responses (e.g. `alwaysEmitImplicit`). Default: protobuf-es defaults. */
  jsonWriteOptions?: Partial<Omit<JsonWriteOptions, "registry">>;
  /**
   * What to do with a request no route matches: `true` (default) returns false from the
   * handler, so `chainHttpHandlers` tries the next protocol; `false` answers 404 with a
   * google.rpc.Status JSON body.
   */
  passUnmatched?: boolean;
  /** Called with errors that are not RpcErrors (they reach the client as INTERNAL "internal error"). */
  onInternalError?: (error: unknown) => void;
}

/** Every file the services use, with their dependencies: the registry for Any and error details. */
function registryOf(services: readonly DescService[]): Registry {
  const files = new Set<DescFile>();
  const add = (f: DescFile): void => {
    if (files.has(f)) return;
    files.add(f);
    for (const d of f.dependencies) add(d);
  };
  for (const s of services) add(s.file);
  return createRegistry(...files);
}

const JSON_TYPE = "application/json";
const NDJSON_TYPE = "application/x-ndjson";
const SSE_TYPE = "text/event-stream";

/** @internal builds the HttpHandler both factories return. */
export function createTranscoder(services: readonly DescService[], invoke: CallInvoker, options: TranscoderOptions): HttpHandler {
  const routes = collectRoutes(services);
  const table = new RouteTable(routes);
  const registry = registryOf(services);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const forwarded = new Set((options.forwardHeaders ?? DEFAULT_FORWARDED_HEADERS).map((h) => h.toLowerCase()));
  const mapping = {
    registry,
    ignoreUnknownFields: options.ignoreUnknownFields ?? false,
    ignoreUnknownQueryParameters: options.ignoreUnknownQueryParameters ?? false,
  };
  const writeOptions: Partial<JsonWriteOptions> = { ...options.jsonWriteOptions, registry };
  const openapiPath = options.openapiPath === undefined ? "/openapi.json" : options.openapiPath;
  let openapiText: string | undefined;
  const passUnmatched = options.passUnmatched ?? true;
  const onInternal = options.onInternalError ?? (() => {});
  const enc: HttpContentEncoding = createHttpContentEncoding(options);
  const streamEnc: HttpContentEncoding = createStreamEncoding(enc);
  /** The OpenAPI document compressed per coding, made on first demand. */
  const openapiEncoded = new Map<string, Promise<Uint8Array | undefined>>();

  function sendError(res: HttpResponse, e: unknown, httpStatus?: number, extra?: Record<string, string>): void {
    if (!(e instanceof RpcError)) onInternal(e);
    const err = toWireError(e);
    if (res.headersSent || res.writableEnded) return;
    const text = JSON.stringify(statusJson(err, registry));
    const headers: Record<string, string | string[]> = { "content-type": JSON_TYPE, ...extra };
    metadataToHeaders(err.metadata, TRAILER_HEADER_PREFIX, headers);
    headers["content-length"] = String(Buffer.byteLength(text));
    res.writeHead(httpStatus ?? httpStatusFromCode(err.code), headers);
    res.end(text);
  }

  /** The JSON of one response message, or of its `response_body` field. */
  function responseJson(route: Route, message: MessageShape<DescMessage>): JsonValue {
    const field = route.responseBody;
    if (field === undefined) return toJson(route.method.output, message, writeOptions);
    if (field.fieldKind === "message") {
      const value = (message as Record<string, unknown>)[field.localName] as MessageShape<DescMessage> | undefined;
      return value === undefined ? {} : toJson(field.message, value, writeOptions);
    }
    const whole = toJson(route.method.output, message, { ...writeOptions, alwaysEmitImplicit: true }) as Record<string, JsonValue>;
    return whole[field.jsonName] ?? null;
  }

  async function serve(route: Route, bindings: Map<string, string>, query: URLSearchParams, req: HttpRequest, res: HttpResponse) {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onClose = (): void => {
      if (!res.writableFinished) ac.abort(new RpcError(Code.CANCELLED, "client closed the request"));
    };
    res.on("close", onClose);
    try {
      const headers = req.headers as Record<string, string | string[] | undefined>;
      const deadline = deadlineFromHeaders(headers);
      const md = headersToRequestMetadata(headers, forwarded);
      let body: JsonValue | undefined;
      if (route.body !== undefined) {
        const ce = req.headers["content-encoding"];
        const codings = ce === undefined ? undefined : requestCodings(enc, ce);
        if (codings?.t === "unsupported") {
          req.resume();
          // RFC 9110 §15.5.16: Accept-Encoding on a 415 names the codings a request may use.
          return sendError(res, new RpcError(Code.INVALID_ARGUMENT, codings.message), 415, { "accept-encoding": enc.accept });
        }
        let bytes: Buffer;
        try {
          bytes = await readBody(req, maxBody);
          if (codings?.t === "coded") bytes = await decodeRequestBody(bytes, codings.codings, maxBody);
        } catch (e) {
          const err = RpcError.from(e);
          return sendError(res, err, err.code === Code.RESOURCE_EXHAUSTED ? 413 : undefined);
        }
        const ct = String(req.headers["content-type"] ?? "").toLowerCase();
        if (bytes.length > 0 && ct !== "" && !/^application\/([\w.+-]*\+)?json\s*(;|$)/.test(ct)) {
          return sendError(
            res,
            new RpcError(Code.INVALID_ARGUMENT, `unsupported content-type ${JSON.stringify(ct)}; send application/json`),
            415,
          );
        }
        body = parseJsonBody(bytes);
      } else req.resume();
      const message = buildRequest(route, bindings, query, body, mapping);
      if (deadline !== undefined) {
        const ms = deadline - Date.now();
        // Longer than setTimeout can wait (~24.8 days): treated as no deadline, as grpc-js does.
        if (ms <= 0x7fff_ffff) {
          timer = setTimeout(() => ac.abort(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")), Math.max(0, ms));
        }
      }
      const peer = peerInfoOf(req.socket, "rest");
      const result = await untilAborted(
        invoke({ route, message, header: md, deadline, signal: ac.signal, peerAddress: peer.address, peer }),
        ac.signal,
      );
      if (!result.stream) {
        const text = JSON.stringify(responseJson(route, result.message));
        const out: Record<string, string | string[]> = { "content-type": JSON_TYPE };
        metadataToHeaders(result.header(), METADATA_HEADER_PREFIX, out);
        metadataToHeaders(result.trailer(), TRAILER_HEADER_PREFIX, out);
        const size = Buffer.byteLength(text);
        if (enc.enabled) out.vary = "Accept-Encoding";
        const coding = responseCoding(enc, req.headers["accept-encoding"], size);
        const zipped = coding === undefined ? undefined : await encodeResponseBody(coding, text);
        if (res.destroyed) return;
        if (zipped !== undefined) {
          out["content-encoding"] = (coding as { name: string }).name;
          out["content-length"] = String(zipped.byteLength);
          res.writeHead(200, out);
          res.end(zipped);
          return;
        }
        out["content-length"] = String(size);
        res.writeHead(200, out);
        res.end(text);
        return;
      }
      await writeStream(route, result, req, res, ac.signal);
    } catch (e) {
      sendError(res, ac.signal.aborted && !(e instanceof RpcError) ? ac.signal.reason : e);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      res.off("close", onClose);
    }
  }

  async function writeStream(
    route: Route,
    result: Extract<CallResult, { stream: true }>,
    req: HttpRequest,
    res: HttpResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const sse = String(req.headers.accept ?? "")
      .toLowerCase()
      .includes(SSE_TYPE);
    // Headers go out with the first record, so an error before it still gets its HTTP status.
    let writer: EventWriter | undefined;
    const start = (): EventWriter => {
      if (writer !== undefined) return writer;
      const out: Record<string, string | string[]> = { "content-type": sse ? SSE_TYPE : NDJSON_TYPE, "cache-control": "no-cache" };
      metadataToHeaders(result.header(), METADATA_HEADER_PREFIX, out);
      if (streamEnc.enabled) out.vary = "Accept-Encoding";
      const coding = streamCoding(streamEnc, req.headers["accept-encoding"]);
      if (coding !== undefined) out["content-encoding"] = coding.name;
      res.writeHead(200, out);
      writer = createEventWriter(res, coding?.name);
      return writer;
    };
    const it = result.message[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const r = await untilAborted(it.next(), signal);
        if (r.done) break;
        const json = JSON.stringify(responseJson(route, r.value));
        if (res.destroyed) return;
        // Resolves on close too, so a client gone while we wait ends the loop at the next check.
        await start().write(sse ? `data: ${json}\n\n` : `{"result":${json}}\n`);
      }
      finished = true;
      if (res.destroyed) return;
      start().end();
    } catch (e) {
      finished = true;
      if (writer === undefined) throw e;
      // Mid-stream: the status line is gone, so the error travels as the final record.
      if (!(e instanceof RpcError)) onInternal(e);
      const status = JSON.stringify(statusJson(toWireError(signal.aborted && !(e instanceof RpcError) ? signal.reason : e), registry));
      writer.end(sse ? `event: error\ndata: ${status}\n\n` : `{"error":${status}}\n`);
    } finally {
      if (!finished) it.return?.()?.catch(() => {});
    }
  }

  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = (req.method ?? "GET").toUpperCase();
    if (openapiPath !== false && path === openapiPath && (method === "GET" || method === "HEAD")) {
      openapiText ??= JSON.stringify(createOpenApiDocument(routes, options.openapiInfo));
      const text = openapiText;
      const coding = responseCoding(enc, req.headers["accept-encoding"], Buffer.byteLength(text));
      if (coding === undefined) {
        const headers: Record<string, string> = { "content-type": JSON_TYPE, "content-length": String(Buffer.byteLength(text)) };
        if (enc.enabled) headers.vary = "Accept-Encoding";
        res.writeHead(200, headers);
        if (method === "HEAD") res.end();
        else res.end(text);
        return true;
      }
      let zipped = openapiEncoded.get(coding.name);
      if (zipped === undefined) {
        zipped = encodeResponseBody(coding, text);
        openapiEncoded.set(coding.name, zipped);
      }
      void zipped.then((bytes) => {
        if (res.destroyed) return;
        const headers: Record<string, string> = { "content-type": JSON_TYPE, vary: "Accept-Encoding" };
        if (bytes !== undefined) headers["content-encoding"] = coding.name;
        headers["content-length"] = String(bytes === undefined ? Buffer.byteLength(text) : bytes.byteLength);
        res.writeHead(200, headers);
        if (method === "HEAD") res.end();
        else res.end(bytes ?? text);
      });
      return true;
    }
    // gRPC and gRPC-Web on the same port are never REST, whatever the templates say.
    if (String(req.headers["content-type"] ?? "").startsWith("application/grpc")) return false;
    const found = table.find(method, path);
    switch (found.t) {
      case "none":
        if (passUnmatched) return false;
        sendError(res, new RpcError(Code.NOT_FOUND, `no route for ${method} ${path}`), 404);
        req.resume();
        return true;
      case "method":
        sendError(res, new RpcError(Code.UNIMPLEMENTED, `method ${method} not allowed for ${path}`), 405, {
          allow: found.allow.join(", "),
        });
        req.resume();
        return true;
      case "badescape":
        sendError(res, new RpcError(Code.INVALID_ARGUMENT, "malformed percent-encoding in the path"), 400);
        req.resume();
        return true;
      case "found":
        serve(found.route, found.bindings, new URLSearchParams(q < 0 ? "" : url.slice(q + 1)), req, res).catch(onInternal);
        return true;
    }
  };
}

/** Rejects with the signal's reason once it aborts, whatever `p` does. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
