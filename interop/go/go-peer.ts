// Builds the grpc-go interop client and server (interop/go/{client,server}) against Debian's Go
// packages, offline, in GOPATH mode: the Go stubs are generated from /usr/share/grpc-proto into a
// temp GOPATH at build time (never committed). Binaries land in os.tmpdir()/petrel-go-interop-<hash
// of every input>, so a repeated run reuses them; the Go build cache is shared across hashes, so a
// changed source recompiles only Petrel's few packages (a cold build takes ~20 s on 2 cores).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { offlineGoEnv } from "@petrel/testing";

/** Where Debian's grpc-proto package puts the gRPC protos. */
export const GRPC_PROTO_ROOT = "/usr/share/grpc-proto";
/** The interop protos, relative to {@link GRPC_PROTO_ROOT}. */
export const GO_PROTO_FILES = ["grpc/testing/test.proto", "grpc/testing/messages.proto", "grpc/testing/empty.proto"];
/** Debian's GOPATH of Go library sources. */
export const DEBIAN_GOCODE = "/usr/share/gocode";

/**
 * Debian packages the Go peers need, as `package:probe-path` (the .ci/run APT_PACKAGES form).
 * All of them must be named: otherwise apt satisfies grpc-go's dependency with the old protobuf
 * 1.3 package and the build fails (`undefined: proto.ProtoPackageIsVersion4`).
 */
export const GO_APT_PACKAGES = [
  "golang-go:/usr/bin/go",
  `golang-google-grpc-dev:${DEBIAN_GOCODE}/src/google.golang.org/grpc/version.go`,
  `golang-github-golang-protobuf-1-5-dev:${DEBIAN_GOCODE}/src/github.com/golang/protobuf/proto/registry.go`,
  `golang-google-protobuf-dev:${DEBIAN_GOCODE}/src/google.golang.org/protobuf/proto/proto.go`,
  "protobuf-compiler:/usr/bin/protoc",
  "protoc-gen-go:/usr/bin/protoc-gen-go",
  "protoc-gen-go-grpc:/usr/bin/protoc-gen-go-grpc",
  `grpc-proto:${GRPC_PROTO_ROOT}/grpc/testing/test.proto`,
];

/** The built programs. */
export interface GoPeers {
  /** `client --server_host=H --server_port=P --test_case=NAME [--use_tls=false]` */
  readonly client: string;
  /** `server --port=P [--use_tls=false]`; prints `go-interop-server: listening on 127.0.0.1:PORT`. */
  readonly server: string;
}

/** Import path of the generated stubs (the protos have no go_package option: protoc gets M flags). */
const STUB_IMPORT = "petrel/interop/grpc_testing";
/** Go packages of interop/go, copied into the temp GOPATH under petrel/interop/. */
const GO_PACKAGES = ["client", "server", "wirestats"];
const SOURCE_DIR = dirname(fileURLToPath(import.meta.url));

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Why the Go peers cannot be built here (with the apt command that fixes it), or undefined if they can. */
export function goPeersMissing(): string | undefined {
  const missing: string[] = [];
  for (const entry of GO_APT_PACKAGES) {
    const [pkg, probe] = entry.split(/:(.*)/s);
    const tool = probe.startsWith("/usr/bin/") ? probe.slice("/usr/bin/".length) : undefined;
    if (tool !== undefined ? which(tool) === undefined : !existsSync(probe)) missing.push(pkg);
  }
  if (missing.length === 0) return undefined;
  return `Go interop peers need Debian packages that are missing: apt-get install -y ${missing.join(" ")}`;
}

/** Runs a command (killed after `timeoutMs`); rejects with its output on failure. */
function exec(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err === null) return resolve(`${stdout}${stderr}`);
        const why = err.killed ? `killed after ${opts.timeoutMs} ms` : `exit ${String(err.code)}`;
        reject(new Error(`${cmd} ${args.join(" ")}: ${why}\n${stdout}${stderr}`));
      },
    );
  });
}

