// The client side of gRPC's interop test cases (doc/interop-test-descriptions.md in grpc/grpc),
// written against Petrel's typed client. Each case throws on failure.
import assert from "node:assert/strict";
import {
  Code,
  codeName,
  createClient,
  type Client,
  type Metadata,
  RpcError,
  setMessageCompression,
  type Transport,
  wasCompressed,
} from "@petrel/core";
import { type Payload, PayloadType } from "./gen/grpc/testing/messages_pb.js";
import { TestService, UnimplementedService } from "./gen/grpc/testing/test_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StreamingInputCallRequestSchema, StreamingOutputCallRequestSchema } from "./gen/grpc/testing/messages_pb.js";
import { ECHO_INITIAL_KEY, ECHO_TRAILING_KEY } from "./test-service.js";

/** A case the Petrel client cannot run yet (exit code 3 from the CLI, "not yet" in the matrix). */
export class UnsupportedCaseError extends Error {
  override readonly name = "UnsupportedCaseError";
}

export interface CaseEnv {
  readonly transport: Transport;
}

type OutReq = MessageInitShape<typeof StreamingOutputCallRequestSchema>;

function zeros(size: number) {
  return { type: PayloadType.COMPRESSABLE, body: new Uint8Array(size) };
}

function assertPayload(p: Payload | undefined, size: number, what: string): void {
  assert.ok(p !== undefined, `${what}: response has no payload`);
  assert.equal(p.type, PayloadType.COMPRESSABLE, `${what}: payload type`);
  assert.equal(p.body.length, size, `${what}: payload size`);
  assert.ok(
    p.body.every((b) => b === 0),
    `${what}: payload body is not all zeros`,
  );
}

