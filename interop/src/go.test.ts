// gRPC interop cases (grpc/grpc doc/interop-test-descriptions.md) against grpc-go, Debian's 1.33:
//   grpc-go client → Petrel server:  interop/go/client (child process per case) against interop-server.ts
//   Petrel client → grpc-go server:  interop-client.ts (child process per case) against interop/go/server
// plus grpc-go → grpc-go as a control for the Go programs themselves (not in the matrix).
// The Go programs are built by interop/go/go-peer.ts (cached in the OS temp dir). Writes
// interop/results/matrix-go.json, which interop/src/matrix.ts merges into the README table.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildGoPeers, type GoPeers, goPeersMissing } from "../go/go-peer.js";
import {
  CASES,
  createInteropMatrix,
  type Expected,
  petrelClientArgs,
  requirePeer,
  run,
  type Spawned,
  startPetrelServer,
  startServer,
  stop,
  stopAll,
} from "./harness.js";

const GO_TO_PETREL = "grpc-go client → Petrel server";
const PETREL_TO_GO = "Petrel client → grpc-go server";
const GO_TO_GO = "grpc-go client → grpc-go server (control)";

const GO_SERVER_NO_SWITCH =
  "grpc-go 1.33's server cannot honour response_compressed: it has no per-call or per-message compression switch (grpc.SetSendCompressor came in 1.54) and compresses every response exactly when the request was compressed (grpc-go's own interop server ignores the field too)";

/** Known non-passes: direction -> case -> [expected outcome, why]. Everything else must pass. */
const EXPECTED: Expected = {
  [GO_TO_PETREL]: {},
  [PETREL_TO_GO]: {
    server_compressed_unary: ["fail", GO_SERVER_NO_SWITCH],
    server_compressed_streaming: ["fail", GO_SERVER_NO_SWITCH],
  },
  [GO_TO_GO]: {
    server_compressed_unary: ["fail", GO_SERVER_NO_SWITCH],
    server_compressed_streaming: ["fail", GO_SERVER_NO_SWITCH],
  },
};

/** Time each grpc-go or Petrel client run gets before it is killed. */
const RUN_TIMEOUT_MS = 90_000;

// grpc-go → grpc-go is recorded too but is no part of the matrix.
const matrix = createInteropMatrix({
  file: "matrix-go.json",
  directions: [GO_TO_PETREL, PETREL_TO_GO],
  expected: EXPECTED,
  runTimeoutMs: RUN_TIMEOUT_MS,
});
after(async () => {
  await stopAll();
  matrix.writeIfComplete();
});

// ---- Go toolchain -----------------------------------------------------------------------------------

const missing = goPeersMissing();
let peers: GoPeers | undefined;

/** In CI missing Go peers fail the test; elsewhere the test is skipped, loudly. */
const requireGo = requirePeer("grpc-go interop tests", missing);

before(async () => {
  // Build once for the whole file; the cached binaries make later runs start at once.
  if (missing === undefined) peers = await buildGoPeers();
});

function goPeers(): GoPeers {
  assert.ok(peers !== undefined, "Go peers were not built");
  return peers;
}

const startGoServer = () => startServer("grpc-go interop server", goPeers().server, ["--port=0"]);

function goClientArgs(port: number, name: string): string[] {
  return ["--server_host=127.0.0.1", `--server_port=${port}`, `--test_case=${name}`, "--use_tls=false"];
}

/** One direction: a server started once, then one client process per case. */
function direction(
  title: string,
  startIt: () => Promise<{ server: Spawned; port: number }>,
  client: (port: number, name: string) => [string, string[]],
): void {
  describe(title, () => {
    let server: Spawned | undefined;
    let port = 0;
    before(async () => {
      if (missing === undefined) ({ server, port } = await startIt());
    });
    after(() => stop(server));

    for (const name of CASES) {
      it(name, async (t) => {
        if (!requireGo(t)) return matrix.record(title, name, "skipped");
        const [cmd, args] = client(port, name);
        await matrix.runCase(t, title, name, cmd, args, { passLine: /: PASS/ });
      });
    }
  });
}

direction(
  GO_TO_PETREL,
  () => startPetrelServer(),
  (port, name) => [goPeers().client, goClientArgs(port, name)],
);
direction(PETREL_TO_GO, startGoServer, (port, name) => [process.execPath, petrelClientArgs(port, name, ["--use_tls=false"])]);
direction(GO_TO_GO, startGoServer, (port, name) => [goPeers().client, goClientArgs(port, name)]);

describe("grpc-go interop programs: command line", () => {
  it("the server stops gracefully on SIGTERM", async (t) => {
    if (!requireGo(t)) return;
    const { server } = await startGoServer();
    await stop(server);
    assert.equal((await server.exited).code, 0, server.output());
    assert.match(server.output(), /go-interop-server: closed/, server.output());
  });

  it("--use_tls=true is refused with exit 2", async (t) => {
    if (!requireGo(t)) return;
    const srv = await run(goPeers().server, ["--port=0", "--use_tls=true"], RUN_TIMEOUT_MS);
    assert.equal(srv.code, 2, srv.output);
    assert.match(srv.output, /TLS not supported/);
    const cli = await run(goPeers().client, [...goClientArgs(1, "empty_unary"), "--use_tls=true"], RUN_TIMEOUT_MS);
    assert.equal(cli.code, 2, cli.output);
    assert.match(cli.output, /TLS not supported/);
  });

  it("an unknown test case or flag is a usage error", async (t) => {
    if (!requireGo(t)) return;
    const cli = await run(goPeers().client, goClientArgs(1, "no_such_case"), RUN_TIMEOUT_MS);
    assert.equal(cli.code, 2, cli.output);
    assert.match(cli.output, /unknown --test_case/);
    const srv = await run(goPeers().server, ["--port=0", "--no_such_flag=1"], RUN_TIMEOUT_MS);
    assert.equal(srv.code, 2, srv.output);
    assert.match(srv.output, /no_such_flag/);
  });
});