function goSources(): string[] {
  return GO_PACKAGES.flatMap((p) =>
    readdirSync(join(SOURCE_DIR, p))
      .filter((n) => n.endsWith(".go"))
      .sort()
      .map((n) => join(SOURCE_DIR, p, n)),
  );
}

/** Hash of everything the binaries depend on: our sources, the protos, the toolchain and library versions. */
async function inputsHash(): Promise<string> {
  const h = createHash("sha256");
  for (const f of [...goSources(), ...GO_PROTO_FILES.map((p) => join(GRPC_PROTO_ROOT, p))]) {
    h.update(`${f}\0`).update(readFileSync(f)).update("\0");
  }
  h.update(await exec("go", ["version"], { timeoutMs: 30_000 }));
  h.update(await exec("protoc", ["--version"], { timeoutMs: 30_000 }));
  for (const f of [
    `${DEBIAN_GOCODE}/src/google.golang.org/grpc/version.go`,
    `${DEBIAN_GOCODE}/src/google.golang.org/protobuf/internal/version/version.go`,
  ]) {
    if (existsSync(f)) h.update(readFileSync(f));
  }
  for (const tool of ["protoc-gen-go", "protoc-gen-go-grpc"]) {
    const p = which(tool);
    if (p !== undefined) h.update(`${tool}:${statSync(p).size}:${statSync(p).mtimeMs}`);
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * Removes finished builds for other source hashes (~25 MB each): only the newest one is reused.
 * Unfinished `.build-` dirs are left alone, since a concurrent run may own them.
 */
function pruneOldBuilds(keep: string): void {
  const prefix = "petrel-go-interop-";
  for (const name of readdirSync(tmpdir())) {
    const dir = join(tmpdir(), name);
    if (!name.startsWith(prefix) || name.includes(".build-") || dir === keep) continue;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Builds (or reuses) the grpc-go interop client and server. Call {@link goPeersMissing} first.
 * @param timeoutMs bound on each build step (protoc, go build); default 100 s.
 */
export async function buildGoPeers(timeoutMs = 100_000): Promise<GoPeers> {
  const out = join(tmpdir(), `petrel-go-interop-${await inputsHash()}`);
  const peers: GoPeers = { client: join(out, "bin/client"), server: join(out, "bin/server") };
  if (existsSync(peers.client) && existsSync(peers.server)) return peers;

  // Build in a private dir, then rename: a half-finished or concurrent build never looks complete.
  const work = mkdtempSync(`${out}.build-`);
  try {
    const gopath = join(work, "gopath");
    const pkgRoot = join(gopath, "src/petrel/interop");
    for (const p of GO_PACKAGES) cpSync(join(SOURCE_DIR, p), join(pkgRoot, p), { recursive: true });
    const stubs = join(gopath, "src", STUB_IMPORT);
    mkdirSync(stubs, { recursive: true });
    const m = GO_PROTO_FILES.map((p) => `M${p}=${STUB_IMPORT}`).join(",");
    await exec(
      "protoc",
      [
        `-I${GRPC_PROTO_ROOT}`,
        `--go_out=${join(gopath, "src")}`,
        `--go_opt=paths=import,${m}`,
        `--go-grpc_out=${join(gopath, "src")}`,
        `--go-grpc_opt=paths=import,${m}`,
        ...GO_PROTO_FILES,
      ],
      { timeoutMs },
    );
    await exec("go", ["build", "-o", `${join(work, "bin")}/`, "petrel/interop/client", "petrel/interop/server"], {
      cwd: work,
      env: offlineGoEnv(`${gopath}${delimiter}${DEBIAN_GOCODE}`),
      timeoutMs,
    });
    try {
      renameSync(work, out);
      pruneOldBuilds(out);
    } catch (e) {
      // Another run finished the same build first: use its result.
      if (!(existsSync(peers.client) && existsSync(peers.server))) throw e;
      rmSync(work, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return peers;
}
