// gRPC interop cases against Python grpcio (Debian's python3-grpcio, C-core underneath):
//   python → petrel:   interop/python/interop_client.py (child process per case) against the Petrel interop server
//   petrel → python:   the Petrel interop client against interop/python/interop_server.py
// Debian ships no Python interop programs, so interop/python/ carries small ones that follow grpc's
// doc/interop-test-descriptions.md; they generate their stubs from /usr/share/grpc-proto at start-up.
// Writes interop/results/matrix-python.json (merged by matrix.ts).
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { type Matrix, matrixPath, type Outcome, repoRoot } from "./matrix.js";

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

const PYTHON_TO_PETREL = "Python grpcio client → Petrel server";
const PETREL_TO_PYTHON = "Petrel client → Python grpcio server";

/**
 * Known non-passes: direction -> case -> [expected outcome, why]. Everything else must pass.
 * Exit code 3 from the Python client means grpcio's public API cannot express the case ("n/a");
 * from the Petrel client it means Petrel cannot run it yet ("not yet").
 */
const EXPECTED: Record<string, Record<string, [Outcome, string]>> = {
  [PYTHON_TO_PETREL]: {
    client_compressed_streaming: [
      "n/a",
      "grpcio's client compresses per call (compression=...) with no per-message switch, so it cannot send the uncompressed second message; its probe and compressed message do pass",
    ],
  },
  [PETREL_TO_PYTHON]: {},
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

// ---- the Python peer ------------------------------------------------------------------------------

/** Debian's interpreter: the python3 first on PATH may be another build that cannot see Debian's packages. */
const PYTHON = "/usr/bin/python3";
const PY_DIR = join(repoRoot, "interop/python");
const PY_CLIENT = join(PY_DIR, "interop_client.py");
const PY_SERVER = join(PY_DIR, "interop_server.py");
const PEER_INSTALL = "apt-get install -y python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc grpc-proto";

/** Why the Python peer cannot run here, or undefined when it can (grpcio imports and the stubs generate). */
function pythonPeerMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  // Importing stubs runs protoc + grpc_python_plugin on /usr/share/grpc-proto, so this checks all of it.
  const r = spawnSync(PYTHON, ["-B", "-c", "import grpc, google.protobuf, stubs; print(grpc.__version__)"], {
    cwd: PY_DIR,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.status !== 0) return `the Python gRPC peer does not start: ${(r.stderr || String(r.error ?? "")).trim().split("\n").at(-1)}`;
  return undefined;
}
const missing = pythonPeerMissing();
const MISSING_MSG = `${missing} — ${PEER_INSTALL}`;

/** In CI a missing peer fails the test; elsewhere the test is skipped, loudly. */
function requirePython(t: TestContext): boolean {
  if (missing === undefined) return true;
  if (process.env.CI !== undefined && process.env.CI !== "") throw new Error(`${MISSING_MSG} (CI must install it: .ci/run APT_PACKAGES)`);
  t.skip(`SKIPPED: ${MISSING_MSG}`);
  return false;
}
if (missing !== undefined && !process.env.CI) console.warn(`\n!!! SKIPPING Python grpcio interop tests: ${MISSING_MSG}\n`);

// ---- child processes -----------------------------------------------------------------------------

interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
/** Every child still running, for the final cleanup. */
const spawned = new Set<Spawned>();

function start(cmd: string, args: string[]): Spawned {
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
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

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
async function stop(s: Spawned | undefined, graceMs = 10_000): Promise<void> {
  if (s === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill("SIGTERM");
  const timer = setTimeout(() => s.child.kill("SIGKILL"), graceMs);
  await s.exited;
  clearTimeout(timer);
}

after(async () => {
  await Promise.all([...spawned].map((s) => stop(s)));
  const directions = [PYTHON_TO_PETREL, PETREL_TO_PYTHON];
  const m: Matrix = { directions, cases: CASES, results, notes };
  // Only a complete run with the peer writes the matrix: a filtered run (--test-name-pattern) or a
  // machine without grpcio must not clobber the recorded results.
  if (!directions.every((d) => CASES.every((c) => results[d]?.[c] !== undefined && results[d][c] !== "skipped"))) return;
  const path = join(dirname(matrixPath), "matrix-python.json");
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(m, null, 2)}\n`);
});

/** Starts a server that prints `listening on HOST:PORT`; resolves with the port. */
async function startServer(what: string, cmd: string, args: string[], timeoutMs = 60_000): Promise<{ server: Spawned; port: number }> {
  const server = start(cmd, args);
  const t0 = Date.now();
  for (;;) {
    const m = /listening on \S+:(\d+)/.exec(server.output());
    if (m !== null) return { server, port: Number(m[1]) };
    if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`${what} exited early:\n${server.output()}`);
    if (Date.now() - t0 > timeoutMs) {
      await stop(server);
      throw new Error(`${what} not ready after ${timeoutMs} ms:\n${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- one case -----------------------------------------------------------------------------------

/** Outcome from an interop client's exit code: 0 pass, 3 `unsupported` (the client cannot run the case), else fail. */
function outcomeOf(code: number | null, unsupported: Outcome): Outcome {
  return code === 0 ? "pass" : code === 3 ? unsupported : "fail";
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return (lines.find((l) => /FAIL|Error|error/.test(l)) ?? lines.at(-1) ?? "").slice(0, 200);
}

async function runCase(t: TestContext, direction: string, name: string, cmd: string, args: string[]): Promise<void> {
  const { code, output } = await run(cmd, args);
  const outcome = outcomeOf(code, cmd === PYTHON ? "n/a" : "not yet");
  const expected = EXPECTED[direction]?.[name];
  record(direction, name, outcome, outcome === "pass" ? undefined : (expected?.[1] ?? `exit ${code}: ${lastLine(output)}`));
  if (expected !== undefined && outcome !== "pass") {
    // A known non-pass must stay exactly that (a pass is welcome: EXPECTED is then stale).
    t.todo(`${expected[0]}: ${expected[1]}`);
    assert.equal(outcome, expected[0], `${name}: expected "${expected[0]}", got "${outcome}" (exit ${code}):\n${output}`);
    return;
  }
  assert.equal(code, 0, `${direction}: ${name} failed (exit ${code}):\n${output}`);
  assert.match(output, new RegExp(`${name}: PASS`), output);
}

function pythonClientArgs(port: number, name: string): string[] {
  return ["-B", PY_CLIENT, "--server_host=127.0.0.1", `--server_port=${port}`, `--test_case=${name}`];
}

function petrelClientArgs(port: number, name: string): string[] {
  return ["--import", "tsx", "interop/src/interop-client.ts", "--server_host=127.0.0.1", `--server_port=${port}`, `--test_case=${name}`];
}

// ---- the two directions ---------------------------------------------------------------------------

describe(PYTHON_TO_PETREL, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    if (missing !== undefined) return;
    ({ server, port } = await startServer("Petrel interop server", process.execPath, [
      "--import",
      "tsx",
      "interop/src/interop-server.ts",
      "--port=0",
    ]));
  });
  after(() => stop(server));

  for (const name of CASES) {
    it(name, async (t) => {
      if (!requirePython(t)) return record(PYTHON_TO_PETREL, name, "skipped");
      await runCase(t, PYTHON_TO_PETREL, name, PYTHON, pythonClientArgs(port, name));
    });
  }
});

describe(PETREL_TO_PYTHON, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    if (missing !== undefined) return;
    ({ server, port } = await startServer("Python interop server", PYTHON, ["-B", PY_SERVER, "--port=0"]));
  });
  after(() => stop(server));

  for (const name of CASES) {
    it(name, async (t) => {
      if (!requirePython(t)) return record(PETREL_TO_PYTHON, name, "skipped");
      await runCase(t, PETREL_TO_PYTHON, name, process.execPath, petrelClientArgs(port, name));
    });
  }
});

describe("Python interop programs", () => {
  it("the server binds 127.0.0.1 and closes gracefully on SIGTERM", async (t) => {
    if (!requirePython(t)) return;
    const { server } = await startServer("Python interop server", PYTHON, ["-B", PY_SERVER, "--port=0"]);
    assert.match(server.output(), /listening on 127\.0\.0\.1:\d+/);
    await stop(server);
    assert.match(server.output(), /interop_server: closed/, server.output());
    assert.equal(server.child.exitCode, 0, server.output());
  });

  it("bad usage exits 2 with a message", async (t) => {
    if (!requirePython(t)) return;
    const tls = await run(PYTHON, [...pythonClientArgs(1, "empty_unary"), "--use_tls=true"]);
    assert.equal(tls.code, 2, tls.output);
    assert.match(tls.output, /TLS not supported/);
    const unknown = await run(PYTHON, pythonClientArgs(1, "no_such_case"));
    assert.equal(unknown.code, 2, unknown.output);
    assert.match(unknown.output, /unknown --test_case "no_such_case"/);
    const noPort = await run(PYTHON, ["-B", PY_SERVER]);
    assert.equal(noPort.code, 2, noPort.output);
    assert.match(noPort.output, /--port/);
  });
});