async function expectCode(p: Promise<unknown>, code: Code, message?: string): Promise<RpcError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected status ${codeName(code)}, the call succeeded`);
  assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
  assert.equal(err.code, code, `expected status ${codeName(code)}, got ${codeName(err.code)}: ${err.rawMessage}`);
  if (message !== undefined) assert.equal(err.rawMessage, message, "status message");
  return err;
}

/** A request stream the test pushes into; `end()` half-closes, an abort of `signal` ends it too. */
class Pusher<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(signal?: AbortSignal) {
    signal?.addEventListener("abort", () => this.end(), { once: true });
  }

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

function testClient(env: CaseEnv): Client<typeof TestService> {
  return createClient(TestService, env.transport);
}

const REQUEST_SIZES = [27182, 8, 1828, 45904];
const RESPONSE_SIZES = [31415, 9, 2653, 58979];

async function emptyUnary(env: CaseEnv): Promise<void> {
  const res = await testClient(env).emptyCall({});
  assert.equal(res.$typeName, "grpc.testing.Empty");
}

async function largeUnary(env: CaseEnv): Promise<void> {
  const res = await testClient(env).unaryCall({ responseType: PayloadType.COMPRESSABLE, responseSize: 314159, payload: zeros(271828) });
  assertPayload(res.payload, 314159, "large_unary");
}

async function clientStreaming(env: CaseEnv): Promise<void> {
  const res = await testClient(env).streamingInputCall(fromArray(REQUEST_SIZES.map((s) => ({ payload: zeros(s) }))));
  assert.equal(res.aggregatedPayloadSize, 74922, "aggregated_payload_size");
}

async function serverStreaming(env: CaseEnv): Promise<void> {
  const sizes: number[] = [];
  const stream = testClient(env).streamingOutputCall({
    responseType: PayloadType.COMPRESSABLE,
    responseParameters: RESPONSE_SIZES.map((size) => ({ size })),
  });
  for await (const r of stream) {
    assertPayload(r.payload, RESPONSE_SIZES[sizes.length] ?? -1, `server_streaming response ${sizes.length}`);
    sizes.push(r.payload?.body.length ?? -1);
  }
  assert.deepEqual(sizes, RESPONSE_SIZES, "response sizes");
}

async function pingPong(env: CaseEnv): Promise<void> {
  const input = new Pusher<OutReq>();
  const it = testClient(env).fullDuplexCall(input)[Symbol.asyncIterator]();
  try {
    for (let i = 0; i < REQUEST_SIZES.length; i++) {
      input.push({
        responseType: PayloadType.COMPRESSABLE,
        responseParameters: [{ size: RESPONSE_SIZES[i] }],
        payload: zeros(REQUEST_SIZES[i]),
      });
      const r = await it.next();
      assert.ok(!r.done, `ping_pong: stream ended before response ${i}`);
      assertPayload(r.value.payload, RESPONSE_SIZES[i], `ping_pong response ${i}`);
    }
    input.end();
    const last = await it.next();
    assert.ok(last.done, "ping_pong: more responses than requests");
  } finally {
    input.end();
    await it.return?.();
  }
}

async function emptyStream(env: CaseEnv): Promise<void> {
  let n = 0;
  for await (const _ of testClient(env).fullDuplexCall(fromArray<OutReq>([]))) n++;
  assert.equal(n, 0, "empty_stream: got responses");
}

async function timeoutOnSleepingServer(env: CaseEnv): Promise<void> {
  const ac = new AbortController();
  const input = new Pusher<OutReq>(ac.signal);
  input.push({ payload: zeros(27182) });
  try {
    await expectCode(
      (async () => {
        for await (const _ of testClient(env).fullDuplexCall(input, { timeoutMs: 1 })) {
          // the server sends nothing for a request without response_parameters
        }
      })(),
      Code.DEADLINE_EXCEEDED,
    );
  } finally {
    ac.abort();
  }
}

async function cancelAfterBegin(env: CaseEnv): Promise<void> {
  const ac = new AbortController();
  const input = new Pusher<MessageInitShape<typeof StreamingInputCallRequestSchema>>(ac.signal);
  const call = testClient(env).streamingInputCall(input, { signal: ac.signal });
  // Let the call start (headers out) before cancelling it; no request message is ever sent.
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await expectCode(call, Code.CANCELLED);
}

async function cancelAfterFirstResponse(env: CaseEnv): Promise<void> {
  const ac = new AbortController();
  const input = new Pusher<OutReq>(ac.signal);
  const it = testClient(env).fullDuplexCall(input, { signal: ac.signal })[Symbol.asyncIterator]();
  input.push({ responseType: PayloadType.COMPRESSABLE, responseParameters: [{ size: 31415 }], payload: zeros(27182) });
  const first = await it.next();
  assert.ok(!first.done, "cancel_after_first_response: no first response");
  assertPayload(first.value.payload, 31415, "cancel_after_first_response");
  ac.abort();
  await expectCode(it.next(), Code.CANCELLED);
}

async function statusWith(env: CaseEnv, message: string): Promise<void> {
  const responseStatus = { code: 2, message };
  const client = testClient(env);
  await expectCode(client.unaryCall({ responseStatus }), Code.UNKNOWN, message);
  await expectCode(
    (async () => {
      for await (const _ of client.fullDuplexCall(fromArray<OutReq>([{ responseStatus }]))) {
        // no responses expected
      }
    })(),
    Code.UNKNOWN,
    message,
  );
}

async function statusCodeAndMessage(env: CaseEnv): Promise<void> {
  await statusWith(env, "test status message");
}

async function specialStatusMessage(env: CaseEnv): Promise<void> {
  const message = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1f608}\t\n";
  await expectCode(testClient(env).unaryCall({ responseStatus: { code: 2, message } }), Code.UNKNOWN, message);
}

async function customMetadata(env: CaseEnv): Promise<void> {
  const initial = "test_initial_metadata_value";
  const trailing = new Uint8Array([0xab, 0xab, 0xab]);
  const headers = { [ECHO_INITIAL_KEY]: initial, [ECHO_TRAILING_KEY]: trailing };
  const check = (what: string, header: Metadata | undefined, trailer: Metadata | undefined) => {
    assert.ok(header !== undefined, `${what}: no response header`);
    assert.ok(trailer !== undefined, `${what}: no response trailer`);
    assert.equal(header.getString(ECHO_INITIAL_KEY), initial, `${what}: echoed initial metadata`);
    const t = trailer.get(ECHO_TRAILING_KEY);
    assert.ok(t instanceof Uint8Array, `${what}: echoed trailing metadata missing or not binary`);
    assert.deepEqual([...t], [...trailing], `${what}: echoed trailing metadata`);
  };
  const client = testClient(env);
  let header: Metadata | undefined;
  let trailer: Metadata | undefined;
  const res = await client.unaryCall(
    { responseType: PayloadType.COMPRESSABLE, responseSize: 314159, payload: zeros(271828) },
    { headers, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
  );
  assertPayload(res.payload, 314159, "custom_metadata unary");
  check("custom_metadata unary", header, trailer);

  header = undefined;
  trailer = undefined;
  const req: OutReq = { responseType: PayloadType.COMPRESSABLE, responseParameters: [{ size: 314159 }], payload: zeros(271828) };
  let n = 0;
  for await (const r of client.fullDuplexCall(fromArray([req]), {
    headers,
    onHeader: (h) => (header = h),
    onTrailer: (t) => (trailer = t),
  })) {
    assertPayload(r.payload, 314159, "custom_metadata full duplex");
    n++;
  }
  assert.equal(n, 1, "custom_metadata full duplex: response count");
  check("custom_metadata full duplex", header, trailer);
}

async function unimplementedMethod(env: CaseEnv): Promise<void> {
  await expectCode(testClient(env).unimplementedCall({}), Code.UNIMPLEMENTED);
}

async function unimplementedService(env: CaseEnv): Promise<void> {
  await expectCode(createClient(UnimplementedService, env.transport).unimplementedCall({}), Code.UNIMPLEMENTED);
}

/** Petrel's per-call request compression switch (a request header the transport consumes). */
const COMPRESS = "x-petrel-compress";

async function clientCompressedUnary(env: CaseEnv): Promise<void> {
  const client = testClient(env);
  const req = { responseType: PayloadType.COMPRESSABLE, responseSize: 314159, payload: zeros(271828) };
  // Probe: an uncompressed message that claims to be compressed must be rejected.
  await expectCode(
    client.unaryCall({ ...req, expectCompressed: { value: true } }, { headers: { [COMPRESS]: "identity" } }),
    Code.INVALID_ARGUMENT,
  );
  const compressed = await client.unaryCall({ ...req, expectCompressed: { value: true } }, { headers: { [COMPRESS]: "gzip" } });
  assertPayload(compressed.payload, 314159, "client_compressed_unary compressed");
  const plain = await client.unaryCall({ ...req, expectCompressed: { value: false } }, { headers: { [COMPRESS]: "identity" } });
  assertPayload(plain.payload, 314159, "client_compressed_unary uncompressed");
}

async function clientCompressedStreaming(env: CaseEnv): Promise<void> {
  const client = testClient(env);
  await expectCode(
    client.streamingInputCall(fromArray([{ payload: zeros(27182), expectCompressed: { value: true } }]), {
      headers: { [COMPRESS]: "identity" },
    }),
    Code.INVALID_ARGUMENT,
  );
  // A compressed then an uncompressed message in one gzip call.
  const res = await client.streamingInputCall(
    fromArray([
      { payload: zeros(27182), expectCompressed: { value: true } },
      setMessageCompression({ payload: zeros(45904), expectCompressed: { value: false } }, false),
    ]),
    { headers: { [COMPRESS]: "gzip" } },
  );
  assert.equal(res.aggregatedPayloadSize, 73086, "client_compressed_streaming: aggregated payload size");
}

async function serverCompressedUnary(env: CaseEnv): Promise<void> {
  const client = testClient(env);
  for (const value of [true, false]) {
    const res = await client.unaryCall({ responseType: PayloadType.COMPRESSABLE, responseSize: 314159, responseCompressed: { value } });
    assertPayload(res.payload, 314159, `server_compressed_unary (response_compressed=${value})`);
    assert.equal(wasCompressed(res), value, `server_compressed_unary: response compressed flag (response_compressed=${value})`);
  }
}

async function serverCompressedStreaming(env: CaseEnv): Promise<void> {
  const sizes: number[] = [];
  const flags: boolean[] = [];
  for await (const r of testClient(env).streamingOutputCall({
    responseType: PayloadType.COMPRESSABLE,
    responseParameters: [
      { size: 31415, compressed: { value: true } },
      { size: 92653, compressed: { value: false } },
    ],
  })) {
    sizes.push(r.payload?.body.length ?? -1);
    flags.push(wasCompressed(r));
  }
  assert.deepEqual(sizes, [31415, 92653], "server_compressed_streaming: response sizes");
  assert.deepEqual(flags, [true, false], "server_compressed_streaming: compressed flags");
}

/** Every interop case by its official name. */
export const cases: Record<string, (env: CaseEnv) => Promise<void>> = {
  empty_unary: emptyUnary,
  large_unary: largeUnary,
  client_streaming: clientStreaming,
  server_streaming: serverStreaming,
  ping_pong: pingPong,
  empty_stream: emptyStream,
  timeout_on_sleeping_server: timeoutOnSleepingServer,
  cancel_after_begin: cancelAfterBegin,
  cancel_after_first_response: cancelAfterFirstResponse,
  status_code_and_message: statusCodeAndMessage,
  special_status_message: specialStatusMessage,
  custom_metadata: customMetadata,
  unimplemented_method: unimplementedMethod,
  unimplemented_service: unimplementedService,
  client_compressed_unary: clientCompressedUnary,
  server_compressed_unary: serverCompressedUnary,
  client_compressed_streaming: clientCompressedStreaming,
  server_compressed_streaming: serverCompressedStreaming,
};

/** The cases that need message compression. */
export const compressionCases = [
  "client_compressed_unary",
  "server_compressed_unary",
  "client_compressed_streaming",
  "server_compressed_streaming",
];
