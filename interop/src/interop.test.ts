// gRPC interop cases (grpc/grpc doc/interop-test-descriptions.md) in three directions:
//   petrel → petrel:     the Petrel interop client (child process per case) against the Petrel interop server
//   ruby → petrel:       the official interop client (Debian's ruby-grpc, C-core) against the Petrel server
//   petrel → ruby:       the Petrel interop client against the official ruby interop server
// Writes interop/results/matrix.json; `node --import tsx interop/src/matrix.ts --write` renders it into README.md.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { createRouter } from "@petrel/core";
import { createGrpcServer, type GrpcServer } from "@petrel/node";
import { SimpleRequestSchema } from "./gen/grpc/testing/messages_pb.js";
import { matrixPath, type Matrix, type Outcome, repoRoot } from "./matrix.js";
import { registerTestService } from "./test-service.js";
import { TEST_SERVER_HOST_OVERRIDE } from "./testdata.js";

const CASES = [
  "empty_unary",
  "large_unary",
  "client_streaming",
  "server_streaming",
  "ping_pong",
  "empty_stream",
  "timeout_on_sleeping_server",
  "cancel_after_begin",
  "cancel_after_first_response",
  "status_code_and_message",
  "special_status_message",
  "custom_metadata",
  "unimplemented_method",
  "unimplemented_service",
  "client_compressed_unary",
  "server_compressed_unary",
  "client_compressed_streaming",
  "server_compressed_streaming",
];

const PETREL_TO_PETREL = "Petrel client → Petrel server";
const RUBY_TO_PETREL = "official client (ruby-grpc) → Petrel server";
const PETREL_TO_RUBY = "Petrel client → official server (ruby-grpc)";

/** Cases the official ruby client (grpc 1.51) has; the others are n/a in that direction. */
const RUBY_CLIENT_CASES = new Set(
  CASES.filter((c) => !["special_status_message", "server_compressed_unary", "server_compressed_streaming"].includes(c)),
);

/** Known non-passes: direction -> case -> [expected outcome, why]. Everything else must pass. */
const EXPECTED: Record<string, Record<string, [Outcome, string]>> = {
  [PETREL_TO_PETREL]: {},
  [RUBY_TO_PETREL]: {},
  [PETREL_TO_RUBY]: {
    client_compressed_unary: [
      "fail",
      "the ruby interop server does not implement the expect_compressed probe (accepts it, spec wants INVALID_ARGUMENT)",
    ],
    client_compressed_streaming: ["fail", "the ruby interop server does not implement the expect_compressed probe"],
    server_compressed_unary: ["fail", "the ruby interop server ignores response_compressed: it never compresses a response"],
    server_compressed_streaming: ["fail", "the ruby interop server ignores ResponseParameters.compressed: it never compresses a response"],
  },
};

const results: Record<string, Record<string, Outcome>> = {};
const notes: Record<string, Record<string, string>> = {};
function record(direction: string, name: string, outcome: Outcome, note?: string): void {
  results[direction] ??= {};
  results[direction][name] = outcome;
  if (note !== undefined) {
    notes[direction] ??= {};
    notes[direction][name] = note;
  }
}

// ---- child processes -----------------------------------------------------------------------------

const isDetached = new WeakSet<ChildProcess>();
/** Every child still running, for the final cleanup. */
const spawned = new Set<Spawned>();

interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(cmd: string, args: string[], opts: { detached?: boolean } = {}): Spawned {
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: opts.detached ?? false });
  if (opts.detached === true) isDetached.add(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
    child.once("error", (e) => {
      out += `\nspawn error: ${e.message}`;
      resolve({ code: null, signal: null });
    });
  });
  const s: Spawned = { child, output: () => out, exited };
  spawned.add(s);
  void exited.then(() => spawned.delete(s));
  return s;
}

/** Runs a command to completion (killed after `timeoutMs`), returning exit code and output. */
async function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
  const s = start(cmd, args);
  const timer = setTimeout(() => s.child.kill("SIGKILL"), timeoutMs);
  const { code } = await s.exited;
  clearTimeout(timer);
  return { code, output: s.output() };
}

