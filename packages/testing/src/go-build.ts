// Builds small standard-library Go programs for tests: offline, in GOPATH mode (no go.mod, no
// module proxy), CGO off, so nothing but Debian's golang-go is needed. The binary is cached in
// os.tmpdir() under a hash of the sources, so a repeated run reuses it; the Go build cache is
// shared between all of them.
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

/** Options of {@link buildGoProgram}. */
export interface GoBuildOptions {
  /**
   * Name of the cached binary and prefix of its cache folder, to tell programs apart in
   * os.tmpdir(); default: the source folder's name.
   */
  cacheTag?: string;
  /** Bound on `go build`; default 300 s (a cold build on a busy 2-core box is slow). */
  timeoutMs?: number;
}

let goOnPath: boolean | undefined;

/** Whether a Go toolchain (`go` on PATH) runs. Probed once per process. */
export function goAvailable(): boolean {
  goOnPath ??= spawnSync("go", ["version"], { stdio: "ignore", timeout: 30_000 }).status === 0;
  return goOnPath;
}

/**
 * The environment of an offline GOPATH-mode build: modules and the proxy off, GOFLAGS cleared
 * (a user's `-mod=…` would fail in GOPATH mode), CGO off (no C toolchain needed; static
 * binaries), and one build cache in os.tmpdir() for every build.
 */
export function offlineGoEnv(gopath: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    GOPATH: gopath,
    GOPROXY: "off",
    GOFLAGS: "",
    CGO_ENABLED: "0",
    GOCACHE: join(tmpdir(), "petrel-go-build-cache"),
  };
}

/** Hash of a folder's .go files (names and contents, in name order). */
function sourceHash(sourceDir: string): string {
  const files = readdirSync(sourceDir)
    .filter((n) => n.endsWith(".go") && !n.endsWith("_test.go"))
    .sort();
  if (files.length === 0) throw new Error(`buildGoProgram: no .go files in ${sourceDir}`);
  const h = createHash("sha256");
  for (const f of files)
    h.update(`${f}\0`)
      .update(readFileSync(join(sourceDir, f)))
      .update("\0");
  return h.digest("hex").slice(0, 16);
}

/**
 * Builds the Go `main` package in `sourceDir` (standard library only) and resolves the binary's
 * path; reuses a binary built before from the same sources. Concurrent builds are safe: each
 * builds in a private folder and renames it into place, so a half-built binary is never seen.
 * Call {@link goAvailable} first.
 */
export async function buildGoProgram(sourceDir: string, options: GoBuildOptions = {}): Promise<string> {
  const tag = options.cacheTag ?? basename(sourceDir);
  const dir = join(tmpdir(), "petrel-go-bin", `${tag}-${sourceHash(sourceDir)}`);
  const bin = join(dir, tag);
  if (existsSync(bin)) return bin;
  mkdirSync(join(tmpdir(), "petrel-go-bin"), { recursive: true });
  const work = mkdtempSync(`${dir}.build-`);
  try {
    await goBuild(["build", "-o", join(work, tag), "."], sourceDir, offlineGoEnv(join(work, "gopath")), options.timeoutMs ?? 300_000);
    try {
      renameSync(work, dir);
    } catch (e) {
      // Another run built the same sources first: use its binary.
      if (!existsSync(bin)) throw e;
      rmSync(work, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return bin;
}

function goBuild(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("go", args, { cwd, env, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err === null) return resolve();
      const why = err.killed ? `killed after ${timeoutMs} ms` : `exit ${String(err.code)}`;
      reject(new Error(`go ${args.join(" ")} in ${cwd}: ${why}\n${stdout}${stderr}`));
    });
  });
}
