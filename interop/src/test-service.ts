// grpc.testing.TestService with the semantics of gRPC's interop test descriptions
// (doc/interop-test-descriptions.md in grpc/grpc): the server side of every interop case.
import { setTimeout as sleep } from "node:timers/promises";
import {
  Code,
  isCode,
  RpcError,
  setMessageCompression,
  wasCompressed,
  type HandlerContext,
  type Router,
  type ServiceImpl,
} from "@petrel/core";
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
 * Petrel's per-call response compression switch (`COMPRESS_HEADER` of @petrel/node): a response
 * header, never sent, naming the compression for this call's response messages.
 */
export const COMPRESS_HEADER = "x-petrel-compress";

/** response_compressed / ResponseParameters.compressed: sets the call's response compression. */
function applyResponseCompressed(want: BoolValue | undefined, ctx: HandlerContext): void {
  if (want === undefined) return;
  ctx.responseHeader.set(COMPRESS_HEADER, want.value ? "gzip" : "identity");
}

/** The expect_compressed probe: a request whose compressed flag is not the expected one is rejected. */
function checkExpectCompressed(expect: BoolValue | undefined, req: object): void {
  if (expect === undefined) return;
  const actual = wasCompressed(req);
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
    const res = { payload: payload(p.size, req.responseType) };
    // ResponseParameters.compressed: on a call that compresses, `false` sends this one uncompressed.
    yield p.compressed?.value === false ? setMessageCompression(res, false) : res;
  }
}

function unaryCall(req: SimpleRequest, ctx: HandlerContext) {
  echoMetadata(ctx);
  checkExpectCompressed(req.expectCompressed, req);
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
    // The call compresses if any response asks to; respond() sends the others uncompressed.
    if (req.responseParameters.some((p) => p.compressed?.value === true)) ctx.responseHeader.set(COMPRESS_HEADER, "gzip");
    yield* respond(req, req.responseParameters, ctx);
    checkEchoStatus(req.responseStatus);
  },
  async streamingInputCall(reqs, ctx) {
    echoMetadata(ctx);
    let size = 0;
    for await (const r of reqs) {
      checkExpectCompressed(r.expectCompressed, r);
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