/** Stops a child (its whole process group if detached): SIGTERM, then SIGKILL after `graceMs`. */
async function stop(s: Spawned | undefined, graceMs = 5000): Promise<void> {
  if (s === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (s.child.pid !== undefined && isDetached.has(s.child)) process.kill(-s.child.pid, sig);
      else s.child.kill(sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), graceMs);
  await s.exited;
  clearTimeout(timer);
}
after(async () => {
  await Promise.all([...spawned].map((s) => stop(s)));
  const m: Matrix = { directions: [PETREL_TO_PETREL, RUBY_TO_PETREL, PETREL_TO_RUBY], cases: CASES, results, notes };
  // Only a complete run writes the matrix: a filtered run (--test-name-pattern) must not clobber it.
  if (!m.directions.every((d) => CASES.every((c) => results[d]?.[c] !== undefined))) return;
  mkdirSync(dirname(matrixPath), { recursive: true });
  writeFileSync(matrixPath, `${JSON.stringify(m, null, 2)}\n`);
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, s: Spawned, ready: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) throw new Error(`${what} exited early:\n${s.output()}`);
    if (await ready()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

const SERVER = "interop/src/interop-server.ts";
const CLIENT = "interop/src/interop-client.ts";

/** Starts the Petrel interop server on a free port; returns it and the port. */
async function startPetrelServer(extraArgs: string[] = []): Promise<{ server: Spawned; port: number }> {
  const server = start(process.execPath, ["--import", "tsx", SERVER, "--port=0", ...extraArgs]);
  let port = 0;
  await waitFor("Petrel interop server", server, () => {
    const m = /listening on [^\s]+:(\d+)/.exec(server.output());
    if (m !== null) port = Number(m[1]);
    return m !== null;
  });
  return { server, port };
}

// ---- ruby-grpc ------------------------------------------------------------------------------------

const RUBYGEMS = "/usr/lib/x86_64-linux-gnu/rubygems-integration";

/** The directory of the official ruby interop programs, or undefined if ruby-grpc is missing. */
function rubyTestDir(): string | undefined {
  if (!existsSync(RUBYGEMS)) return undefined;
  for (const v of readdirSync(RUBYGEMS).sort().reverse()) {
    const gems = join(RUBYGEMS, v, "gems");
    if (!existsSync(gems)) continue;
    for (const g of readdirSync(gems)) {
      if (!/^grpc-\d/.test(g)) continue;
      const dir = join(gems, g, "src/ruby/pb/test");
      if (existsSync(join(dir, "client.rb")) && existsSync(join(dir, "server.rb"))) return dir;
    }
  }
  return undefined;
}
const rubyDir = rubyTestDir();
const RUBY_MISSING = `ruby-grpc is not installed (no ${RUBYGEMS}/*/gems/grpc-*/src/ruby/pb/test/client.rb): apt-get install -y ruby-grpc`;

/** In CI a missing ruby-grpc fails the test; elsewhere the test is skipped, loudly. */
function requireRuby(t: TestContext): boolean {
  if (rubyDir !== undefined) return true;
  if (process.env.CI === "true") throw new Error(`${RUBY_MISSING} — CI must install it (.ci/run APT_PACKAGES)`);
  console.warn(`\n!!! SKIPPING official gRPC interop tests: ${RUBY_MISSING}\n`);
  t.skip(`SKIPPED: ${RUBY_MISSING}`);
  return false;
}

/** Binds the stock ruby server (which listens on 0.0.0.0) to 127.0.0.1, then runs server.rb. */
const RUBY_BIND_LOCAL = [
  'require "grpc"',
  "module PetrelBindLocal",
  "  def add_http2_port(host, creds)",
  '    super(host.sub(/\\A(0\\.0\\.0\\.0|\\[::\\]|::):/, "127.0.0.1:"), creds)',
  "  end",
  "end",
  "GRPC::RpcServer.prepend(PetrelBindLocal)",
  "load ARGV.shift",
].join("\n");

// ---- one case -----------------------------------------------------------------------------------

/** Outcome from the exit code of an interop client: 0 pass, 3 not yet (Petrel client only), else fail. */
function outcomeOf(code: number | null): Outcome {
  return code === 0 ? "pass" : code === 3 ? "not yet" : "fail";
}

async function runCase(t: TestContext, direction: string, name: string, cmd: string, args: string[]): Promise<void> {
  const { code, output } = await run(cmd, args);
  const outcome = outcomeOf(code);
  const expected = EXPECTED[direction]?.[name];
  record(direction, name, outcome, outcome === "pass" ? undefined : (expected?.[1] ?? `exit ${code}: ${lastLine(output)}`));
  if (expected !== undefined && outcome !== "pass") {
    // A known non-pass that turned into a different non-pass fails the run; only then is it a todo.
    assert.equal(outcome, expected[0], `${name}: expected "${expected[0]}", got "${outcome}" (exit ${code}):\n${output}`);
    t.todo(`${expected[0]}: ${expected[1]}`);
    return;
  }
  assert.equal(code, 0, `${direction}: ${name} failed (exit ${code}):\n${output}`);
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return (lines.find((l) => /FAIL|Error|error/.test(l)) ?? lines.at(-1) ?? "").slice(0, 200);
}

// ---- the three directions -------------------------------------------------------------------------

describe(PETREL_TO_PETREL, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    ({ server, port } = await startPetrelServer());
  });
  after(() => stop(server));

  for (const name of CASES) {
    it(name, (t) => runCase(t, PETREL_TO_PETREL, name, process.execPath, clientArgs(port, name)));
  }
});

