// grpc.testing.TestService with the semantics of gRPC's interop test descriptions
// (doc/interop-test-descriptions.md in grpc/grpc): the server side of every interop case.
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, isCode, RpcError, type HandlerContext, type Router, type ServiceImpl } from "@petrel/core";
import type { Empty } from "./gen/grpc/testing/empty_pb.js";
import {
  type BoolValue,
  type EchoStatus,
  type Payload,
  PayloadType,
  type ResponseParameters,
  type SimpleRequest,
  type StreamingOutputCallRequest,
} from "./gen/grpc/testing/messages_pb.js";
import { TestService } from "./gen/grpc/testing/test_pb.js";

/** Request header echoed back as a response header. */
export const ECHO_INITIAL_KEY = "x-grpc-test-echo-initial";
/** Request header echoed back as a response trailer. */
export const ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin";

/**
 * Request header carrying the call's `grpc-encoding`, put there by {@link observeRequestCompression}:
 * Petrel's gRPC server keeps every `grpc-*` header out of the handler's metadata.
 */
export const REQUEST_ENCODING_KEY = "x-petrel-interop-request-encoding";
/** Request header with the call id under which {@link observeRequestCompression} records message flags. */
export const CALL_ID_KEY = "x-petrel-interop-call-id";

/** call id -> the compressed flag of each request message seen so far, in order. */
const messageFlags = new Map<string, boolean[]>();
let lastCallId = 0;

/**
 * Petrel's gRPC server tells a handler nothing about request compression, so the interop server
 * watches the wire itself: a "stream" listener that runs before Petrel's (and gets the same
 * headers object) copies `grpc-encoding` into {@link REQUEST_ENCODING_KEY}, tags the call with
 * {@link CALL_ID_KEY}, and reads the 5-byte gRPC message prefixes of the request body to record
 * each message's compressed flag. Its "data" listener is added first, so a message's flag is
 * recorded before Petrel decodes that message. Client-sent copies of both headers are dropped.
 */
export function observeRequestCompression(server: Http2Server): void {
  server.prependListener("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    delete headers[REQUEST_ENCODING_KEY];
    delete headers[CALL_ID_KEY];
    const enc = headers["grpc-encoding"];
    headers[REQUEST_ENCODING_KEY] = typeof enc === "string" ? enc.trim().toLowerCase() : "identity";
    const id = String(++lastCallId);
    headers[CALL_ID_KEY] = id;
    const flags: boolean[] = [];
    messageFlags.set(id, flags);
    const prefix = new Uint8Array(5);
    let have = 0; // prefix bytes collected
    let skip = 0; // message body bytes still to pass over
    stream.on("data", (chunk: Buffer) => {
      let i = 0;
      while (i < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - i);
          skip -= n;
          i += n;
          continue;
        }
        prefix[have++] = chunk[i++];
        if (have === 5) {
          flags.push((prefix[0] & 1) === 1);
          skip = new DataView(prefix.buffer).getUint32(1);
          have = 0;
        }
      }
    });
    stream.once("close", () => messageFlags.delete(id));
  });
}

/**
 * Petrel's per-call response compression switch (`COMPRESS_HEADER` of @petrel/node): a response
 * header, never sent, naming the compression for this call's response messages.
 */
export const COMPRESS_HEADER = "x-petrel-compress";

/**
 * Whether request message number `index` (0-based) of this call arrived compressed, as far as the
 * handler can tell: `true`/`false` when known, `undefined` when not.
 *
 * Order: a boolean `requestCompressed` on the context (should Petrel's server ever offer one);
 * else the flags recorded by {@link observeRequestCompression}; else the call's `grpc-encoding`
 * (not identity: compressed); else unknown.
 */
export function requestCompressed(ctx: HandlerContext, index = 0): boolean | undefined {
  const hint = (ctx as unknown as { requestCompressed?: unknown }).requestCompressed;
  if (typeof hint === "boolean") return hint;
  const id = ctx.requestHeader.getString(CALL_ID_KEY);
  const flag = id === undefined ? undefined : messageFlags.get(id)?.[index];
  if (flag !== undefined) return flag;
  const encoding = ctx.requestHeader.getString(REQUEST_ENCODING_KEY);
  if (encoding === undefined) return undefined;
  return encoding !== "" && encoding !== "identity";
}

/** response_compressed / ResponseParameters.compressed: sets the call's response compression. */
function applyResponseCompressed(want: BoolValue | undefined, ctx: HandlerContext): void {
  if (want === undefined) return;
  ctx.responseHeader.set(COMPRESS_HEADER, want.value ? "gzip" : "identity");
}

