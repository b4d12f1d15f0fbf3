/**
 * petrel/1 flow control under load (docs/protocol-native.md §5.1, §8):
 *
 * - A server streams >= 1 GiB to a client that reads slowly at first: the server's RSS must grow
 *   by less than 64 MiB. The server runs in a child process (native-flow-control-fixture.ts) so
 *   its memory is measured apart from the client's.
 * - Bidi with the server as the slow reader: the client's request generator may run ahead of the
 *   server's reads only by what the stream window holds.
 * - Two cases about windows that start at the defaults and then shrink (§5.1).
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, createRouter } from "@petrel/core";
import { DEFAULT_INITIAL_STREAM_WINDOW, FrameFlag, FrameReader, FrameType, FrameWriter, type Frame } from "@petrel/protocol-native";
import { EchoRequestSchema, TestService, createTestServiceImpl, eventually } from "@petrel/testing";
import { createNativeServer, createNativeTransport } from "./index.js";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One line the fixture printed. */
interface Sample {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  produced: number;
  t: number;
  gc?: boolean;
  sample?: boolean;
}

describe("petrel/1 flow control: a server streams 1 GiB to a slow reader", () => {
  const MESSAGE_BYTES = 256 * 1024;
  /** 4100 x 256 KiB > 1 GiB. */
  const COUNT = Math.ceil(GIB / MESSAGE_BYTES) + 4;
  /** How long the client reads slowly (50 ms per message) before it reads as fast as it can. */
  const SLOW_MS = 2500;
  const RSS_LIMIT = 64 * MIB;

  let child: ChildProcessWithoutNullStreams | undefined;
  let port = 0;
  const samples: Sample[] = [];
  const waiters: Array<() => void> = [];
  let childExit: string | undefined;

  before(async () => {
    const fixture = fileURLToPath(new URL("./native-flow-control-fixture.ts", import.meta.url));
    const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
    child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", fixture], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("exit", (code, signal) => {
      childExit = `server process exited (code ${code}, signal ${signal}); stderr: ${stderr.slice(-2000)}`;
      for (const w of waiters.splice(0)) w();
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      const v = JSON.parse(line) as Sample & { port?: number };
      if (v.port !== undefined) port = v.port;
      else samples.push(v);
      for (const w of waiters.splice(0)) w();
    });
    await eventually(() => port !== 0 || childExit !== undefined, 60_000, "the server process to listen");
    assert.equal(childExit, undefined, childExit);
  });

  after(() => {
    // Closing stdin ends the fixture; SIGKILL makes sure, whatever state it is in.
    child?.stdin.end();
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  /** Asks the fixture for a fresh sample (after a GC with `gc`). */
  async function request(what: "gc" | "sample"): Promise<Sample> {
    const c = child as ChildProcessWithoutNullStreams;
    const from = samples.length;
    c.stdin.write(`${what}\n`);
    const tagged = (s: Sample) => (what === "gc" ? s.gc === true : s.sample === true);
    await eventually(() => samples.slice(from).some(tagged) || childExit !== undefined, 30_000, `a ${what} sample`);
    assert.equal(childExit, undefined, childExit);
    return samples.slice(from).find(tagged) as Sample;
  }

  it(`streams >= 1 GiB while the server's RSS grows by less than ${RSS_LIMIT / MIB} MiB`, { timeout: 180_000 }, async () => {
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    try {
      const client = createClient(TestService, transport);
      const payload = new Uint8Array(MESSAGE_BYTES);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;

      // Warm-up: code caches, pools and buffers of a streaming call, at full speed.
      let warm = 0;
      for await (const m of client.serverStream({ count: 256, payload })) warm += m.payload.length;
      assert.equal(warm, 256 * MESSAGE_BYTES);
      const baseline = (await request("gc")).rss;

      const fromSample = samples.length;
      const start = Date.now();
      const slowUntil = start + SLOW_MS;
      let received = 0;
      let count = 0;
      let slowMessages = 0;
      const producedBefore = (await request("sample")).produced;
      let aheadAfterSlow = -1;
      for await (const m of client.serverStream({ count: COUNT, payload })) {
        // Cheap integrity checks: order, size and a few bytes of every message.
        if (
          m.count !== count ||
          m.payload.length !== MESSAGE_BYTES ||
          m.payload[1] !== 7 ||
          m.payload[MESSAGE_BYTES - 1] !== payload[MESSAGE_BYTES - 1]
        ) {
          assert.fail(`message ${count} is wrong: count ${m.count}, ${m.payload.length} bytes`);
        }
        received += m.payload.length;
        count++;
        if (Date.now() < slowUntil) {
          slowMessages++;
          await sleep(50);
        } else if (aheadAfterSlow < 0) {
          aheadAfterSlow = (await request("sample")).produced - producedBefore - count;
        }
      }
      const ms = Date.now() - start;
      const last = await request("sample");
      const during = [...samples.slice(fromSample), last];
      const maxRss = Math.max(...during.map((s) => s.rss));
      const growth = maxRss - baseline;
      console.log(
        `# flow control: ${(received / GIB).toFixed(2)} GiB in ${count} messages in ${ms} ms (${slowMessages} read slowly); ` +
          `server RSS baseline ${(baseline / MIB).toFixed(1)} MiB, max ${(maxRss / MIB).toFixed(1)} MiB (+${(growth / MIB).toFixed(1)} MiB) over ${during.length} samples; ` +
          `after the slow phase the handler was ${aheadAfterSlow} messages ahead of the reader (the stream window holds ${(DEFAULT_INITIAL_STREAM_WINDOW / MESSAGE_BYTES).toFixed(0)})`,
      );
      assert.equal(count, COUNT);
      assert.ok(received >= GIB, `received ${received} bytes`);
      assert.ok(during.length >= 3, "too few RSS samples to judge");
      assert.ok(growth < RSS_LIMIT, `server RSS grew by ${(growth / MIB).toFixed(1)} MiB (limit ${RSS_LIMIT / MIB} MiB)`);
    } finally {
      await transport.close();
    }
  });
});

