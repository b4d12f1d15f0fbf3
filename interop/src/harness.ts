// Shared machinery of the interop suites (interop.test.ts, go.test.ts, python.test.ts): the case list,
// child processes with a final cleanup, server start-up, one case run against its known non-passes,
// the results matrix, and the "fail in CI, skip loudly elsewhere" rule for missing peers.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { type Matrix, matrixPath, type Outcome, repoRoot } from "./matrix.js";

/** The interop cases every suite runs, in matrix row order (grpc/grpc doc/interop-test-descriptions.md). */
export const CASES = [
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

/** Default time a child run by {@link run} gets before SIGKILL. */
export const RUN_TIMEOUT_MS = 120_000;
/** Default time between SIGTERM and SIGKILL in {@link stop}. */
export const STOP_GRACE_MS = 5000;

// ---- child processes -----------------------------------------------------------------------------

/** A child process started by {@link start}, with its stdout and stderr collected together. */
export interface Spawned {
  child: ChildProcess;
  /** Everything written so far on stdout and stderr, interleaved as it arrived. */
  output: () => string;
  /** Settles when the child has exited and its pipes are closed; code and signal are null if it never spawned. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const detachedChildren = new WeakSet<ChildProcess>();
/** Every child still running, for {@link stopAll}. */
const running = new Set<Spawned>();

/**
 * Starts `cmd args` in the repository root with piped output. `detached` puts it in its own process
 * group, which {@link stop} then signals as a whole (for wrappers such as `npm run` that fork the real program).
 */
export function start(cmd: string, args: string[], opts: { detached?: boolean } = {}): Spawned {
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: opts.detached ?? false });
  if (opts.detached === true) detachedChildren.add(child);
  let out = "";
  const add = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on("data", add);
  child.stderr?.on("data", add);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
    child.once("error", (e) => {
      out += `\nspawn error: ${e.message}`;
      resolve({ code: null, signal: null });
    });
  });
  const s: Spawned = { child, output: () => out, exited };
  running.add(s);
  void exited.then(() => running.delete(s));
  return s;
}

/** Runs a command to completion (killed after `timeoutMs`), returning its exit code and output. */
export async function run(cmd: string, args: string[], timeoutMs = RUN_TIMEOUT_MS): Promise<{ code: number | null; output: string }> {
  const s = start(cmd, args);
  const timer = setTimeout(() => s.child.kill("SIGKILL"), timeoutMs);
  const { code } = await s.exited;
  clearTimeout(timer);
  return { code, output: s.output() };
}

/** Stops a child (its whole process group if detached): SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(s: Spawned | undefined, graceMs = STOP_GRACE_MS): Promise<void> {
  if (s === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (s.child.pid !== undefined && detachedChildren.has(s.child)) process.kill(-s.child.pid, sig);
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

/** Stops every child still running; call it from the file's last `after` hook so no process outlives the run. */
export async function stopAll(graceMs = STOP_GRACE_MS): Promise<void> {
  await Promise.all([...running].map((s) => stop(s, graceMs)));
}

// ---- servers ---------------------------------------------------------------------------------------

/** A free TCP port on 127.0.0.1, for peers that cannot listen on port 0 and report the port. */
export async function freePort(): Promise<number> {
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

/** Polls `ready` until it holds; throws with the child's output if the child exits first or `timeoutMs` passes. */
export async function waitFor(what: string, s: Spawned, ready: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) throw new Error(`${what} exited early:\n${s.output()}`);
    if (await ready()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** How long to wait for the `listening on` line. Default 30 s. */
  timeoutMs?: number;
  /** Start the server in its own process group (see {@link start}). Default false. */
  detached?: boolean;
  /** Grace before SIGKILL when a server that never got ready is stopped. Default {@link STOP_GRACE_MS}. */
  graceMs?: number;
}

/**
 * Starts a server that prints `listening on HOST:PORT` once it accepts calls (every interop server
 * here is started with `--port=0`), and resolves with it and that port. A server that exits first
 * or is not ready in time is stopped and reported with its output.
 */
export async function startServer(
  what: string,
  cmd: string,
  args: string[],
  opts: StartServerOptions = {},
): Promise<{ server: Spawned; port: number }> {
  const server = start(cmd, args, { detached: opts.detached });
  let port = 0;
  try {
    await waitFor(
      what,
      server,
      () => {
        const m = /listening on \S+:(\d+)/.exec(server.output());
        if (m !== null) port = Number(m[1]);
        return m !== null;
      },
      opts.timeoutMs,
    );
  } catch (e) {
    await stop(server, opts.graceMs);
    throw e;
  }
  return { server, port };
}

/** The Petrel interop server, relative to the repository root. */
export const PETREL_SERVER = "interop/src/interop-server.ts";
/** The Petrel interop client, relative to the repository root. */
export const PETREL_CLIENT = "interop/src/interop-client.ts";

/** Starts the Petrel interop server on a free port (`--port=0`) with `extraArgs`; resolves with it and the port. */
export function startPetrelServer(extraArgs: string[] = [], opts: StartServerOptions = {}): Promise<{ server: Spawned; port: number }> {
  return startServer("Petrel interop server", process.execPath, ["--import", "tsx", PETREL_SERVER, "--port=0", ...extraArgs], opts);
}

/** Node arguments that run the Petrel interop client for case `name` against 127.0.0.1:`port`, then `extraArgs`. */
export function petrelClientArgs(port: number, name: string, extraArgs: string[] = []): string[] {
  return ["--import", "tsx", PETREL_CLIENT, "--server_host=127.0.0.1", `--server_port=${port}`, `--test_case=${name}`, ...extraArgs];
}

// ---- peers -----------------------------------------------------------------------------------------

/** Whether this is a CI run (CI set to anything but "" or "false"): there a missing peer is an error. */
export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "false";
}