/** The expect_compressed probe: a request that says it is compressed but was not is rejected. */
function checkExpectCompressed(expect: BoolValue | undefined, ctx: HandlerContext, index = 0): void {
  if (expect === undefined) return;
  const actual = requestCompressed(ctx, index);
  if (actual === undefined) return; // cannot tell: accept
  if (expect.value && !actual) throw new RpcError(Code.INVALID_ARGUMENT, "expected compressed request, got an uncompressed one");
  if (!expect.value && actual) throw new RpcError(Code.INVALID_ARGUMENT, "expected uncompressed request, got a compressed one");
}

function echoMetadata(ctx: HandlerContext): void {
  const initial = ctx.requestHeader.get(ECHO_INITIAL_KEY);
  if (initial !== undefined) ctx.responseHeader.set(ECHO_INITIAL_KEY, initial);
  const trailing = ctx.requestHeader.get(ECHO_TRAILING_KEY);
  if (trailing !== undefined) ctx.responseTrailer.set(ECHO_TRAILING_KEY, trailing);
}

function checkEchoStatus(status: EchoStatus | undefined): void {
  if (status === undefined || status.code === 0) return;
  throw new RpcError(isCode(status.code) ? status.code : Code.UNKNOWN, status.message);
}

function payload(size: number, type: PayloadType = PayloadType.COMPRESSABLE): Payload {
  if (size < 0) throw new RpcError(Code.INVALID_ARGUMENT, `negative payload size ${size}`);
  return { $typeName: "grpc.testing.Payload", type, body: new Uint8Array(size) };
}

async function wait(intervalUs: number, signal: AbortSignal): Promise<void> {
  if (intervalUs <= 0) return;
  await sleep(Math.ceil(intervalUs / 1000), undefined, { signal });
}

async function* respond(
  req: StreamingOutputCallRequest,
  params: ResponseParameters[],
  ctx: HandlerContext,
): AsyncGenerator<{ payload: Payload }> {
  for (const p of params) {
    await wait(p.intervalUs, ctx.signal);
    yield { payload: payload(p.size, req.responseType) };
  }
}

function unaryCall(req: SimpleRequest, ctx: HandlerContext) {
  echoMetadata(ctx);
  checkExpectCompressed(req.expectCompressed, ctx);
  applyResponseCompressed(req.responseCompressed, ctx);
  checkEchoStatus(req.responseStatus);
  return { payload: payload(req.responseSize, req.responseType) };
}

/** The TestService implementation. UnimplementedCall answers UNIMPLEMENTED. */
export const testServiceImpl: ServiceImpl<typeof TestService> = {
  emptyCall(_req: Empty) {
    return {};
  },
  unaryCall,
  cacheableUnaryCall: unaryCall,
  async *streamingOutputCall(req, ctx) {
    echoMetadata(ctx);
    // Petrel compresses per call, not per message: the first response's wish decides.
    applyResponseCompressed(req.responseParameters[0]?.compressed, ctx);
    yield* respond(req, req.responseParameters, ctx);
    checkEchoStatus(req.responseStatus);
  },
  async streamingInputCall(reqs, ctx) {
    echoMetadata(ctx);
    let size = 0;
    let index = 0;
    for await (const r of reqs) {
      checkExpectCompressed(r.expectCompressed, ctx, index++);
      size += r.payload?.body.length ?? 0;
    }
    return { aggregatedPayloadSize: size };
  },
  async *fullDuplexCall(reqs, ctx) {
    echoMetadata(ctx);
    for await (const r of reqs) {
      checkEchoStatus(r.responseStatus);
      yield* respond(r, r.responseParameters, ctx);
    }
  },
  async *halfDuplexCall(reqs, ctx) {
    echoMetadata(ctx);
    const all: StreamingOutputCallRequest[] = [];
    for await (const r of reqs) all.push(r);
    for (const r of all) {
      checkEchoStatus(r.responseStatus);
      yield* respond(r, r.responseParameters, ctx);
    }
  },
  unimplementedCall() {
    throw new RpcError(Code.UNIMPLEMENTED, "grpc.testing.TestService/UnimplementedCall is not implemented");
  },
};

/** Registers TestService on a router (UnimplementedService stays unregistered). */
export function registerTestService(router: Router): Router {
  return router.service(TestService, testServiceImpl);
}

/**
 * Copies each call's `grpc-encoding` into a request header the handler can read (Petrel's server
 * keeps `grpc-*` headers out of handler metadata), for the expect_compressed probe. Runs before
 * Petrel's own "stream" listener, which gets the same headers object. A client-sent copy of the
 * header is dropped, so it cannot be spoofed.
 */
