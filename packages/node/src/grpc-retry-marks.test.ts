// The retry marks the gRPC client sets for retry policies (gRFC A6): a stream the server refused
// (REFUSED_STREAM) was never processed; a failure after response headers is committed; a
// Trailers-Only failure is not.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { COMMITTED, Code, createClient, RpcError, UNPROCESSED } from "@petrel/core";
import { TestService } from "@petrel/testing";
import { createGrpcTransport } from "./grpc-transport.js";

/** A raw HTTP/2 server whose answer depends on the request's `x-answer` header. */
function rawServer(): http2.Http2Server {
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const answer = headers["x-answer"];
    if (answer === "refuse") {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    } else if (answer === "headers-then-fail") {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(Code.UNAVAILABLE), "grpc-message": "late failure" }));
      stream.end();
    } else {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": String(Code.UNAVAILABLE), "grpc-message": "trailers only" },
        { endStream: true },
      );
    }
  });
  return server;
}

describe("gRPC client retry marks", () => {
  let server: http2.Http2Server;
  let port: number;
  before(async () => {
    server = rawServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function failure(answer: string): Promise<RpcError> {
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    try {
      await createClient(TestService, transport).echo({ text: "x" }, { headers: { "x-answer": answer } });
    } catch (e) {
      return e as RpcError;
    } finally {
      await transport.close();
    }
    throw new Error("the call succeeded");
  }

  it("marks a refused stream UNPROCESSED", async () => {
    const err = await failure("refuse");
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.UNAVAILABLE);
    assert.equal((err as unknown as Record<symbol, unknown>)[UNPROCESSED], true);
    assert.notEqual((err as unknown as Record<symbol, unknown>)[COMMITTED], true);
  });

  it("marks a failure after response headers COMMITTED, a Trailers-Only failure not", async () => {
    const late = await failure("headers-then-fail");
    assert.equal(late.code, Code.UNAVAILABLE);
    assert.equal(late.rawMessage, "late failure");
    assert.equal((late as unknown as Record<symbol, unknown>)[COMMITTED], true);
    const early = await failure("trailers-only");
    assert.equal(early.rawMessage, "trailers only");
    assert.notEqual((early as unknown as Record<symbol, unknown>)[COMMITTED], true);
    assert.notEqual((early as unknown as Record<symbol, unknown>)[UNPROCESSED], true);
  });
});
