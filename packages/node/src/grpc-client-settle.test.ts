/**
 * The gRPC client settles a call as soon as the server's status and the end of the response have
 * arrived, even while its own request stream is still open (as grpc-js and grpc-go do): it then
 * stops pumping requests (the request iterator is returned) and resets the HTTP/2 stream.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { it } from "node:test";
import { Code, RpcError, createClient, createRouter, type ServiceImpl } from "@petrel/core";
import { TestService, createTestServiceImpl, eventually } from "@petrel/testing";
import { createGrpcServer, createGrpcTransport } from "./index.js";

/**
 * A request stream that sends one message, then waits for `release()` (called in cleanup), sends
 * a second one and then never ends on its own: only `return()` runs its `finally`.
 */
function pendingRequests(): {
  requests: AsyncIterable<{ text: string }>;
  release(): void;
  state: { released: boolean; finallyRan: boolean };
} {
  const state = { released: false, finallyRan: false };
  let release = (): void => {};
  const released = new Promise<void>((resolve) => {
    release = () => {
      state.released = true;
      resolve();
    };
  });
  async function* gen(): AsyncGenerator<{ text: string }> {
    try {
      yield { text: "first" };
      await released;
      yield { text: "second" };
      await new Promise<void>(() => {});
    } finally {
      state.finallyRan = true;
    }
  }
  return { requests: gen(), release, state };
}

/** Records the first error of a promise without awaiting it. */
function observe(p: Promise<unknown>): { error: unknown; done: boolean } {
  const seen: { error: unknown; done: boolean } = { error: undefined, done: false };
  p.then(
    () => {
      seen.done = true;
    },
    (e: unknown) => {
      seen.error = e;
      seen.done = true;
    },
  );
  return seen;
}

async function drain(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const m of it) out.push(m);
  return out;
}

async function withPetrelServer(fn: (port: number) => Promise<void>): Promise<void> {
  const impl: ServiceImpl<typeof TestService> = {
    ...createTestServiceImpl(),
    async *bidi(reqs) {
      for await (const r of reqs) {
        if (r.text === "first") throw new RpcError(Code.FAILED_PRECONDITION, "bidi stops after the first request");
        yield { text: r.text };
      }
    },
    async clientStream(reqs) {
      for await (const _ of reqs) throw new RpcError(Code.OUT_OF_RANGE, "client stream stops after the first request");
      return { text: "", count: 0 };
    },
  };
  const server = createGrpcServer({ router: createRouter().service(TestService, impl) });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  try {
    await fn(port);
  } finally {
    await server.close({ graceMs: 2000 });
  }
}

for (const kind of ["bidi", "clientStream"] as const) {
  it(`${kind}: a status from a Petrel server reaches the client while its request stream is still open`, async () => {
    await withPetrelServer(async (port) => {
      const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
      const { requests, release, state } = pendingRequests();
      try {
        const client = createClient(TestService, transport);
        const seen = observe(kind === "bidi" ? drain(client.bidi(requests)) : client.clientStream(requests));
        await eventually(() => seen.done, 10_000, "the call to fail");
        assert.equal(state.released, false, "the status arrived while the request iterator was still pending");
        assert.ok(seen.error instanceof RpcError, `expected an RpcError, got ${String(seen.error)}`);
        const want = kind === "bidi" ? Code.FAILED_PRECONDITION : Code.OUT_OF_RANGE;
        assert.equal(seen.error.code, want, seen.error.message);
        assert.match(seen.error.message, /stops after the first request/);
      } finally {
        release();
        await eventually(() => state.finallyRan, 10_000, "the request iterator's finally");
        await transport.close();
      }
    });
  });
}

/** A raw node:http2 gRPC server that answers every call at once, never reading the request. */
async function withEarlyServer(
  answer: (stream: http2.ServerHttp2Stream) => void,
  fn: (port: number, serverStreamsClosed: () => number) => Promise<void>,
): Promise<void> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  let closed = 0;
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    stream.on("close", () => closed++);
    answer(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await fn(port, () => closed);
  } finally {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const ONE_MESSAGE = new Uint8Array([0, 0, 0, 0, 7, 0x0a, 0x05, 0x65, 0x61, 0x72, 0x6c, 0x79]); // EchoResponse{text:"early"}

it("raw server: a message and trailers sent before the request ends are delivered, then the call settles", async () => {
  await withEarlyServer(
    (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () =>
        stream.sendTrailers({ "grpc-status": String(Code.PERMISSION_DENIED), "grpc-message": "early trailers", "x-t": "1" }),
      );
      stream.end(ONE_MESSAGE);
    },
    async (port, serverStreamsClosed) => {
      const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
      const { requests, release, state } = pendingRequests();
      try {
        const client = createClient(TestService, transport);
        const got: string[] = [];
        const seen = observe(
          (async () => {
            for await (const m of client.bidi(requests)) got.push(m.text);
          })(),
        );
        await eventually(() => seen.done, 10_000, "the call to fail");
        assert.equal(state.released, false, "the status arrived while the request iterator was still pending");
        assert.deepEqual(got, ["early"]);
        assert.ok(seen.error instanceof RpcError, `expected an RpcError, got ${String(seen.error)}`);
        assert.equal(seen.error.code, Code.PERMISSION_DENIED);
        assert.equal(seen.error.rawMessage, "early trailers");
        assert.equal(seen.error.metadata.get("x-t"), "1");
        // The client resets its half of the stream instead of leaving it open.
        await eventually(() => serverStreamsClosed() === 1, 10_000, "the server's stream to close");
      } finally {
        release();
        await eventually(() => state.finallyRan, 10_000, "the request iterator's finally");
        await transport.close();
      }
    },
  );
});

it("raw server: a Trailers-Only response before the request ends rejects the call at once", async () => {
  await withEarlyServer(
    (stream) => {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": String(Code.ABORTED), "grpc-message": "no" },
        {
          endStream: true,
        },
      );
    },
    async (port, serverStreamsClosed) => {
      const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
      const { requests, release, state } = pendingRequests();
      try {
        const client = createClient(TestService, transport);
        const seen = observe(client.clientStream(requests));
        await eventually(() => seen.done, 10_000, "the call to fail");
        assert.equal(state.released, false, "the status arrived while the request iterator was still pending");
        assert.ok(seen.error instanceof RpcError, `expected an RpcError, got ${String(seen.error)}`);
        assert.equal(seen.error.code, Code.ABORTED);
        assert.equal(seen.error.rawMessage, "no");
        await eventually(() => serverStreamsClosed() === 1, 10_000, "the server's stream to close");
      } finally {
        release();
        await eventually(() => state.finallyRan, 10_000, "the request iterator's finally");
        await transport.close();
      }
    },
  );
});

it("raw server: an OK status before the request ends completes a bidi call without error", async () => {
  await withEarlyServer(
    (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(ONE_MESSAGE);
    },
    async (port) => {
      const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
      const { requests, release, state } = pendingRequests();
      try {
        const client = createClient(TestService, transport);
        const got = await drain(client.bidi(requests));
        assert.equal(state.released, false, "the call completed while the request iterator was still pending");
        assert.deepEqual(
          got.map((m) => (m as { text: string }).text),
          ["early"],
        );
      } finally {
        release();
        await eventually(() => state.finallyRan, 10_000, "the request iterator's finally");
        await transport.close();
      }
    },
  );
});
