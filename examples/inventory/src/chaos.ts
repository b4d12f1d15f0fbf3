/**
 * The chaos scenario of issue 6: three real inventory instances in this process, a client at a
 * fixed rate for a bounded time; instance A turns to 100 % UNAVAILABLE and later recovers,
 * instance B becomes 20x slower. Run once with resilience on (P2C peak-EWMA, retries that avoid
 * endpoints already tried, per-endpoint circuit breakers gating the balancer, a client bulkhead)
 * and once with it off (round robin, nothing else), and report both.
 */
import { type Client, type Code, RpcError, codeName, createClient, createRouter } from "@petrel/core";
import { type Channel, createChannel, createResilientChannel } from "@petrel/channel";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { type FaultConfig, createBulkhead, createConcurrencyLimitClientInterceptor, createFaultInjector } from "@petrel/resilience";
import { InventoryService } from "./gen/petrel/examples/inventory/v1/inventory_pb.js";
import { createInventoryService } from "./inventory-service.js";

/** Options of {@link runChaosDemo}. */
export interface ChaosOptions {
  /** Where report lines go. */
  out: (line: string) => void;
  /** Length of each run, ms; the fault schedule scales with it (A fails at 20 %, B slows at 30 %, A recovers at 50 %). Default 10000 (t = 2 s, 3 s, 5 s). */
  durationMs?: number;
  /** Calls started per second (open loop: a slow answer does not slow the client down). Default 200. */
  rate?: number;
  /** Service time of a healthy instance, ms (injected delay); B becomes 20x this. Default 10. */
  baseMs?: number;
  /** Print breaker transitions as they happen. Default true. */
  verbose?: boolean;
}

/** What one run measured. */
export interface ChaosRunStats {
  readonly ok: number;
  readonly failed: number;
  /** Breaker transitions to OPEN (also HALF_OPEN -> OPEN) and to CLOSED; 0 with resilience off. */
  readonly breakerOpened: number;
  readonly breakerClosed: number;
  /** Latency of every call (failed ones too), ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Retry attempts made (0 with resilience off). */
  readonly retries: number;
  /** Successful calls per instance (A, B, C), counted on the servers. */
  readonly served: Readonly<Record<string, number>>;
  /** Failed calls by status code name. */
  readonly failures: Readonly<Record<string, number>>;
}

/** The resilience-on run's figures, with the resilience-off run beside them in `off`. */
export interface ChaosResult extends ChaosRunStats {
  readonly off: ChaosRunStats;
  /** The slow instance's service time, ms (20x `baseMs`). */
  readonly slowMs: number;
}

const SERVICE = "petrel.examples.inventory.v1.InventoryService";
const NAMES = ["A", "B", "C"] as const;

/** Runs the scenario with resilience on, then off; prints both and ends with the `summary:` line. */
export async function runChaosDemo(options: ChaosOptions): Promise<ChaosResult> {
  const out = options.out;
  const durationMs = options.durationMs ?? 10_000;
  const rate = options.rate ?? 200;
  const baseMs = options.baseMs ?? 10;
  if (!(Number.isFinite(durationMs) && durationMs >= 1000)) throw new RangeError(`durationMs must be >= 1000, got ${durationMs}`);
  if (!(Number.isFinite(rate) && rate > 0 && rate <= 5000)) throw new RangeError(`rate must be in (0, 5000], got ${rate}`);
  if (!(Number.isFinite(baseMs) && baseMs >= 1)) throw new RangeError(`baseMs must be >= 1, got ${baseMs}`);
  const slowMs = baseMs * 20;
  const at = (f: number) => Math.round(durationMs * f);
  out(`chaos: 3 inventory instances (A, B, C) in this process, a client at ${rate} calls/s for ${(durationMs / 1000).toFixed(1)} s`);
  out(
    ` schedule: t=${sec(at(0.2))} A -> 100% UNAVAILABLE; t=${sec(at(0.3))} B -> 20x slower (${baseMs} -> ${slowMs} ms); t=${sec(at(0.5))} A recovers`,
  );
  const runOpts = { out, durationMs, rate, baseMs, verbose: options.verbose ?? true };
  out("\n== resilience ON: p2c_peak_ewma, retries (4 attempts, avoiding endpoints tried), per-endpoint breakers, client bulkhead ==");
  const on = await runOnce(true, runOpts);
  report(out, on);
  out("\n== resilience OFF: round_robin, no retries, no breakers ==");
  const off = await runOnce(false, runOpts);
  report(out, off);
  out("");
  out(`with resilience: ${pct(on)} success, p99 ${fmt(on.p99)}; without: ${pct(off)} success, p99 ${fmt(off.p99)}`);
  out(`summary: ${on.ok} ok, ${on.failed} failed, breaker opened ${on.breakerOpened} times, closed ${on.breakerClosed} times`);
  return { ...on, off, slowMs };
}