describe("petrel/1 flow control: client side", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /**
   * Runs N messages of `payloadBytes` through a call whose reader is slow (5 ms per message) and
   * returns how many messages the producer got ahead of the reader at most.
   * - "bidi": the client's request generator produces, the server handler reads;
   * - "server-stream": the server handler produces, the client reads.
   */
  async function maxRunAhead(
    kind: "bidi" | "server-stream",
    payloadBytes: number,
    n: number,
  ): Promise<{ ahead: number; messageSize: number }> {
    let produced = 0;
    let consumed = 0;
    let ahead = 0;
    const note = () => {
      ahead = Math.max(ahead, produced - consumed);
    };
    const payload = new Uint8Array(payloadBytes).fill(1);
    const impl = createTestServiceImpl();
    impl.bidi = async function* (reqs) {
      for await (const r of reqs) {
        consumed++;
        if (r.payload.length !== payloadBytes) throw new Error(`request ${consumed} has ${r.payload.length} bytes`);
        await sleep(5);
      }
      yield { count: consumed };
    };
    impl.serverStream = async function* (req) {
      for (let i = 0; i < req.count; i++) {
        produced++;
        note();
        yield { payload };
      }
    };
    const server = createNativeServer({ router: createRouter().service(TestService, impl) });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    try {
      const client = createClient(TestService, transport);
      if (kind === "bidi") {
        async function* requests() {
          for (let i = 0; i < n; i++) {
            produced++;
            note();
            yield { payload };
          }
        }
        const out: number[] = [];
        for await (const res of client.bidi(requests())) out.push(res.count);
        assert.deepEqual(out, [n]);
      } else {
        for await (const m of client.serverStream({ count: n })) {
          consumed++;
          assert.equal(m.payload.length, payloadBytes);
          await sleep(5);
        }
      }
      assert.equal(consumed, n);
      return { ahead, messageSize: toBinary(EchoRequestSchema, create(EchoRequestSchema, { payload })).length };
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  }

  // 16381 payload bytes encode to exactly 16384 (1 + 2 + 16381; the same for EchoRequest and
  // EchoResponse), 1/64 of the default 1 MiB stream window. Window and WINDOW_UPDATEs (whole
  // consumed messages) stay multiples of the message, so no message straddles the window edge.
  // Allowed: the window's 64 messages, plus the one produced that then waits for credit, plus one.
  const FITS = 16_381;
  // 64 KiB payloads encode to 65540 bytes: each message is a 65536-byte CONTINUED frame plus a
  // 4-byte last frame (the default MAX_FRAME_SIZE is 65536); 256 KiB ones to four frames.

  for (const kind of ["bidi", "server-stream"] as const) {
    const who = kind === "bidi" ? "slow server reader: the client's request generator" : "slow client reader: the server's handler";
    it(`${kind}, ${who} runs ahead only by the stream window (messages of one frame)`, { timeout: 60_000 }, async () => {
      const { ahead, messageSize } = await maxRunAhead(kind, FITS, 200);
      const bound = DEFAULT_INITIAL_STREAM_WINDOW / messageSize + 2;
      console.log(`# ${kind}: producer ran at most ${ahead} messages of ${messageSize} bytes ahead of the reader (bound ${bound})`);
      assert.equal(messageSize, 16_384);
      assert.ok(ahead <= bound, `the producer ran ${ahead} messages ahead (bound ${bound})`);
    });
    for (const payloadBytes of [64 * 1024, 256 * 1024]) {
      it(`${kind}, ${who} runs ahead only by the stream window (${payloadBytes / 1024} KiB messages, several frames each)`, {
        timeout: 60_000,
      }, async () => {
        const { ahead, messageSize } = await maxRunAhead(kind, payloadBytes, payloadBytes > 100_000 ? 60 : 150);
        const bound = Math.ceil(DEFAULT_INITIAL_STREAM_WINDOW / messageSize) + 2;
        console.log(`# ${kind}: producer ran at most ${ahead} messages of ${messageSize} bytes ahead of the reader (bound ${bound})`);
        assert.ok(
          ahead <= bound,
          `the producer ran ${ahead} messages (${((ahead * messageSize) / MIB).toFixed(1)} MiB) ahead (bound ${bound})`,
        );
      });
    }
  }

  it("a server advertising windows below the defaults accepts a first call pipelined within the defaults (§5.1)", {
    timeout: 30_000,
  }, async () => {
    const settings = { initialStreamWindow: 20_000, initialConnectionWindow: 70_000 };
    const server = createNativeServer({ router: createRouter().service(TestService, createTestServiceImpl()), settings });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => server.close({ graceMs: 1000 }));
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    cleanups.push(() => transport.close());
    const client = createClient(TestService, transport);
    // The first call on a fresh connection goes out before the server's SETTINGS arrive.
    const res = await client.echo({ payload: new Uint8Array(100_000).fill(3) });
    assert.equal(res.payload.length, 100_000);
  });

  it("an empty message on a stream whose send window went negative is a well-formed zero-length MESSAGE (§5.1, §8)", {
    timeout: 30_000,
  }, async () => {
    // A fake server: it lets the client pipeline 100 KB under the default window, then sends
    // SETTINGS with a 20000-byte stream window, which leaves the client's window at about -80000.
    const frames: Frame[] = [];
    let malformed: string | undefined;
    let settingsAcked!: () => void;
    const acked = new Promise<void>((resolve) => {
      settingsAcked = resolve;
    });
    const sockets: Socket[] = [];
    const fake: Server = createServer((socket) => {
      sockets.push(socket);
      socket.on("error", () => {});
      let sentSettings = false;
      let messageBytes = 0;
      const reader = new FrameReader(
        {
          onFrame(type, flags, streamId, payload) {
            frames.push({ type, flags, streamId, payload: payload.slice() });
            if (type === FrameType.SETTINGS && (flags & FrameFlag.ACK) !== 0) settingsAcked();
            if (type === FrameType.MESSAGE) messageBytes += payload.length;
            if (!sentSettings && messageBytes >= 100_000) {
              sentSettings = true;
              const w = new FrameWriter();
              w.writePreface();
              w.writeSettings({ initialStreamWindow: 20_000 });
              w.writeSettingsAck();
              socket.write(w.take());
            }
          },
        },
        { expectPreface: true, maxFrameSize: 16 * MIB },
      );
      socket.on("data", (c: Buffer) => {
        try {
          reader.push(c);
        } catch (e) {
          malformed ??= (e as Error).message;
        }
      });
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => fake.close(() => r())));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    const transport = createNativeTransport({ address: `127.0.0.1:${(fake.address() as AddressInfo).port}` });
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    cleanups.push(() => transport.close());
    const client = createClient(TestService, transport);

    async function* requests() {
      yield { payload: new Uint8Array(100_000).fill(5) };
      await acked; // the client has applied the server's SETTINGS: its window is negative now
      yield {}; // encodes to zero bytes
    }
    const call = client.clientStream(requests(), { signal: abort.signal }).catch(() => undefined);
    await eventually(
      () =>
        malformed !== undefined ||
        frames.some((f) => f.type === FrameType.HALF_CLOSE || (f.type === FrameType.MESSAGE && f.payload.length === 0)),
      10_000,
      "the empty message",
    );
    abort.abort();
    await call;
    assert.equal(malformed, undefined, `the client sent malformed petrel/1: ${malformed}`);
    const messages = frames.filter((f) => f.type === FrameType.MESSAGE && f.streamId === 1);
    const bigSize = toBinary(EchoRequestSchema, create(EchoRequestSchema, { payload: new Uint8Array(100_000).fill(5) })).length;
    assert.equal(
      messages.reduce((n, f) => n + f.payload.length, 0),
      bigSize,
      "MESSAGE bytes on stream 1",
    );
    const empty = messages[messages.length - 1] as Frame;
    assert.equal(empty.payload.length, 0, "the last MESSAGE is the empty one");
    assert.equal(empty.flags & FrameFlag.CONTINUED, 0, "the empty message is complete");
  });
});
