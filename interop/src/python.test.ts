// gRPC interop cases against Python grpcio (Debian's python3-grpcio, C-core underneath):
//   python → petrel:   interop/python/interop_client.py (child process per case) against the Petrel interop server
//   petrel → python:   the Petrel interop client against interop/python/interop_server.py
// Debian ships no Python interop programs, so interop/python/ carries small ones that follow grpc's
// doc/interop-test-descriptions.md; they generate their stubs from /usr/share/grpc-proto at start-up.
// Writes interop/results/matrix-python.json (merged by matrix.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CASES,
  createInteropMatrix,
  type Expected,
  petrelClientArgs,
  requirePeer,
  run,
  type Spawned,
  type StartServerOptions,
  startPetrelServer,
  startServer,
  stop,
  stopAll,
} from "./harness.js";
import { repoRoot } from "./matrix.js";

const PYTHON_TO_PETREL = "Python grpcio client → Petrel server";
const PETREL_TO_PYTHON = "Petrel client → Python grpcio server";

/**
 * Known non-passes: direction -> case -> [expected outcome, why]. Everything else must pass.
 * Exit code 3 from the Python client means grpcio's public API cannot express the case ("n/a");
 * from the Petrel client it means Petrel cannot run it yet ("not yet").
 */
const EXPECTED: Expected = {
  [PYTHON_TO_PETREL]: {
    client_compressed_streaming: [
      "n/a",
      "grpcio's client compresses per call (compression=...) with no per-message switch, so it cannot send the uncompressed second message; its probe and compressed message do pass",
    ],
  },
  [PETREL_TO_PYTHON]: {},
};

// The Python programs get longer than the harness defaults: 60 s to start (they generate their stubs at
// start-up) and 10 s between SIGTERM and SIGKILL.
const STOP_GRACE_MS = 10_000;
const SERVER_START: StartServerOptions = { timeoutMs: 60_000, graceMs: STOP_GRACE_MS };

const matrix = createInteropMatrix({ file: "matrix-python.json", directions: [PYTHON_TO_PETREL, PETREL_TO_PYTHON], expected: EXPECTED });
after(async () => {
  await stopAll(STOP_GRACE_MS);
  matrix.writeIfComplete();
});

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
const requirePython = requirePeer("Python grpcio interop tests", missing === undefined ? undefined : MISSING_MSG);

const startPythonServer = () => startServer("Python interop server", PYTHON, ["-B", PY_SERVER, "--port=0"], SERVER_START);

/** Both clients print `<case>: PASS` on success. */
const passLine = (name: string) => new RegExp(`${name}: PASS`);

function pythonClientArgs(port: number, name: string): string[] {
  return ["-B", PY_CLIENT, "--server_host=127.0.0.1", `--server_port=${port}`, `--test_case=${name}`];
}

// ---- the two directions ---------------------------------------------------------------------------

describe(PYTHON_TO_PETREL, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    if (missing === undefined) ({ server, port } = await startPetrelServer([], SERVER_START));
  });
  after(() => stop(server, STOP_GRACE_MS));

  for (const name of CASES) {
    it(name, async (t) => {
      if (!requirePython(t)) return matrix.record(PYTHON_TO_PETREL, name, "skipped");
      // Exit 3 from the Python client: grpcio's public API cannot express the case.
      await matrix.runCase(t, PYTHON_TO_PETREL, name, PYTHON, pythonClientArgs(port, name), { onExit3: "n/a", passLine: passLine(name) });
    });
  }
});

describe(PETREL_TO_PYTHON, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    if (missing === undefined) ({ server, port } = await startPythonServer());
  });
  after(() => stop(server, STOP_GRACE_MS));

  for (const name of CASES) {
    it(name, async (t) => {
      if (!requirePython(t)) return matrix.record(PETREL_TO_PYTHON, name, "skipped");
      await matrix.runCase(t, PETREL_TO_PYTHON, name, process.execPath, petrelClientArgs(port, name), { passLine: passLine(name) });
    });
  }
});

describe("Python interop programs", () => {
  it("the server binds 127.0.0.1 and closes gracefully on SIGTERM", async (t) => {
    if (!requirePython(t)) return;
    const { server } = await startPythonServer();
    assert.match(server.output(), /listening on 127\.0\.0\.1:\d+/);
    await stop(server, STOP_GRACE_MS);
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