function clientArgs(port: number, name: string): string[] {
  return ["--import", "tsx", CLIENT, "--server_host=127.0.0.1", `--server_port=${port}`, `--test_case=${name}`];
}

describe("npm script entry points", () => {
  it("npm run interop:server / interop:client, then a graceful SIGTERM", async () => {
    const server = start("npm", ["run", "--silent", "interop:server", "--", "--port=0", "--use_tls=false", "--host=127.0.0.1"], {
      detached: true,
    });
    try {
      let port = 0;
      await waitFor("npm run interop:server", server, () => {
        const m = /listening on [^\s]+:(\d+)/.exec(server.output());
        if (m !== null) port = Number(m[1]);
        return m !== null;
      });
      const client = await run("npm", [
        "run",
        "--silent",
        "interop:client",
        "--",
        "--server_host=127.0.0.1",
        `--server_port=${port}`,
        "--test_case=large_unary",
        "--use_tls=false",
      ]);
      assert.equal(client.code, 0, client.output);
      assert.match(client.output, /large_unary: PASS/);
    } finally {
      await stop(server);
    }
    assert.match(server.output(), /interop-server: closed/, server.output());
  });

  it("a bad --use_tls value is a usage error", async () => {
    const srv = await run(process.execPath, ["--import", "tsx", SERVER, "--port=0", "--use_tls=maybe"]);
    assert.equal(srv.code, 2, srv.output);
    assert.match(srv.output, /--use_tls must be true or false/);
    const cli = await run(process.execPath, [...clientArgs(1, "empty_unary"), "--use_tls=yes"]);
    assert.equal(cli.code, 2, cli.output);
    assert.match(cli.output, /--use_tls must be true or false/);
  });

  it("an unknown test case is a usage error", async () => {
    const cli = await run(process.execPath, clientArgs(1, "no_such_case"));
    assert.equal(cli.code, 2, cli.output);
    assert.match(cli.output, /unknown --test_case/);
  });
});

describe(RUBY_TO_PETREL, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    if (rubyDir !== undefined) ({ server, port } = await startPetrelServer());
  });
  after(() => stop(server));

  for (const name of CASES) {
    it(name, async (t) => {
      if (!RUBY_CLIENT_CASES.has(name)) {
        record(RUBY_TO_PETREL, name, "n/a");
        t.skip("the official ruby interop client (grpc 1.51) does not have this case");
        return;
      }
      if (!requireRuby(t)) return record(RUBY_TO_PETREL, name, "skipped");
      await runCase(t, RUBY_TO_PETREL, name, "ruby", [
        join(rubyDir as string, "client.rb"),
        "--server_host=127.0.0.1",
        `--server_port=${port}`,
        `--test_case=${name}`,
      ]);
    });
  }
});

describe(PETREL_TO_RUBY, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    if (rubyDir === undefined) return;
    port = await freePort();
    server = start("ruby", ["-e", RUBY_BIND_LOCAL, join(rubyDir, "server.rb"), `--port=${port}`]);
    await waitFor("ruby interop server", server, () => canConnect(port));
  });
  // The ruby server may abort inside C-core while shutting down on SIGTERM; that is not our concern.
  after(() => stop(server));

  for (const name of CASES) {
    it(name, async (t) => {
      if (!requireRuby(t)) return record(PETREL_TO_RUBY, name, "skipped");
      await runCase(t, PETREL_TO_RUBY, name, process.execPath, clientArgs(port, name));
    });
  }
});

/**
 * TLS with ALPN h2, using gRPC's interop test certificates (interop/testdata) the way every official
 * interop program does: `--use_tls=true` on the server, `--use_tls=true --use_test_ca=true
 * --server_host_override=foo.test.google.fr` on the client. The official ruby client and server
 * are C-core, so this is Petrel's TLS against BoringSSL-based gRPC both ways.
 */
const TLS_CASES = [
  "empty_unary",
  "large_unary",
  "client_streaming",
  "server_streaming",
  "ping_pong",
  "custom_metadata",
  "status_code_and_message",
];
const TLS_CLIENT_FLAGS = ["--use_tls=true", "--use_test_ca=true", `--server_host_override=${TEST_SERVER_HOST_OVERRIDE}`];