interface RunOptions {
  out: (line: string) => void;
  durationMs: number;
  rate: number;
  baseMs: number;
  verbose: boolean;
}

async function runOnce(resilient: boolean, o: RunOptions): Promise<ChaosRunStats> {
  const healthy: FaultConfig = { default: { delay: { percent: 100, ms: o.baseMs } } };
  const instances = await Promise.all(
    NAMES.map(async (name) => {
      const faults = createFaultInjector({ faults: healthy });
      let served = 0;
      const router = createRouter({
        interceptors: [
          (next) => async (req) => {
            const res = await next(req);
            served++;
            return res;
          },
          faults.server,
        ],
      }).service(InventoryService, createInventoryService());
      const server = createNativeServer({ router });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      return { name, faults, server, address: `127.0.0.1:${port}`, served: () => served };
    }),
  );
  const nameOf = new Map(instances.map((i) => [i.address, i.name]));
  const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
  const t0 = performance.now();
  const stamp = () => `[+${sec(performance.now() - t0)}]`;
  const target = `static:///${instances.map((i) => i.address).join(",")}`;
  const transportFactory = (ep: { address: string }) => createNativeTransport({ address: ep.address });
  let opened = 0;
  let closed = 0;
  let retries = 0;
  let channel: Channel;
  let client: Client<typeof InventoryService>;
  let closeAll: () => Promise<void>;
  if (resilient) {
    const rc = createResilientChannel({
      channel: { target, transportFactory, balancer: { name: "p2c_peak_ewma" } },
      serviceConfig: {
        methodConfig: [
          {
            name: [{ service: SERVICE }],
            timeout: "5s",
            retryPolicy: {
              maxAttempts: 4,
              initialBackoff: "0.005s",
              maxBackoff: "0.05s",
              backoffMultiplier: 2,
              retryableStatusCodes: ["UNAVAILABLE"],
            },
          },
        ],
      },
      resilience: {
        onEvent: (e) => {
          if (e.type === "retry") retries++;
        },
      },
      breakers: {
        perMethod: false,
        windowType: "count",
        windowSize: 20,
        minimumNumberOfCalls: 10,
        failureRateThreshold: 50,
        // A call 5x slower than normal is slow; 80 % slow calls open the breaker too (B).
        slowCallDurationThresholdMs: o.baseMs * 5,
        slowCallRateThreshold: 80,
        waitDurationInOpenStateMs: 500,
        permittedCallsInHalfOpenState: 3,
        onEvent: (e) => {
          if (e.type !== "state_change") return;
          if (e.to === "open") opened++;
          if (e.to === "closed") closed++;
          if (o.verbose) {
            const why = e.to === "open" ? ` (failure rate ${rate(e.failureRate)}, slow-call rate ${rate(e.slowCallRate)})` : "";
            o.out(` ${stamp()} breaker ${nameOf.get(e.name) ?? e.name}: ${e.from} -> ${e.to}${why}`);
          }
        },
      },
    });
    channel = rc.channel;
    // The bulkhead is outermost: it bounds this client's calls in flight, retries included.
    const bulkhead = createConcurrencyLimitClientInterceptor(createBulkhead({ maxConcurrent: 256, maxQueue: 1024 }));
    client = createClient(InventoryService, channel, { interceptors: [bulkhead, ...rc.interceptors] });
    closeAll = () => rc.close();
  } else {
    channel = createChannel({ target, transportFactory, balancer: { name: "round_robin" } });
    client = createClient(InventoryService, channel);
    closeAll = () => channel.close();
  }
  // Connect first so both runs start from READY connections.
  channel.connect();
  await client.getItem({ sku: "HW-1001" }, { timeoutMs: 5000 }).catch(() => {});

  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  const calls: Promise<void>[] = [];
  const timers = [
    setTimeout(() => {
      a.faults.setFaults({ default: { abort: { percent: 100, code: "UNAVAILABLE", message: "instance A is failing" } } });
      if (o.verbose) o.out(` ${stamp()} A now fails every call with UNAVAILABLE`);
    }, o.durationMs * 0.2),
    setTimeout(() => {
      b.faults.setFaults({ default: { delay: { percent: 100, ms: o.baseMs * 20 } } });
      if (o.verbose) o.out(` ${stamp()} B is now 20x slower`);
    }, o.durationMs * 0.3),
    setTimeout(() => {
      a.faults.setFaults(healthy);
      if (o.verbose) o.out(` ${stamp()} A recovered`);
    }, o.durationMs * 0.5),
  ];
  const start = performance.now();
  const one = async () => {
    const c0 = performance.now();
    try {
      // Same per-call timeout in both runs (with resilience on, the service config's 5 s applies too).
      await client.getItem({ sku: "HW-1001" }, { timeoutMs: 5000 });
      ok++;
    } catch (e) {
      failed++;
      const code = codeName(RpcError.from(e).code as Code);
      failures[code] = (failures[code] ?? 0) + 1;
    }
    latencies.push(performance.now() - c0);
  };
  // Open loop at a fixed rate: every tick starts the calls that are due, so timer drift does not lower the rate.
  let started = 0;
  const total = Math.round((o.durationMs * o.rate) / 1000);
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * o.rate) / 1000) + 1);
      while (started < due) {
        started++;
        calls.push(one());
      }
      if (started >= total) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  await Promise.all(calls);
  for (const t of timers) clearTimeout(t);
  await closeAll();
  const served: Record<string, number> = {};
  for (const i of instances) served[i.name] = i.served();
  await Promise.all(instances.map((i) => i.server.close({ graceMs: 1000 })));
  latencies.sort((x, y) => x - y);
  return {
    ok,
    failed,
    breakerOpened: opened,
    breakerClosed: closed,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
    retries,
    served,
    failures,
  };
}

function report(out: (line: string) => void, s: ChaosRunStats): void {
  const fails = Object.entries(s.failures)
    .map(([c, n]) => `${n} ${c}`)
    .join(", ");
  out(` result: ${s.ok} ok, ${s.failed} failed${fails === "" ? "" : ` (${fails})`} -> ${pct(s)} success`);
  out(` latency: p50 ${fmt(s.p50)}, p99 ${fmt(s.p99)}, max ${fmt(s.max)}`);
  out(` retries: ${s.retries}; breaker opened ${s.breakerOpened} times, closed ${s.breakerClosed} times`);
  out(` served by instance (the first call to connect included): ${NAMES.map((n) => `${n} ${s.served[n] ?? 0}`).join(", ")}`);
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const rate = (r: number) => (r < 0 ? "n/a" : `${Math.round(r)}%`);
const pct = (s: ChaosRunStats) => `${((s.ok * 100) / Math.max(1, s.ok + s.failed)).toFixed(2)}%`;