/**
 * A guard for tests that need an external peer. `missing` says why the peer cannot run here (with the
 * install hint), or is undefined when it can. The guard returns true when the peer is there; otherwise
 * it throws in CI, and elsewhere warns once on stderr (naming `what` is being skipped), skips the test
 * and returns false.
 */
export function requirePeer(what: string, missing: string | undefined): (t: TestContext) => boolean {
  let warned = false;
  return (t) => {
    if (missing === undefined) return true;
    if (isCI()) throw new Error(`${missing} — CI must install it (.ci/run APT_PACKAGES)`);
    if (!warned) console.warn(`\n!!! SKIPPING ${what}: ${missing}\n`);
    warned = true;
    t.skip(`SKIPPED: ${missing}`);
    return false;
  };
}

// ---- cases and the matrix --------------------------------------------------------------------------

/** Known non-passes: direction -> case -> [expected outcome, why]. Every other case must pass. */
export type Expected = Record<string, Record<string, [Outcome, string]>>;

/** Options of {@link createInteropMatrix}. */
export interface InteropMatrixOptions {
  /** File name under interop/results/, e.g. "matrix-go.json" (matrix.ts merges them all). */
  file: string;
  /** The directions that go into the file, in column order; others may be recorded but are left out. */
  directions: string[];
  /** The known non-passes. */
  expected: Expected;
  /** Time each client run by {@link InteropMatrix.runCase} gets. Default {@link RUN_TIMEOUT_MS}. */
  runTimeoutMs?: number;
  /**
   * Whether a run where some case was "skipped" (peer missing) still writes the file. Default false:
   * a machine without the peer must not clobber the recorded results.
   */
  writeSkipped?: boolean;
}

/** Options of one {@link InteropMatrix.runCase} call. */
export interface RunCaseOptions {
  /** Outcome of exit code 3 (the client cannot run the case). Default "not yet" (the Petrel client's meaning). */
  onExit3?: Outcome;
  /** On success the output must also match this, when given (e.g. the client's `<case>: PASS` line). */
  passLine?: RegExp;
}

/** The results of one suite: what each case did in each direction, and why a case did not pass. */
export interface InteropMatrix {
  /** Records one case's outcome (and, for a non-pass, a note). */
  record(direction: string, name: string, outcome: Outcome, note?: string): void;
  /**
   * Runs one interop client process, records its outcome and asserts it: a case must pass unless
   * it is a known non-pass, which must then end exactly as expected and is marked todo.
   */
  runCase(t: TestContext, direction: string, name: string, cmd: string, args: string[], opts?: RunCaseOptions): Promise<void>;
  /** Writes the file when every direction has every case, so a filtered run (--test-name-pattern) does not clobber it. */
  writeIfComplete(): void;
}

/** Outcome from an interop client's exit code: 0 pass, 3 `onExit3` (the client cannot run the case), else fail. */
export function outcomeOf(code: number | null, onExit3: Outcome = "not yet"): Outcome {
  return code === 0 ? "pass" : code === 3 ? onExit3 : "fail";
}

/** The line of a client's output that best says why it failed (the first error line, else the last), cut to 200 characters. */
export function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return (lines.find((l) => /FAIL|Error|error/.test(l)) ?? lines.at(-1) ?? "").slice(0, 200);
}

/** Creates the results of one suite, written to interop/results/`opts.file`. */
export function createInteropMatrix(opts: InteropMatrixOptions): InteropMatrix {
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

  async function runCase(t: TestContext, direction: string, name: string, cmd: string, args: string[], o: RunCaseOptions = {}) {
    const { code, output } = await run(cmd, args, opts.runTimeoutMs);
    const outcome = outcomeOf(code, o.onExit3);
    const expected = opts.expected[direction]?.[name];
    record(direction, name, outcome, outcome === "pass" ? undefined : (expected?.[1] ?? `exit ${code}: ${lastLine(output)}`));
    if (expected !== undefined && outcome !== "pass") {
      // Assert before marking todo: a todo test's failure would not fail the run. (A pass is welcome:
      // the entry in `expected` is then stale.)
      assert.equal(outcome, expected[0], `${name}: expected "${expected[0]}", got "${outcome}" (exit ${code}):\n${output}`);
      t.todo(`${expected[0]}: ${expected[1]}`);
      return;
    }
    assert.equal(code, 0, `${direction}: ${name} failed (exit ${code}):\n${output}`);
    if (o.passLine !== undefined) assert.match(output, o.passLine, output);
  }

  function writeIfComplete(): void {
    const { directions } = opts;
    const done = (d: string, c: string) => results[d]?.[c] !== undefined && (opts.writeSkipped === true || results[d][c] !== "skipped");
    if (!directions.every((d) => CASES.every((c) => done(d, c)))) return;
    const m: Matrix = {
      directions,
      cases: CASES,
      results: Object.fromEntries(directions.map((d) => [d, results[d]])),
      notes: Object.fromEntries(directions.filter((d) => notes[d] !== undefined).map((d) => [d, notes[d]])),
    };
    const path = join(dirname(matrixPath), opts.file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(m, null, 2)}\n`);
  }

  return { record, runCase, writeIfComplete };
}