describe("TLS (ALPN h2) with gRPC's interop test certificates", () => {
  let petrel: Spawned | undefined;
  let petrelPort = 0;
  let ruby: Spawned | undefined;
  let rubyPort = 0;
  before(async () => {
    ({ server: petrel, port: petrelPort } = await startPetrelServer(["--use_tls=true"]));
    if (rubyDir === undefined) return;
    rubyPort = await freePort();
    ruby = start("ruby", ["-e", RUBY_BIND_LOCAL, join(rubyDir, "server.rb"), `--port=${rubyPort}`, "--use_tls=true"]);
    await waitFor("ruby interop server (TLS)", ruby, () => canConnect(rubyPort));
  });
  after(async () => {
    await stop(petrel);
    await stop(ruby);
  });

  for (const name of TLS_CASES) {
    it(`Petrel client → Petrel server: ${name}`, async () => {
      const r = await run(process.execPath, [...clientArgs(petrelPort, name), ...TLS_CLIENT_FLAGS]);
      assert.equal(r.code, 0, r.output);
    });
    it(`official client (ruby-grpc) → Petrel server: ${name}`, async (t) => {
      if (!requireRuby(t)) return;
      const r = await run("ruby", [
        join(rubyDir as string, "client.rb"),
        "--server_host=127.0.0.1",
        `--server_port=${petrelPort}`,
        `--test_case=${name}`,
        ...TLS_CLIENT_FLAGS,
      ]);
      assert.equal(r.code, 0, r.output);
    });
    it(`Petrel client → official server (ruby-grpc): ${name}`, async (t) => {
      if (!requireRuby(t)) return;
      const r = await run(process.execPath, [...clientArgs(rubyPort, name), ...TLS_CLIENT_FLAGS]);
      assert.equal(r.code, 0, r.output);
    });
  }

  it("a client that does not trust the test CA, or expects another name, or speaks cleartext, fails UNAVAILABLE", async () => {
    for (const flags of [
      ["--use_tls=true", `--server_host_override=${TEST_SERVER_HOST_OVERRIDE}`], // system roots only
      ["--use_tls=true", "--use_test_ca=true", "--server_host_override=other.example.com"],
      ["--use_tls=false"],
    ]) {
      const r = await run(process.execPath, [...clientArgs(petrelPort, "empty_unary"), ...flags]);
      assert.equal(r.code, 1, `${flags.join(" ")}:\n${r.output}`);
      assert.match(r.output, /UNAVAILABLE|unavailable/, `${flags.join(" ")}:\n${r.output}`);
    }
  });
});

/**
 * The server half of server_compressed_unary, checked on the raw wire rather than through Petrel's
 * own client: a raw HTTP/2 call that accepts gzip gets a compressed response message exactly when
 * it asks for one with response_compressed.
 */
describe("Petrel server: response_compressed on the wire", () => {
  let server: GrpcServer | undefined;
  let session: ClientHttp2Session | undefined;
  before(async () => {
    server = createGrpcServer({ router: registerTestService(createRouter()) });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    session = http2Connect(`http://127.0.0.1:${port}`);
  });
  after(async () => {
    session?.close();
    await server?.close({ graceMs: 1000 });
  });

  async function unary(responseCompressed: boolean): Promise<{ encoding: unknown; flag: number; status: unknown }> {
    const body = toBinary(
      SimpleRequestSchema,
      create(SimpleRequestSchema, { responseSize: 31415, responseCompressed: { value: responseCompressed } }),
    );
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    const s = (session as ClientHttp2Session).request({
      ":method": "POST",
      ":path": "/grpc.testing.TestService/UnaryCall",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": "gzip",
    });
    let encoding: unknown;
    let status: unknown;
    const chunks: Buffer[] = [];
    s.on("response", (h) => {
      encoding = h["grpc-encoding"];
      status ??= h["grpc-status"];
    });
    s.on("trailers", (h) => {
      status = h["grpc-status"];
    });
    s.on("data", (d: Buffer) => chunks.push(d));
    s.end(frame);
    await new Promise<void>((resolve, reject) => {
      s.on("close", resolve);
      s.on("error", reject);
    });
    const data = Buffer.concat(chunks);
    assert.ok(data.length >= 5, `no response message (grpc-status ${String(status)})`);
    return { encoding, flag: data[0], status };
  }

  it("response_compressed=true: compressed flag set, grpc-encoding gzip", async () => {
    const r = await unary(true);
    assert.equal(r.status, "0");
    assert.equal(r.encoding, "gzip");
    assert.equal(r.flag, 1);
  });

  it("response_compressed=false: compressed flag clear", async () => {
    const r = await unary(false);
    assert.equal(r.status, "0");
    assert.equal(r.flag, 0);
  });
});
