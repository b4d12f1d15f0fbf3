// The real program (`npm run example:arith -- --port=0`) as a child process, called on its one
// port by every kind of client: Go's jsonrpc.Dial, Python jsonrpclib-pelix, curl on the REST
// routes, a grpc-js stub, Connect, gRPC-Web, and Petrel's own clients; then SIGTERM closes it.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient as createConnectClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createClient } from "@petrel/core";
import { createGrpcTransport, createJsonRpcTransport, createNativeTransport } from "@petrel/node";
import { Arith } from "./gen/arith/arith_pb.js";
import { DEFAULT_PORT, parseArithArgs } from "./main.js";
import {
  assertGoClientCallsArith,
  buildGoClient,
  CURL,
  curl,
  EXAMPLE_DIR,
  goAvailable,
  grpcJsArith,
  peerMissing,
  PYTHON,
  pythonHas,
  REPO_ROOT,
  run,
  wsCalls,
} from "./test-clients.js";

const noGo = peerMissing("a Go toolchain (Debian golang-go)", goAvailable());
const noPelix = peerMissing("/usr/bin/python3 with jsonrpclib (Debian python3-jsonrpclib-pelix)", pythonHas("jsonrpclib"));
const noCurl = peerMissing(`${CURL} (Debian curl)`, existsSync(CURL));

describe("parseArithArgs", () => {
  it("defaults, explicit values, and clear errors", () => {
    assert.deepEqual(parseArithArgs([]), { port: DEFAULT_PORT, host: "127.0.0.1" });
    assert.deepEqual(parseArithArgs(["--port=0", "--host", "::1"]), { port: 0, host: "::1" });
    assert.throws(() => parseArithArgs(["--port=70000"]), /--port must be an integer in 0\.\.65535, got "70000"\n.*usage/s);
    assert.throws(() => parseArithArgs(["--port=8x"]), /--port must be an integer/);
    assert.throws(() => parseArithArgs(["--port="]), /--port must be an integer/);
    assert.throws(() => parseArithArgs(["--verbose"]), /Unknown option '--verbose'.*\nusage/s);
    assert.throws(() => parseArithArgs(["extra"]), /usage/);
  });
});

