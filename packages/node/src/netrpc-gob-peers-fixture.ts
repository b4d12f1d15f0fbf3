// Helpers for the Go programs of the gob codec tests (packages/node/test-peers/gob, built with
// @petrel/testing's buildGoProgram): where they are, and running one with bytes on stdin.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** packages/node/test-peers/gob. @internal */
export const GOB_PEER_DIR = join(dirname(fileURLToPath(import.meta.url)), "../test-peers/gob");

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
