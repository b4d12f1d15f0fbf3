import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { parseDemoArgs } from "./demo-args.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Runs a program under tsx from the repository root; resolves with its exit status and output. */
function run(args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe("npm run demo", () => {
  it("tells the whole story over TCP and exits 0 by itself", { timeout: 120_000 }, async () => {
    const t0 = Date.now();
    const { code, signal, stdout, stderr } = await run(["examples/inventory/src/demo.ts"], 120_000);
    const context = `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
    assert.equal(signal, null, `killed by ${signal}${context}`);
    assert.equal(code, 0, `exit code${context}`);
    assert.ok(Date.now() - t0 < 60_000, "bounded run time");

    // Every section is there, in order.
    const sections = [
      "(a) sync style",
      "(b) async style",
      "(c) server streaming",
      "(d) client streaming",
      "(e) bidi streaming",
      "(f) deadline",
      "(g) metadata",
      "shutdown",
      "(h) a cluster",
    ];
    let at = -1;
    for (const s of sections) {
      const i = stdout.indexOf(`== ${s}`);
      assert.ok(i > at, `section "${s}" missing or out of order${context}`);
      at = i;
    }
    // (a) a found item and the NOT_FOUND error with its code name.
    assert.match(stdout, /GetItem HW-1001 -> HW-1001 {2}Claw hammer/);
    assert.match(stdout, /GetItem HW-9999 -> error NOT_FOUND: no item with SKU "HW-9999"/);
    // The client logging interceptor prints method, status and duration.
    assert.match(stdout, /\[client log\] GetItem -> NOT_FOUND in \d+\.\d ms/);
    // (b) all 100 concurrent calls succeeded.
    assert.match(stdout, /100 calls started together, 100 succeeded, 0 failed/);
    // (c) the streamed matches, cheapest first.
    assert.match(stdout, /#1 HW-1006 .*\n #2 HW-1002 /);
    assert.match(stdout, /stream ended after 2 items/);
    // (d) the restock summary and the refused delivery.
    assert.match(stdout, /summary: 4 crates, 62 units/);
    assert.match(stdout, /error INVALID_ARGUMENT: crate 2 \(HW-1003\): quantity must be positive/);
    // (e) accepted and rejected orders, each answered before the next is sent.
    assert.match(stdout, /<- ORD-1 accepted: total \$37\.98/);
    assert.match(stdout, /<- ORD-3 REJECTED: insufficient stock/);
    assert.match(stdout, /-> ORD-3: .*\n.*<- ORD-3 REJECTED.*\n.*-> ORD-4/);
    assert.match(stdout, /4 orders accepted, 2 rejected/);
    // (f) the deadline.
    assert.match(stdout, /\[client log\] GetItem -> DEADLINE_EXCEEDED/);
    assert.match(stdout, /failed after [\d.]+ ms with DEADLINE_EXCEEDED/);
    // (g) header and trailers, and a version that moved.
    assert.match(stdout, /header {2}x-served-by: inventory-demo-1/);
    assert.match(stdout, /trailer x-stock-version: \d+/);
    assert.match(stdout, /failed GetItem trailer x-stock-version: \d+/);
    const m = /stock version before the order (\d+), after it (\d+)/.exec(stdout);
    assert.ok(m !== null, `stock version line${context}`);
    assert.equal(Number(m[2]) - Number(m[1]), 1);
    // Clean shutdown, nothing on stderr.
    assert.match(stdout, /client transport closed\n server closed gracefully/);
    assert.equal(stderr.replace(/^npm warn.*\n/gm, ""), "", `stderr${context}`);
    // (h) three instances in the embedded registry, one killed, the client keeps succeeding; the
    // demo's last line is the summary (issue 5).
    assert.match(stdout, /registry: embedded/);
    for (const i of [1, 2, 3]) assert.match(stdout, new RegExp(`inventory-${i}: +\\d+ +\\(\\d+ before the kill`));
    const lines = stdout.trimEnd().split("\n");
    assert.match(lines[lines.length - 1] as string, /^summary: \d+ ok, 0 failed$/, context);
    // Human-readable: short lines.
    for (const line of stdout.split("\n")) assert.ok(line.length <= 120, `line too long: ${line}`);
  });
});

describe("npm run demo -- --chaos", () => {
  it("runs the chaos scenario, resilience on then off, and ends with the summary line", { timeout: 150_000 }, async () => {
    const { code, stdout, stderr } = await run(["examples/inventory/src/demo.ts", "--chaos"], 150_000);
    const context = `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
    assert.equal(code, 0, `exit code${context}`);
    assert.match(stdout, /resilience ON/);
    assert.match(stdout, /resilience OFF/);
    const lines = stdout.trimEnd().split("\n");
    const m = /^summary: (\d+) ok, (\d+) failed, breaker opened (\d+) times, closed (\d+) times$/.exec(lines[lines.length - 1] as string);
    assert.ok(m !== null, `last line${context}`);
    const [ok, failed, opened, closed] = m.slice(1).map(Number) as [number, number, number, number];
    assert.ok(ok / (ok + failed) >= 0.999, `success ratio${context}`);
    assert.ok(opened >= 1 && closed >= 1, `breaker opened and closed${context}`);
  });
});

describe("demo arguments", () => {
  it("takes --registry and --chaos, and refuses anything else clearly", () => {
    assert.deepEqual(parseDemoArgs([]), { registry: undefined, chaos: false });
    assert.deepEqual(parseDemoArgs(["--registry=etcd://127.0.0.1:2379"]), { registry: "etcd://127.0.0.1:2379", chaos: false });
    assert.deepEqual(parseDemoArgs(["--registry=zk://127.0.0.1:2181/", "--chaos"]), { registry: "zk://127.0.0.1:2181", chaos: true });
    assert.throws(() => parseDemoArgs(["--registry=http://x"]), /--registry must look like/);
    assert.throws(() => parseDemoArgs(["--fast"]), /unknown argument "--fast"/);
  });
});
