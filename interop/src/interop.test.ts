// gRPC interop cases (grpc/grpc doc/interop-test-descriptions.md) in three directions:
//   petrel → petrel:     the Petrel interop client (child process per case) against the Petrel interop server
//   ruby → petrel:       the official interop client (Debian's ruby-grpc, C-core) against the Petrel server
//   petrel → ruby:       the Petrel interop client against the official ruby interop server
// Writes interop/results/matrix.json; `node --import tsx interop/src/matrix.ts --write` renders it into README.md.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { createRouter } from "@petrel/core";
import { createGrpcServer, type GrpcServer } from "@petrel/node";
import { SimpleRequestSchema } from "./gen/grpc/testing/messages_pb.js";
import {
  CASES,
  canConnect,
  createInteropMatrix,
  type Expected,
  freePort,
  PETREL_SERVER,
  petrelClientArgs,
  requirePeer,
  run,
  type Spawned,
  start,
  startPetrelServer,
  startServer,
  stop,
  stopAll,
  waitFor,
} from "./harness.js";
import { registerTestService } from "./test-service.js";
import { TEST_SERVER_HOST_OVERRIDE } from "./testdata.js";

const PETREL_TO_PETREL = "Petrel client → Petrel server";
const RUBY_TO_PETREL = "official client (ruby-grpc) → Petrel server";
const PETREL_TO_RUBY = "Petrel client → official server (ruby-grpc)";

/** Cases the official ruby client (grpc 1.51) has; the others are n/a in that direction. */
const RUBY_CLIENT_CASES = new Set(
  CASES.filter((c) => !["special_status_message", "server_compressed_unary", "server_compressed_streaming"].includes(c)),
);

/** Known non-passes: direction -> case -> [expected outcome, why]. Everything else must pass. */
const EXPECTED: Expected = {
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

const matrix = createInteropMatrix({
  file: "matrix.json",
  directions: [PETREL_TO_PETREL, RUBY_TO_PETREL, PETREL_TO_RUBY],
  expected: EXPECTED,
  // Petrel → Petrel runs without ruby, so a ruby-less run still records it (ruby's columns "skipped").
  writeSkipped: true,
});
after(async () => {
  await stopAll();
  matrix.writeIfComplete();
});

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
const requireRuby = requirePeer("official gRPC interop tests", rubyDir === undefined ? RUBY_MISSING : undefined);

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

/** Starts the official ruby interop server on a free port (it cannot report the port it got from 0). */
async function startRubyServer(what: string, extraArgs: string[] = []): Promise<{ server: Spawned; port: number }> {
  const port = await freePort();
  const server = start("ruby", ["-e", RUBY_BIND_LOCAL, join(rubyDir as string, "server.rb"), `--port=${port}`, ...extraArgs]);
  await waitFor(what, server, () => canConnect(port));
  return { server, port };
}

/** Arguments that run the official ruby interop client for case `name` against 127.0.0.1:`port`. */
function rubyClientArgs(port: number, name: string): string[] {
  return [join(rubyDir as string, "client.rb"), "--server_host=127.0.0.1", `--server_port=${port}`, `--test_case=${name}`];
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
    it(name, (t) => matrix.runCase(t, PETREL_TO_PETREL, name, process.execPath, petrelClientArgs(port, name)));
  }
});

describe("npm script entry points", () => {
  it("npm run interop:server / interop:client, then a graceful SIGTERM", async () => {
    const { server, port } = await startServer(
      "npm run interop:server",
      "npm",
      ["run", "--silent", "interop:server", "--", "--port=0", "--use_tls=false", "--host=127.0.0.1"],
      { detached: true },
    );
    try {
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
    const srv = await run(process.execPath, ["--import", "tsx", PETREL_SERVER, "--port=0", "--use_tls=maybe"]);
    assert.equal(srv.code, 2, srv.output);
    assert.match(srv.output, /--use_tls must be true or false/);
    const cli = await run(process.execPath, [...petrelClientArgs(1, "empty_unary"), "--use_tls=yes"]);
    assert.equal(cli.code, 2, cli.output);
    assert.match(cli.output, /--use_tls must be true or false/);
  });

  it("an unknown test case is a usage error", async () => {
    const cli = await run(process.execPath, petrelClientArgs(1, "no_such_case"));
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
        matrix.record(RUBY_TO_PETREL, name, "n/a");
        t.skip("the official ruby interop client (grpc 1.51) does not have this case");
        return;
      }
      if (!requireRuby(t)) return matrix.record(RUBY_TO_PETREL, name, "skipped");
      await matrix.runCase(t, RUBY_TO_PETREL, name, "ruby", rubyClientArgs(port, name));
    });
  }
});

describe(PETREL_TO_RUBY, () => {
  let server: Spawned | undefined;
  let port = 0;
  before(async () => {
    if (rubyDir !== undefined) ({ server, port } = await startRubyServer("ruby interop server"));
  });
  // The ruby server may abort inside C-core while shutting down on SIGTERM; that is not our concern.
  after(() => stop(server));

  for (const name of CASES) {
    it(name, async (t) => {
      if (!requireRuby(t)) return matrix.record(PETREL_TO_RUBY, name, "skipped");
      await matrix.runCase(t, PETREL_TO_RUBY, name, process.execPath, petrelClientArgs(port, name));
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
    if (rubyDir !== undefined) ({ server: ruby, port: rubyPort } = await startRubyServer("ruby interop server (TLS)", ["--use_tls=true"]));
  });
  after(async () => {
    await stop(petrel);
    await stop(ruby);
  });

  for (const name of TLS_CASES) {
    it(`Petrel client → Petrel server: ${name}`, async () => {
      const r = await run(process.execPath, [...petrelClientArgs(petrelPort, name), ...TLS_CLIENT_FLAGS]);
      assert.equal(r.code, 0, r.output);
    });
    it(`official client (ruby-grpc) → Petrel server: ${name}`, async (t) => {
      if (!requireRuby(t)) return;
      const r = await run("ruby", [...rubyClientArgs(petrelPort, name), ...TLS_CLIENT_FLAGS]);
      assert.equal(r.code, 0, r.output);
    });
    it(`Petrel client → official server (ruby-grpc): ${name}`, async (t) => {
      if (!requireRuby(t)) return;
      const r = await run(process.execPath, [...petrelClientArgs(rubyPort, name), ...TLS_CLIENT_FLAGS]);
      assert.equal(r.code, 0, r.output);
    });
  }

  it("a client that does not trust the test CA, or expects another name, or speaks cleartext, fails UNAVAILABLE", async () => {
    for (const flags of [
      ["--use_tls=true", `--server_host_override=${TEST_SERVER_HOST_OVERRIDE}`], // system roots only
      ["--use_tls=true", "--use_test_ca=true", "--server_host_override=other.example.com"],
      ["--use_tls=false"],
    ]) {
      const r = await run(process.execPath, [...petrelClientArgs(petrelPort, "empty_unary"), ...flags]);
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
