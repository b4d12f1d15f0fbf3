// The HTTP/1.1 JSON rows: request bodies and answer checks, h2load --h1 arguments, every
// h2load-h1 server answering its probe, the Node JSON-RPC clients, the new ratio lines.
// No h2load needed, no timings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { H2LOAD_H1_PREFIX, h1TargetOf, h2loadH1Args, isH2loadH1System, probeH1 } from "./h2load-h1.ts";
import { formatRatios, type Row } from "./report.ts";
import { checkJsonRpcEcho, checkRestEcho, echoJson, jsonRpcEchoBody, REST_PATH, restEchoBody } from "./systems/http1-common.ts";
import { DEFAULT_SYSTEMS, UNARY_ONLY, loadSystem, registry } from "./systems/index.ts";

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

test("the request bodies carry the bench message in protobuf JSON", () => {
  const rpc = JSON.parse(jsonRpcEchoBody(7).toString("utf8"));
  assert.deepEqual(Object.keys(rpc), ["jsonrpc", "id", "method", "params"]);
  assert.equal(rpc.id, 7);
  assert.equal(rpc.method, "petrel.bench.v1.EchoService/Echo");
  assert.deepEqual(rpc.params, echoJson());
  assert.equal(rpc.params.seq, "1048576");
  assert.equal(Buffer.from(rpc.params.payload, "base64").length, 60);
  assert.deepEqual(JSON.parse(restEchoBody().toString("utf8")), echoJson());
});

test("checkJsonRpcEcho accepts the echo and rejects anything else", () => {
  const result = echoJson();
  checkJsonRpcEcho(json({ jsonrpc: "2.0", id: 1, result }));
  checkJsonRpcEcho(json({ id: 1, result: { ...result, seq: Number(result.seq) }, jsonrpc: "2.0" }));
  assert.throws(() => checkJsonRpcEcho(Buffer.from("<html>")), /not JSON/);
  assert.throws(() => checkJsonRpcEcho(json([{ jsonrpc: "2.0", id: 1, result }])), /not a JSON object/);
  assert.throws(() => checkJsonRpcEcho(json({ jsonrpc: "2.0", id: 2, result })), /not a response to id 1/);
  assert.throws(() => checkJsonRpcEcho(json({ jsonrpc: "2.0", id: 1, error: { code: -32601 } })), /error response/);
  assert.throws(() => checkJsonRpcEcho(json({ jsonrpc: "2.0", id: 1, result: { ...result, text: "x" } })), /not the request echoed/);
  assert.throws(() => checkJsonRpcEcho(json({ jsonrpc: "2.0", id: 1, result: null })), /not the request echoed/);
});

test("checkRestEcho accepts the echo and rejects anything else", () => {
  checkRestEcho(restEchoBody());
  assert.throws(() => checkRestEcho(json({ ...echoJson(), payload: "" })), /not the request echoed/);
  assert.throws(() => checkRestEcho(json({ code: 5, message: "not found" })), /not the request echoed/);
  assert.throws(() => checkRestEcho(Buffer.from("")), /not JSON/);
});

const H1_SYSTEMS = Object.keys(registry).filter(isH2loadH1System);

test("every h2load-h1 system has a request; other names have none", () => {
  assert.ok(H1_SYSTEMS.length >= 5);
  for (const s of H1_SYSTEMS) assert.ok(h1TargetOf(s).body.length > 0, s);
  assert.equal(h1TargetOf("h2load-h1>petrel-rest").path, REST_PATH);
  assert.throws(() => h1TargetOf("h2load-h1>nothing"), /no HTTP\/1\.1 request defined/);
  assert.equal(isH2loadH1System("h2load>petrel-grpc"), false);
  assert.equal(isH2loadH1System(`${H2LOAD_H1_PREFIX}jayson`), true);
  // Rows without server-stream support are never asked for one.
  for (const s of UNARY_ONLY) assert.ok(s in registry, s);
  for (const s of DEFAULT_SYSTEMS) assert.ok(s in registry, s);
});

test("h2load-h1 arguments: HTTP/1.1, one connection per request in flight, JSON POST body", () => {
  const argv = h2loadH1Args(
    { bin: "h2load", port: 4242, inflight: 32, warmupS: 0.5, durationS: 1.5, core: undefined },
    "/jsonrpc",
    "/tmp/b.json",
    "/tmp/log.tsv",
  );
  assert.deepEqual(argv, [
    "--h1",
    "-c32",
    "-t1",
    "-m1",
    "--warm-up-time=500ms",
    "-D1500ms",
    "-d",
    "/tmp/b.json",
    "-H",
    "content-type: application/json",
    "--log-file=/tmp/log.tsv",
    "http://127.0.0.1:4242/jsonrpc",
  ]);
});

test("every h2load-h1 server echoes its request (the probe h2load rows run first)", async () => {
  for (const name of H1_SYSTEMS) {
    const server = await (await loadSystem(name)).startServer(0);
    try {
      await probeH1(server.port, h1TargetOf(name));
      // The probe does fail on a wrong answer: a REST body on the JSON-RPC route and vice versa.
      const wrong = h1TargetOf(name).path === REST_PATH ? h1TargetOf("h2load-h1>jayson") : h1TargetOf("h2load-h1>petrel-rest");
      await assert.rejects(probeH1(server.port, { ...wrong, path: h1TargetOf(name).path }), /probe: /, name);
    } finally {
      await server.close();
    }
  }
});

test("the Node JSON-RPC clients call their servers; server-stream is refused", async () => {
  for (const name of ["petrel-jsonrpc", "jayson", "oneport>petrel-native", "oneport>petrel-grpc"]) {
    const system = await loadSystem(name);
    const server = await system.startServer(0);
    const client = await system.createClient({ host: "127.0.0.1", port: server.port });
    try {
      await Promise.all([client.unary(), client.unary(), client.unary()]);
      if (UNARY_ONLY.has(name))
        await assert.rejects(
          client.serverStream(1, () => {}),
          name,
        );
    } finally {
      await client.close();
      await server.close();
    }
  }
});

const row = (system: string, rps: number): Row => ({ system, workload: "unary", inflight: 32, rps, p50_us: 50, p99_us: 100 });

test("ratio lines for the JSON, REST and one-port pairs", () => {
  const lines = formatRatios([
    row("h2load-h1>petrel-jsonrpc", 30000),
    row("h2load-h1>node-http-json", 60000),
    row("h2load-h1>jayson", 40000),
    row("h2load-h1>petrel-rest", 24000),
    row("h2load-h1>node-http-rest", 48000),
    row("oneport>petrel-grpc", 9900),
    row("petrel-grpc", 10000),
  ]).split("\n");
  const find = (prefix: string): string => lines.find((l) => l.startsWith(`${prefix} `)) ?? "missing";
  assert.match(find("h2load-h1>petrel-jsonrpc / h2load-h1>node-http-json"), /req\/s\s+0\.500x/);
  assert.match(find("h2load-h1>petrel-jsonrpc / h2load-h1>jayson"), /req\/s\s+0\.750x/);
  assert.match(find("h2load-h1>petrel-rest / h2load-h1>node-http-rest"), /req\/s\s+0\.500x/);
  assert.match(find("h2load-h1>petrel-rest / h2load-h1>petrel-jsonrpc"), /req\/s\s+0\.800x/);
  assert.match(find("oneport>petrel-grpc / petrel-grpc"), /req\/s\s+0\.990x/);
});
