// The cluster demo end to end: real child processes, a real registry (embedded, etcd, ZooKeeper).
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { etcdSkipReason, startEtcd } from "../../../packages/discovery-etcd/src/etcd-fixture.js";
import { startZk, zkAvailable } from "../../../packages/discovery-zk/src/zk-fixture.js";
import { runClusterDemo, type ClusterDemoResult } from "./cluster-demo.js";

/** PIDs of this process's children running the instance entry (none may be left after a run). */
function instanceChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name may hold spaces, so split after ")".
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes("cluster-instance.ts")) out.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** Runs the demo, collecting its lines. */
async function run(registry?: string): Promise<{ result: ClusterDemoResult; lines: string[] }> {
  const lines: string[] = [];
  const result = await runClusterDemo({ ...(registry === undefined ? {} : { registry }), out: (l) => lines.push(l) });
  return { result, lines };
}

const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

/** What every run shows, whatever the registry. */
function assertShape(result: ClusterDemoResult, lines: string[]): void {
  const last = lines.at(-1) ?? "";
  const m = /^summary: (\d+) ok, (\d+) failed$/.exec(last);
  assert.ok(m, `last line is the summary, got ${JSON.stringify(last)}`);
  assert.equal(Number(m[1]), result.ok);
  assert.equal(Number(m[2]), result.failed);
  assert.equal(result.ok + result.failed, 300, "every call accounted for");
  assert.deepEqual(result.instances, ["inventory-1", "inventory-2", "inventory-3"]);
  for (const id of result.instances) assert.ok((result.servedBeforeKill[id] ?? 0) > 0, `${id} served calls before the kill`);
  assert.equal(sum(result.servedBeforeKill) + sum(result.servedAfterKill), result.ok, "every success has an x-served-by");
  for (const id of result.instances) {
    assert.ok(
      lines.some((l) => l.includes(`${id}:`) && l.includes("before the kill")),
      `per-instance count line for ${id}`,
    );
  }
  assert.deepEqual(instanceChildren(), [], "no instance process left");
}

describe("cluster demo", () => {
  it("embedded registry: three instances balanced, one SIGKILLed, no failed call", async () => {
    const { result, lines } = await run();
    assertShape(result, lines);
    assert.equal(result.killed, "inventory-2");
    assert.notEqual(result.noticedAfterMs, undefined, "the channel dropped the killed instance from its picker");
    assert.equal(result.picksAfterNoticed[result.killed] ?? 0, 0, "no attempt sent to the killed instance once noticed");
    assert.equal(result.servedAfterKill[result.killed] ?? 0, 0, "the killed instance served nothing after the kill");
    // The survivors took all the calls after the kill (round robin over the two of them).
    for (const id of ["inventory-1", "inventory-3"]) assert.ok((result.servedAfterKill[id] ?? 0) > 0, `${id} served after the kill`);
    // Retries on UNAVAILABLE move calls caught on the dying instance elsewhere: none may fail.
    assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.failures)}`);
    assert.ok(lines.some((l) => /stopped picking inventory-2 [\d.]+ ms after the kill/.test(l)));
  });

  it("bad input and an unreachable registry: clear errors, nothing left running", async () => {
    await assert.rejects(runClusterDemo({ registry: "redis://127.0.0.1:6379", out: () => {} }), /expected etcd:\/\/host:port/);
    await assert.rejects(runClusterDemo({ registry: "etcd://127.0.0.1", out: () => {} }), /not host:port/);
    await assert.rejects(runClusterDemo({ out: () => {}, calls: 1 }), /calls must be an integer >= 3/);
    // A port nothing listens on: the instances cannot register, so they exit and the demo fails.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const lines: string[] = [];
    await assert.rejects(
      runClusterDemo({ registry: `petrel://127.0.0.1:${port}`, out: (l) => lines.push(l) }),
      /exited .* before it was ready/,
    );
    assert.ok(!lines.some((l) => l.startsWith("summary:")));
    assert.deepEqual(instanceChildren(), [], "no instance process left after the failure");
  });

  describe("etcd", { skip: etcdSkipReason() }, () => {
    it("the same demo on a real etcd", async () => {
      const etcd = await startEtcd();
      try {
        const { result, lines } = await run(`etcd://${etcd.host}`);
        assertShape(result, lines);
        assert.ok(lines[0]?.startsWith("registry: etcd at "));
      } finally {
        await etcd.dispose();
      }
    });
  });

  describe("ZooKeeper", { skip: zkSkipReason() }, () => {
    it("the same demo on a real ZooKeeper", async () => {
      // The default tick (2 s) as a user's server would have; sessions of 4 s at least.
      const zk = await startZk({ tickTimeMs: 2_000 });
      try {
        const { result, lines } = await run(`zk://${zk.connect}`);
        assertShape(result, lines);
        assert.ok(lines[0]?.startsWith("registry: zk at "));
      } finally {
        await zk.dispose();
      }
    });
  });
});

/** Fails under CI when ZooKeeper is missing, else skips loudly. */
function zkSkipReason(): string | false {
  if (zkAvailable()) return false;
  const why = "ZooKeeper not installed (Debian packages zookeeper + Java)";
  if (process.env.CI) throw new Error(why);
  console.warn(`\n!!! SKIPPING the ZooKeeper cluster demo: ${why}\n`);
  return why;
}
