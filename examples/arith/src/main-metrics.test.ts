// `npm run example:arith -- --port=0 --metrics-port=0` as a child process: Arith.Multiply called
// over gRPC, JSON-RPC, REST and petrel/1 shows up in the call-duration histogram of the scraped
// /metrics with its rpc_system, service, method and status labels; divide by zero is INVALID_ARGUMENT.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { Code, createClient, RpcError } from "@petrel/core";
import { createGrpcTransport, createJsonRpcTransport, createNativeTransport } from "@petrel/node";
import { metricValue, parseMetricsText } from "@petrel/observability";
import { Arith } from "./gen/arith/arith_pb.js";
import { parseArithArgs } from "./main.js";
import { REPO_ROOT } from "./test-clients.js";

describe("parseArithArgs --metrics-port", () => {
  it("parses, defaults to off, and refuses bad or clashing ports", () => {
    assert.equal(parseArithArgs(["--port=0"]).metricsPort, undefined);
    assert.deepEqual(parseArithArgs(["--port=8080", "--metrics-port=9464"]), { port: 8080, host: "127.0.0.1", metricsPort: 9464 });
    assert.deepEqual(parseArithArgs(["--port=0", "--metrics-port=0"]), { port: 0, host: "127.0.0.1", metricsPort: 0 });
    assert.throws(() => parseArithArgs(["--metrics-port=x"]), /--metrics-port must be an integer in 0\.\.65535, got "x"\n.*usage/s);
    assert.throws(() => parseArithArgs(["--port=9000", "--metrics-port=9000"]), /--metrics-port must differ from --port \(9000\)/);
  });
});

const DURATION = "rpc_server_duration_seconds_count";
const MULTIPLY = { rpc_service: "arith.Arith", rpc_method: "Multiply", rpc_grpc_status_code: "0", rpc_status: "OK" };
const DIVIDE_BY_ZERO = { rpc_service: "arith.Arith", rpc_method: "Divide", rpc_grpc_status_code: "3", rpc_status: "INVALID_ARGUMENT" };

describe("npm run example:arith -- --metrics-port (child process)", () => {
  let child: ChildProcessWithoutNullStreams;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let port = 0;
  let metricsUrl = "";
  let stdout = "";
  let stderr = "";

  before(async () => {
    child = spawn(process.execPath, ["--import", "tsx", "examples/arith/src/main.ts", "--port=0", "--metrics-port=0"], { cwd: REPO_ROOT });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start-up lines within 100 s: ${stdout}${stderr}`)), 100_000);
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        stdout += s;
        const m = /^arith listening on 127\.0\.0\.1:(\d+) \(.*\)\nmetrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)\n/.exec(stdout);
        if (m !== null) {
          clearTimeout(timer);
          port = Number(m[1]);
          metricsUrl = m[2] as string;
          resolve();
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

  async function scrape() {
    const r = await fetch(metricsUrl, { signal: AbortSignal.timeout(60_000) });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    return { text, samples: parseMetricsText(text) };
  }

  it("before any call the histogram has no Arith series", async () => {
    const { text, samples } = await scrape();
    assert.match(text, /^# TYPE rpc_server_duration_seconds histogram$/m);
    assert.equal(metricValue(samples, DURATION, { rpc_service: "arith.Arith" }), undefined);
  });

  it("Multiply over gRPC, JSON-RPC, REST and petrel/1 is counted per rpc_system; divide by zero is INVALID_ARGUMENT", async () => {
    const base = `http://127.0.0.1:${port}`;
    const grpc = createGrpcTransport({ baseUrl: base });
    const jsonrpc = createJsonRpcTransport({ url: `${base}/jsonrpc` });
    const native = createNativeTransport({ address: `127.0.0.1:${port}` });
    try {
      assert.equal((await createClient(Arith, grpc).multiply({ A: 7, B: 6 })).value, 42);
      assert.equal((await createClient(Arith, grpc).multiply({ A: 2, B: 3 })).value, 6);
      await assert.rejects(
        createClient(Arith, grpc).divide({ A: 1, B: 0 }),
        (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT,
      );
      assert.equal((await createClient(Arith, jsonrpc).multiply({ A: 7, B: 6 })).value, 42);
      assert.equal((await createClient(Arith, native).multiply({ A: 7, B: 6 })).value, 42);
    } finally {
      await Promise.all([grpc.close(), jsonrpc.close(), native.close()]);
    }
    const rest = await fetch(`${base}/v1/arith/multiply`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"A":7,"B":6}',
      signal: AbortSignal.timeout(60_000),
    });
    assert.deepEqual([rest.status, await rest.text()], [200, "42"]);
    const restZero = await fetch(`${base}/v1/arith/divide?A=1&B=0`, { signal: AbortSignal.timeout(60_000) });
    assert.equal(restZero.status, 400);
    await restZero.text();

    const { text, samples } = await scrape();
    // The exact exposition line, label order included, as a dashboard query would see it.
    assert.match(
      text,
      /^rpc_server_duration_seconds_count\{rpc_system="grpc",rpc_service="arith\.Arith",rpc_method="Multiply",rpc_grpc_status_code="0",rpc_status="OK"\} 2$/m,
    );
    assert.equal(metricValue(samples, DURATION, { rpc_system: "grpc", ...MULTIPLY }), 2);
    assert.equal(metricValue(samples, DURATION, { rpc_system: "jsonrpc", ...MULTIPLY }), 1);
    assert.equal(metricValue(samples, DURATION, { rpc_system: "rest", ...MULTIPLY }), 1);
    assert.equal(metricValue(samples, DURATION, { rpc_system: "petrel", ...MULTIPLY }), 1);
    assert.equal(metricValue(samples, DURATION, { rpc_system: "grpc", ...DIVIDE_BY_ZERO }), 1);
    assert.equal(metricValue(samples, DURATION, { rpc_system: "rest", ...DIVIDE_BY_ZERO }), 1);
    assert.equal(metricValue(samples, DURATION, { rpc_method: "Divide", rpc_status: "OK" }), undefined);
    assert.equal(metricValue(samples, "rpc_server_duration_seconds_bucket", { rpc_system: "grpc", ...MULTIPLY, le: "+Inf" }), 2);
    assert.equal(metricValue(samples, "petrel_rpc_server_active_calls", { rpc_service: "arith.Arith" }), 0);
    // Connections the one-port server detected, by protocol.
    assert.ok((metricValue(samples, "petrel_server_connections_total", { server: "arith", protocol: "h2" }) ?? 0) >= 1);
    assert.ok((metricValue(samples, "petrel_server_connections_total", { server: "arith", protocol: "native" }) ?? 0) >= 1);
    const notFound = await fetch(metricsUrl.replace(/\/metrics$/, "/other"), { signal: AbortSignal.timeout(60_000) });
    assert.equal(notFound.status, 404);
    await notFound.text();
  });

  it("stops gracefully on SIGTERM, metrics endpoint included", async () => {
    child.kill("SIGTERM");
    const { code } = await exited;
    assert.equal(code, 0, `${stdout}${stderr}`);
    assert.match(stdout, /SIGTERM: closing gracefully.*\nclosed\n$/s);
  });
});
