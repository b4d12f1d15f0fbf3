// Compressed NDJSON and SSE streams of the REST gateway: negotiation, per-record flushing (proven
// by a handler that waits for the client to have decoded record 1), errors mid-stream, client
// disconnects, backpressure of the compressing writer, and curl --compressed -N.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { PassThrough, type Readable } from "node:stream";
import * as zlib from "node:zlib";
import { create, type JsonValue, toJson } from "@bufbuild/protobuf";
import { Code, RpcError, createRouter } from "@petrel/core";
import { createCompressionRegistry } from "@petrel/protocol-grpc";
import { createEventWriter, type EventWriter } from "./event-writer.js";
import { BookEventSchema, LibraryService } from "./gen/petrel/gateway/testing/v1/library_pb.js";
import { createLibraryImpl } from "./library-fixture.js";
import { createRestGateway, type RestGatewayOptions } from "./rest-gateway.js";
import { close, listen } from "./test-http.js";

/** Generous guard for waits that only a bug makes long (CI boxes are slow, so no tight bounds). */
const GUARD_MS = 20_000;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Waits for `p`, failing with `message` after {@link GUARD_MS}; the timer never outlives the wait. */
async function guarded<T>(p: Promise<T>, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (waited ${GUARD_MS / 1000} s)`)), GUARD_MS);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a watch on shelf `shelves/<key>` produced, and the test's hold on it. */
interface Watch {
  /** The handler waits for this after yielding record 1. */
  release: Deferred<void>;
  /** Resolved with the abort reason when the handler's signal fires. */
  aborted: Deferred<unknown>;
  /** JSON of every event yielded, in order. */
  produced: JsonValue[];
}

const watches = new Map<string, Watch>();
let seq = 0;

function newWatch(): { key: string; watch: Watch } {
  const key = `w${++seq}`;
  const watch: Watch = { release: deferred(), aborted: deferred(), produced: [] };
  watches.set(`shelves/${key}`, watch);
  return { key, watch };
}

function router() {
  const impl = createLibraryImpl();
  impl.watchBooks = async function* (req, ctx) {
    const watch = watches.get(req.parent);
    const aborted = new Promise<void>((resolve) =>
      ctx.signal.addEventListener(
        "abort",
        () => {
          watch?.aborted.resolve(ctx.signal.reason);
          resolve();
        },
        { once: true },
      ),
    );
    for (let i = 1; i <= req.count; i++) {
      // Repetitive titles, so a missing or broken compression would show in the sizes too.
      const event = create(BookEventSchema, { seq: i, book: { name: `${req.parent}/books/b${i}`, title: `Book ${i} `.repeat(20) } });
      watch?.produced.push(toJson(BookEventSchema, event));
      yield event;
      if (i === 1 && watch !== undefined) await Promise.race([watch.release.promise, aborted]);
      if (ctx.signal.aborted) return;
    }
    if (req.failCode > 0) throw new RpcError(req.failCode as Code, "watch failed on purpose");
  };
  return createRouter().service(LibraryService, impl);
}

function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | PassThrough {
  switch (encoding) {
    case undefined:
      return new PassThrough();
    case "gzip":
      return zlib.createGunzip();
    case "deflate":
      return zlib.createInflate();
    case "br":
      return zlib.createBrotliDecompress();
    default:
      throw new Error(`unexpected content-encoding ${encoding}`);
  }
}

/** A streaming response read record by record through a streaming decompressor. */
interface RecordStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The next NDJSON line or SSE event (without its terminator); undefined at the end. */
  next(): Promise<string | undefined>;
  /** Every record left. */
  rest(): Promise<string[]>;
  /** Drops the connection. */
  destroy(): void;
}

function open(server: http.Server, path: string, headers: Record<string, string>): Promise<RecordStream> {
  const { port } = server.address() as AddressInfo;
  const sep = (headers.accept ?? "").includes("text/event-stream") ? "\n\n" : "\n";
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      const decoder = decoderFor(res.headers["content-encoding"]);
      res.on("error", () => {});
      res.pipe(decoder);
      decoder.setEncoding("utf8");
      const chunks = (decoder as Readable)[Symbol.asyncIterator]() as AsyncIterator<string>;
      let buf = "";
      const next = async (): Promise<string | undefined> => {
        for (;;) {
          const at = buf.indexOf(sep);
          if (at >= 0) {
            const record = buf.slice(0, at);
            buf = buf.slice(at + sep.length);
            return record;
          }
          const r = await chunks.next();
          if (r.done) {
            if (buf !== "") throw new Error(`stream ended inside a record: ${JSON.stringify(buf)}`);
            return undefined;
          }
          buf += r.value;
        }
      };
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        next,
        async rest() {
          const out: string[] = [];
          for (let r = await next(); r !== undefined; r = await next()) out.push(r);
          return out;
        },
        destroy() {
          req.destroy();
          decoder.destroy();
        },
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** The `result` JSON of an NDJSON line or the data of an SSE event. */
function resultOf(record: string, sse: boolean): JsonValue {
  if (sse) {
    assert.ok(record.startsWith("data: "), record);
    return JSON.parse(record.slice("data: ".length)) as JsonValue;
  }
  return (JSON.parse(record) as { result: JsonValue }).result;
}

const FORMATS = [
  { name: "NDJSON", sse: false, headers: {} as Record<string, string> },
  { name: "SSE", sse: true, headers: { accept: "text/event-stream" } as Record<string, string> },
];

describe("REST gateway: compressed streams", () => {
  let server: http.Server;
  before(async () => {
    server = await listen(createRestGateway({ router: router() }) as http.RequestListener);
  });
  after(() => close(server));

  for (const coding of ["gzip", "deflate", "br"]) {
    for (const format of FORMATS) {
      test(`${coding} ${format.name}: each record is flushed on its own and the stream decodes to exactly what was produced`, async () => {
        const { key, watch } = newWatch();
        const s = await open(server, `/v1/shelves/${key}/books:watch?count=5`, { ...format.headers, "accept-encoding": coding });
        assert.equal(s.status, 200);
        assert.equal(s.headers["content-encoding"], coding);
        assert.equal(s.headers.vary, "Accept-Encoding");
        assert.equal(s.headers["content-type"], format.sse ? "text/event-stream" : "application/x-ndjson");
        // The handler yields record 1 and then waits for us: if the server held record 1 in the
        // compressor's buffers, it would never arrive and this wait would fail.
        const first = await guarded(
          s.next(),
          `record 1 of a ${coding} ${format.name} stream never arrived while the handler waited: the compressor is not flushed per record`,
        );
        assert.equal(watch.produced.length, 1, "the handler is still waiting after record 1");
        assert.deepEqual(resultOf(first ?? "", format.sse), watch.produced[0]);
        watch.release.resolve();
        const rest = await guarded(s.rest(), "the rest of the stream never arrived");
        assert.deepEqual(
          [first, ...rest].map((r) => resultOf(r ?? "", format.sse)),
          watch.produced,
        );
        assert.equal(watch.produced.length, 5);
      });
    }
  }

  test("Accept-Encoding identity or absent: uncompressed, still record by record", async () => {
    const variants: Record<string, string>[] = [
      { "accept-encoding": "identity" },
      {},
      { "accept-encoding": "gzip;q=0, br;q=0, deflate;q=0" },
    ];
    for (const headers of variants) {
      for (const format of FORMATS) {
        const { key, watch } = newWatch();
        const s = await open(server, `/v1/shelves/${key}/books:watch?count=3`, { ...format.headers, ...headers });
        assert.equal(s.status, 200);
        assert.equal(s.headers["content-encoding"], undefined, JSON.stringify(headers));
        const first = await guarded(s.next(), "record 1 of an identity stream never arrived while the handler waited");
        watch.release.resolve();
        const rest = await guarded(s.rest(), "the rest of the stream never arrived");
        assert.deepEqual(
          [first, ...rest].map((r) => resultOf(r ?? "", format.sse)),
          watch.produced,
        );
      }
    }
  });

  test("q-values pick the coding, as for unary responses", async () => {
    const cases: [string, string][] = [
      ["gzip, deflate, br", "br"],
      ["gzip;q=0.5, deflate", "deflate"],
      ["br;q=0, *", "gzip"],
      ["x-gzip", "gzip"],
    ];
    for (const [accept, want] of cases) {
      const s = await open(server, "/v1/shelves/qv/books:watch?count=2", { "accept-encoding": accept });
      assert.equal(s.headers["content-encoding"], want, accept);
      assert.equal((await guarded(s.rest(), "stream never ended")).length, 2);
    }
  });

  test("an error after some records arrives compressed as the last record", async () => {
    for (const [coding, format] of [
      ["gzip", FORMATS[0]],
      ["br", FORMATS[1]],
      ["deflate", FORMATS[1]],
    ] as const) {
      const s = await open(server, "/v1/shelves/err/books:watch?count=2&failCode=14", { ...format?.headers, "accept-encoding": coding });
      assert.equal(s.status, 200);
      assert.equal(s.headers["content-encoding"], coding);
      const records = await guarded(s.rest(), "stream never ended");
      assert.equal(records.length, 3, records.join(" | "));
      const want = { code: 14, message: "watch failed on purpose", details: [] };
      if (format?.sse) assert.deepEqual(records[2], `event: error\ndata: ${JSON.stringify(want)}`);
      else assert.deepEqual(JSON.parse(records[2] ?? ""), { error: want });
    }
  });

  test("an error before the first record keeps its HTTP status and JSON body", async () => {
    const { port } = server.address() as AddressInfo;
    const r = await new Promise<{ status: number; encoding: string | undefined; body: string }>((resolve, reject) => {
      const path = "/v1/shelves/err/books:watch?count=0&failCode=5";
      http
        .get({ host: "127.0.0.1", port, path, headers: { "accept-encoding": "gzip" }, agent: false }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (c: string) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, encoding: res.headers["content-encoding"], body }));
        })
        .on("error", reject);
    });
    assert.equal(r.status, 404);
    assert.equal(r.encoding, undefined);
    assert.equal((JSON.parse(r.body) as { code: number }).code, 5);
  });

  test("a client that disconnects mid-stream cancels the handler", async () => {
    for (const format of FORMATS) {
      const { key, watch } = newWatch();
      const s = await open(server, `/v1/shelves/${key}/books:watch?count=5`, { ...format.headers, "accept-encoding": "gzip" });
      assert.equal(s.headers["content-encoding"], "gzip");
      await guarded(s.next(), "record 1 never arrived");
      s.destroy();
      const reason = await guarded(watch.aborted.promise, "the handler's signal did not fire after the client disconnected");
      assert.ok(reason instanceof RpcError);
      assert.equal(reason.code, Code.CANCELLED);
      assert.equal(watch.produced.length, 1);
    }
  });
});

describe("REST gateway: stream compression options", () => {
  const servers: http.Server[] = [];
  const start = async (opts: Omit<RestGatewayOptions, "router">) => {
    const s = await listen(createRestGateway({ router: router(), ...opts }) as http.RequestListener);
    servers.push(s);
    return s;
  };
  after(async () => {
    for (const s of servers) await close(s);
  });

  test("an empty compressions registry turns stream compression off", async () => {
    const server = await start({ compressions: createCompressionRegistry() });
    const s = await open(server, "/v1/shelves/off/books:watch?count=3", { "accept-encoding": "gzip, br" });
    assert.equal(s.headers["content-encoding"], undefined);
    assert.equal(s.headers.vary, undefined);
    assert.equal((await guarded(s.rest(), "stream never ended")).length, 3);
  });

  test("preferredEncodings and the registry's codings apply; compressMinBytes does not hold streams back", async () => {
    const server = await start({ preferredEncodings: ["deflate", "gzip"], compressMinBytes: 1 << 20 });
    const s = await open(server, "/v1/shelves/pref/books:watch?count=1", { "accept-encoding": "gzip, deflate, br" });
    assert.equal(s.headers["content-encoding"], "deflate");
    assert.equal((await guarded(s.rest(), "stream never ended")).length, 1);
  });
});

describe("REST gateway on node:http2 (compat API, h2c): compressed streams", () => {
  let server: http2.Http2Server;
  before(async () => {
    const gateway = createRestGateway({ router: router() });
    server = http2.createServer((req, res) => {
      gateway(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("br SSE and gzip NDJSON, each record flushed, errors as the last record", async () => {
    const { port } = server.address() as AddressInfo;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      for (const [coding, format] of [
        ["br", FORMATS[1]],
        ["gzip", FORMATS[0]],
      ] as const) {
        const { key, watch } = newWatch();
        const stream = session.request({
          ":path": `/v1/shelves/${key}/books:watch?count=3&failCode=14`,
          "accept-encoding": coding,
          ...format?.headers,
        });
        const headers = await guarded(
          new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
          "no response headers",
        );
        assert.equal(headers[":status"], 200);
        assert.equal(headers["content-encoding"], coding);
        const decoder = decoderFor(coding);
        stream.pipe(decoder);
        decoder.setEncoding("utf8");
        const sep = format?.sse ? "\n\n" : "\n";
        let text = "";
        const sawFirst = deferred<void>();
        decoder.on("data", (c: string) => {
          text += c;
          if (text.includes(sep)) sawFirst.resolve();
        });
        const ended = new Promise<void>((resolve, reject) => {
          decoder.on("end", resolve);
          decoder.on("error", reject);
        });
        await guarded(sawFirst.promise, `record 1 of an h2 ${coding} stream never arrived while the handler waited`);
        watch.release.resolve();
        await guarded(ended, "the h2 stream never ended");
        const records = text.split(sep).filter((r) => r !== "");
        assert.equal(records.length, 4, text);
        assert.deepEqual(
          records.slice(0, 3).map((r) => resultOf(r, format?.sse ?? false)),
          watch.produced,
        );
        assert.match(records[3] ?? "", /watch failed on purpose/);
      }
    } finally {
      session.close();
    }
  });
});

describe("event writer: backpressure and cleanup", () => {
  let server: http.Server;
  let onRequest: (res: http.ServerResponse) => void = () => {};
  before(async () => {
    server = await listen((_req, res) => onRequest(res));
  });
  after(() => close(server));

  test("a slow reader bounds what the compressing writer holds", async () => {
    const count = 300; // ~19 MiB: far above every buffer on the way
    const done = deferred<number>();
    onRequest = (res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      const w = createEventWriter(res, "gzip");
      void (async () => {
        let max = 0;
        for (let i = 0; i < count; i++) {
          // 64 KiB of fresh random base64, which gzip can hardly shrink.
          await w.write(`${randomBytes(48 * 1024).toString("base64")}\n`);
          max = Math.max(max, w.buffered);
        }
        w.end();
        done.resolve(max);
      })();
    };
    const { port } = server.address() as AddressInfo;
    const received = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
          const gunzip = zlib.createGunzip();
          let lines = 0;
          gunzip.on("data", (c: Buffer) => {
            for (const b of c) if (b === 0x0a) lines++;
          });
          gunzip.on("end", () => resolve(lines));
          gunzip.on("error", reject);
          // A slow reader: one chunk per turn of the event loop.
          res.pause();
          const pump = (): void => {
            const c = res.read() as Buffer | null;
            if (c !== null) gunzip.write(c);
            if (!res.readableEnded) setImmediate(pump);
          };
          res.on("end", () => gunzip.end());
          pump();
        })
        .on("error", reject);
    });
    const max = await done.promise;
    assert.equal(received, count);
    // One record plus the compressor's and the response's high-water marks; without
    // backpressure the writer would hold most of the 19 MiB.
    assert.ok(max < 1024 * 1024, `writer held ${max} bytes`);
  });

  test("a client gone frees the compressor and releases a writer waiting on a full socket", async () => {
    const ended = deferred<{ writer: EventWriter; writes: number }>();
    const full = deferred<void>();
    onRequest = (res) => {
      res.writeHead(200, { "content-encoding": "br" });
      const w = createEventWriter(res, "br");
      void (async () => {
        let writes = 0;
        // Nobody reads, so the socket fills; the write after that waits on the compressor, which
        // holds its callback until pipe() reads again. Only the release on close ends that wait.
        // Watched from outside the loop, which is stuck in a write once the socket is full.
        const watch = (): void => {
          if (res.writableNeedDrain) full.resolve();
          else if (!w.destroyed) setTimeout(watch, 5);
        };
        watch();
        while (!w.destroyed) {
          // Fresh random bytes each time: brotli's window would turn repeats into a few bytes.
          await w.write(`${randomBytes(48 * 1024).toString("base64")}\n`);
          writes++;
        }
        ended.resolve({ writer: w, writes });
      })();
    };
    const { port } = server.address() as AddressInfo;
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => res.pause());
    req.on("error", () => {});
    await guarded(full.promise, "the response never filled up although nobody read it");
    req.destroy();
    const { writer, writes } = await guarded(ended.promise, "the writer kept waiting after the client disconnected");
    assert.ok(writer.destroyed, "compressor destroyed");
    assert.ok(writes >= 1);
  });
});

const noCurl = !existsSync("/usr/bin/curl");
if (noCurl) {
  if (process.env.CI) throw new Error("REST gateway stream compression test needs curl, which is missing");
  console.error("!!! SKIPPED: REST gateway curl --compressed -N stream test needs /usr/bin/curl, which is missing");
}

describe("curl --compressed -N against REST gateway streams", () => {
  let server: http.Server;
  before(async () => {
    server = await listen(createRestGateway({ router: router() }) as http.RequestListener);
  });
  after(() => close(server));

  for (const format of FORMATS) {
    test(`curl decodes a compressed ${format.name} stream record by record`, { skip: noCurl }, async () => {
      const { port } = server.address() as AddressInfo;
      const { key, watch } = newWatch();
      const args = ["--compressed", "-N", "-sS", "-D", "-", `http://127.0.0.1:${port}/v1/shelves/${key}/books:watch?count=3`];
      if (format.sse) args.unshift("-H", "accept: text/event-stream");
      const child = spawn("/usr/bin/curl", args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      const sawFirst = deferred<void>();
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        out += c;
        if (out.includes('"seq":1')) sawFirst.resolve();
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        err += c;
      });
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      try {
        // curl prints record 1 while the handler still waits: it was flushed through the compressor.
        await guarded(sawFirst.promise, `curl never printed record 1 while the handler waited; curl output: ${out}${err}`);
        watch.release.resolve();
        assert.equal(await guarded(exited, "curl did not exit"), 0, err);
      } finally {
        child.kill();
      }
      const split = out.indexOf("\r\n\r\n");
      const head = out.slice(0, split).toLowerCase();
      assert.match(head, /^http\/1\.1 200/);
      const encoding = /\r\ncontent-encoding: ([\w-]+)/.exec(head)?.[1];
      assert.ok(encoding === "gzip" || encoding === "deflate" || encoding === "br", head);
      const records = out
        .slice(split + 4)
        .split(format.sse ? "\n\n" : "\n")
        .filter((r) => r !== "");
      assert.deepEqual(
        records.map((r) => resultOf(r, format.sse)),
        watch.produced,
      );
    });
  }
});