describe("npm run example:arith (child process): every client on one port", () => {
  let child: ChildProcessWithoutNullStreams;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let port = 0;
  let stdout = "";
  let stderr = "";

  before(async () => {
    child = spawn(process.execPath, ["--import", "tsx", "examples/arith/src/main.ts", "--port=0"], { cwd: REPO_ROOT });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start-up line within 100 s: ${stdout}${stderr}`)), 100_000);
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        stdout += s;
        const m =
          /^arith listening on 127\.0\.0\.1:(\d+) \(petrel\/1, grpc, connect, grpc-web, rest, json-rpc http\/ws\/tcp, go net\/rpc \(jsonrpc and gob\)\)\n/.exec(
            stdout,
          );
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`example exited early (${code}): ${stdout}${stderr}`));
      });
    });
  });

  after(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });

  it("Go jsonrpc.Dial: Arith.Multiply(7, 6) = 42; divide by zero is a Go error", { skip: noGo, timeout: 300_000 }, async () => {
    const out = await run(await buildGoClient(), [`127.0.0.1:${port}`]);
    assert.equal(
      out,
      "Arith.Multiply(7, 6) = 42\nArith.Divide(17, 5) = 3 rem 2\nArith.Divide(1, 0) error: [invalid_argument] divide by zero\n",
    );
  });

  it("Go rpc.Dial (gob, net/rpc's default codec): Multiply 42, Divide {3,2}, Go errors, pipelined calls", {
    skip: noGo,
    timeout: 300_000,
  }, async () => {
    await assertGoClientCallsArith("gob", port, /^rpc: can't find method Arith\.Nope$/);
  });

  it("Python jsonrpclib-pelix gets 42, and -32602 for divide by zero", { skip: noPelix }, async () => {
    const out = await run(PYTHON, [join(EXAMPLE_DIR, "python/client.py"), `http://127.0.0.1:${port}/`]);
    assert.equal(out, "Arith.Multiply(7, 6) = 42\nArith.Divide(17, 5) = 3 rem 2\nArith.Divide(1, 0) error: -32602 divide by zero\n");
  });

  it("curl: REST POST and GET give 42; divide by zero is 400 with google.rpc.Status JSON", { skip: noCurl }, async () => {
    const base = `http://127.0.0.1:${port}`;
    const post = await curl(["-H", "content-type: application/json", "-d", '{"A":7,"B":6}', `${base}/v1/arith/multiply`]);
    assert.deepEqual(post, { status: 200, body: "42" });
    const get = await curl([`${base}/v1/arith/multiply?A=7&B=6`]);
    assert.deepEqual(get, { status: 200, body: "42" });
    const div = await curl([`${base}/v1/arith/divide?A=17&B=5`]);
    assert.deepEqual([div.status, JSON.parse(div.body)], [200, { Quo: 3, Rem: 2 }]);
    const zero = await curl(["-H", "content-type: application/json", "-d", '{"A":1,"B":0}', `${base}/v1/arith/divide`]);
    assert.equal(zero.status, 400);
    assert.deepEqual(JSON.parse(zero.body), { code: 3, message: "divide by zero", details: [] });
    // curl speaks JSON-RPC and Connect too.
    const rpc = await curl([
      "-H",
      "content-type: application/json",
      "-d",
      '{"jsonrpc":"2.0","id":1,"method":"Arith.Multiply","params":{"A":7,"B":6}}',
      `${base}/jsonrpc`,
    ]);
    assert.deepEqual(JSON.parse(rpc.body), { jsonrpc: "2.0", result: 42, id: 1 });
    const connect = await curl(["-H", "content-type: application/json", "-d", '{"A":7,"B":6}', `${base}/arith.Arith/Multiply`]);
    assert.deepEqual(connect, { status: 200, body: "42" });
    const openapi = await curl([`${base}/openapi.json`]);
    assert.equal(openapi.status, 200);
    const doc = JSON.parse(openapi.body) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, "3.1.0");
    assert.deepEqual(Object.keys(doc.paths["/v1/arith/multiply"] ?? {}).sort(), ["get", "post"]);
  });

  it("a grpc-js stub gets 42 and INVALID_ARGUMENT", async () => {
    const stub = grpcJsArith(`127.0.0.1:${port}`);
    try {
      assert.equal(((await stub.call("Multiply", { A: 7, B: 6 })) as { value: number }).value, 42);
      await assert.rejects(stub.call("Divide", { A: 1, B: 0 }), (e: { code?: number; details?: string }) => {
        assert.equal(e.code, 3); // grpc.status.INVALID_ARGUMENT
        assert.equal(e.details, "divide by zero");
        return true;
      });
    } finally {
      stub.close();
    }
  });

  it("Connect and gRPC-Web clients (@connectrpc/connect-node) get 42", async () => {
    const baseUrl = `http://127.0.0.1:${port}`;
    for (const transport of [
      createConnectTransport({ httpVersion: "1.1", baseUrl }),
      createGrpcWebTransport({ httpVersion: "1.1", baseUrl }),
    ]) {
      const arith = createConnectClient(Arith, transport);
      assert.equal((await arith.multiply({ A: 7, B: 6 })).value, 42);
      const q = await arith.divide({ A: -17, B: 5 });
      assert.deepEqual([q.Quo, q.Rem], [-3, -2]);
    }
  });

  it("Petrel clients: petrel/1, gRPC, JSON-RPC over HTTP and TCP (2.0 and Go's 1.0), and JSON-RPC over WebSocket", async () => {
    const transports = [
      createNativeTransport({ address: `127.0.0.1:${port}` }),
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }),
      createJsonRpcTransport({ url: `http://127.0.0.1:${port}/jsonrpc` }),
      createJsonRpcTransport({ protocol: "tcp", port }),
      createJsonRpcTransport({ protocol: "tcp", port, version: "1.0" }),
    ];
    try {
      for (const t of transports) assert.equal((await createClient(Arith, t).multiply({ A: 7, B: 6 })).value, 42);
    } finally {
      await Promise.all(transports.map((t) => t.close()));
    }
    const answers = await wsCalls(`ws://127.0.0.1:${port}/jsonrpc`, [
      { jsonrpc: "2.0", id: 1, method: "Arith.Multiply", params: { A: 7, B: 6 } },
      { jsonrpc: "2.0", id: 2, method: "arith.Arith/Divide", params: [{ A: 1, B: 0 }] },
    ]);
    assert.deepEqual(answers[0], { jsonrpc: "2.0", result: 42, id: 1 });
    assert.equal((answers[1] as { error: { code: number; message: string } }).error.message, "divide by zero");
  });

  it("stops gracefully on SIGTERM", async () => {
    child.kill("SIGTERM");
    const { code } = await exited;
    assert.equal(code, 0, `${stdout}${stderr}`);
    assert.match(stdout, /SIGTERM: closing gracefully.*\nclosed\n$/s);
  });
});
