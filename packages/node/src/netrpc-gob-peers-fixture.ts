// Builds and runs the Go programs of the net/rpc gob tests (packages/node/test-peers/gob), with
// the JSON-RPC peer helpers' approach: standard library only, GOPATH mode, offline, CGO off,
// binaries cached in os.tmpdir by source hash.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./jsonrpc-peers-fixture.js";

/** packages/node/test-peers/gob. @internal */
export const GOB_PEER_DIR = join(dirname(fileURLToPath(import.meta.url)), "../test-peers/gob");

/** Builds test-peers/gob/<name>/main.go; cached in os.tmpdir by source hash. @internal */
export async function buildGobPeer(name: string): Promise<string> {
  const src = join(GOB_PEER_DIR, name, "main.go");
  const hash = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "petrel-gob-go", `${name}-${hash}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  const work = `${dir}.${process.pid}.${Date.now()}`;
  mkdirSync(work, { recursive: true });
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: join(work, "gopath"),
      GOPROXY: "off",
      GOFLAGS: "",
      CGO_ENABLED: "0",
      GOCACHE: join(tmpdir(), "petrel-go-build-cache"),
    };
    await run("go", ["build", "-o", join(work, name), src], 300_000, env);
    mkdirSync(dirname(dir), { recursive: true });
    try {
      renameSync(work, dir);
    } catch (e) {
      // Another run built the same source first: use its binary.
      if (!existsSync(bin)) throw e;
      rmSync(work, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return bin;
}

/** Runs a program with `input` on stdin; resolves its stdout as bytes, rejects with stderr on failure. @internal */
export function runBytes(cmd: string, args: string[], input?: Uint8Array, timeoutMs = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${code ?? signal}):\n${err}`));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input === undefined ? undefined : Buffer.from(input));
  });
}
