// Discrete-event simulation of client-side load balancing in virtual time: N backends (each a
// FIFO queue in front of a few workers), M clients (each with its own picker and its own view of
// in-flight counts and latency, as real clients have), Poisson arrivals, and "slow episodes" in
// which a few backends become several times slower for a while. Deterministic for a given seed.
import { EndpointStats, LoadGroup, getBalancer, type Picker, type SubchannelInfo } from "@petrel/balancer";
import type { Endpoint } from "@petrel/discovery";

export interface SimOptions {
  policy: string;
  /** Policy config passed to `build`. */
  config?: unknown;
  backends: number;
  clients: number;
  requests: number;
  /** Concurrent requests a backend serves; more queue FIFO. */
  workers: number;
  /** Mean service time of an average backend, ms (per-backend means spread +-30%). */
  serviceMs: number;
  /** Offered load as a share of total capacity. */
  utilization: number;
  /** Every `episodeEveryMs`, `episodeShare` of backends get `slowFactor` x slower for 2-5 s. */
  episodeEveryMs: number;
  episodeShare: number;
  slowFactor: number;
  /** Peak-EWMA decay constant, ms. */
  tauMs: number;
  seed: number;
}

export interface SimResult {
  policy: string;
  label: string;
  /** Latency of every request, sorted ascending, ms. */
  latencies: Float64Array;
  p50: number;
  p99: number;
  p999: number;
  mean: number;
  /** Time-averaged max/mean of per-backend outstanding requests (queued + in service). */
  maxOverMean: number;
  /** Time-averaged coefficient of variation of per-backend outstanding requests. */
  cv: number;
  /** Share of requests sent to a backend in a slow episode (its share of capacity is ~0.3%). */
  slowShare: number;
  virtualSeconds: number;
  wallMs: number;
}

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Min-heap of (time, payload) on parallel typed arrays: no per-event objects. */
class EventHeap {
  time = new Float64Array(1024);
  data = new Int32Array(1024);
  size = 0;
  push(t: number, d: number): void {
    if (this.size === this.time.length) {
      const nt = new Float64Array(this.size * 2);
      nt.set(this.time);
      this.time = nt;
      const nd = new Int32Array(this.size * 2);
      nd.set(this.data);
      this.data = nd;
    }
    let i = this.size++;
    const T = this.time;
    const D = this.data;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (T[p]! <= t) break;
      T[i] = T[p]!;
      D[i] = D[p]!;
      i = p;
    }
    T[i] = t;
    D[i] = d;
  }
  /** Removes the minimum; read `topTime`/`topData` first. */
  pop(): void {
    const T = this.time;
    const D = this.data;
    const n = --this.size;
    const t = T[n]!;
    const d = D[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && T[c + 1]! < T[c]!) c++;
      if (T[c]! >= t) break;
      T[i] = T[c]!;
      D[i] = D[c]!;
      i = c;
    }
    T[i] = t;
    D[i] = d;
  }
}

export function simulate(o: SimOptions, label = o.policy): SimResult {
  const wall0 = performance.now();
  const policy = getBalancer(o.policy);
  if (policy === undefined) throw new Error(`unknown policy ${o.policy}`);
  const rWork = prng(o.seed);
  const rArrive = prng(o.seed ^ 0x1234567);
  const rService = prng(o.seed ^ 0x2345678);
  const rEpisode = prng(o.seed ^ 0x3456789);
  const B = o.backends;
  const clock = { now: () => now };
  let now = 0;

  // Backends: heterogeneous speed (mean service time +-30%); WRR weight = capacity.
  const meanMs = new Float64Array(B);
  const endpoints: Endpoint[] = [];
  const indexOf = new Map<Endpoint, number>();
  let capacity = 0;
  for (let b = 0; b < B; b++) {
    meanMs[b] = o.serviceMs * (0.7 + 0.6 * rWork());
    capacity += o.workers / meanMs[b]!;
    const e: Endpoint = { id: `b${b}`, address: `10.${b >> 16}.${(b >> 8) & 255}.${b & 255}:8080`, weight: Math.round(1000 / meanMs[b]!) };
    endpoints.push(e);
    indexOf.set(e, b);
  }
  const slowUntil = new Float64Array(B);
  const busy = new Int32Array(B);
  const outstanding = new Int32Array(B);
  const qHead = new Int32Array(B).fill(-1);
  const qTail = new Int32Array(B).fill(-1);

  // Clients: each its own subchannels (own stats) and picker.
  const subs: SubchannelInfo[][] = [];
  const pickers: Picker[] = [];
  for (let c = 0; c < o.clients; c++) {
    const group = new LoadGroup();
    const s = endpoints.map((endpoint) => ({ endpoint, stats: new EndpointStats({ clock, tauMs: o.tauMs, group }) }));
    subs.push(s);
    pickers.push(policy.build(s, o.config, { random: prng(o.seed * 7919 + c) }));
  }

  const N = o.requests;
  const reqClient = new Int32Array(N);
  const reqBackend = new Int32Array(N);
  const reqStart = new Float64Array(N);
  const reqNext = new Int32Array(N);
  const latencies = new Float64Array(N);
  let slowRouted = 0;

  const ratePerClientMs = (capacity * o.utilization) / o.clients; // requests per ms
  const heap = new EventHeap();
  for (let c = 0; c < o.clients; c++) heap.push(-Math.log(1 - rArrive()) / ratePerClientMs, -(c + 1));
  let issued = 0;
  let nextEpisode = o.episodeEveryMs;
  let nextSample = 10;
  let samples = 0;
  let sumMaxOverMean = 0;
  let sumCv = 0;

  const startService = (r: number, b: number): void => {
    const slow = slowUntil[b]! > now;
    const t = meanMs[b]! * (slow ? o.slowFactor : 1) * -Math.log(1 - rService());
    heap.push(now + t, r);
  };

  while (heap.size > 0) {
    now = heap.time[0]!;
    const d = heap.data[0]!;
    heap.pop();
    while (nextEpisode <= now) {
      const k = Math.max(1, Math.round(B * o.episodeShare));
      for (let j = 0; j < k; j++) slowUntil[Math.floor(rEpisode() * B)] = nextEpisode + 2000 + 3000 * rEpisode();
      nextEpisode += o.episodeEveryMs;
    }
    while (nextSample <= now) {
      let sum = 0;
      let sq = 0;
      let max = 0;
      for (let b = 0; b < B; b++) {
        const x = outstanding[b]!;
        sum += x;
        sq += x * x;
        if (x > max) max = x;
      }
      if (sum > 0) {
        const mean = sum / B;
        samples++;
        sumMaxOverMean += max / mean;
        sumCv += Math.sqrt(Math.max(sq / B - mean * mean, 0)) / mean;
      }
      nextSample += 10;
    }
    if (d < 0) {
      // Arrival at client c.
      const c = -d - 1;
      if (issued >= N) continue;
      const r = issued++;
      const res = pickers[c]!.pick({ method: "/svc.v1.Svc/Get", hashKey: Math.floor(rWork() * 1_000_000) });
      if (res.t !== "pick") throw new Error(`${o.policy}: no pick: ${res.reason}`);
      const b = indexOf.get(res.subchannel.endpoint)!;
      res.subchannel.stats.onStart();
      reqClient[r] = c;
      reqBackend[r] = b;
      reqStart[r] = now;
      outstanding[b]!++;
      if (slowUntil[b]! > now) slowRouted++;
      if (busy[b]! < o.workers) {
        busy[b]!++;
        startService(r, b);
      } else {
        reqNext[r] = -1;
        if (qTail[b] === -1) qHead[b] = r;
        else reqNext[qTail[b]!] = r;
        qTail[b] = r;
      }
      if (issued < N) heap.push(now - Math.log(1 - rArrive()) / ratePerClientMs, d);
    } else {
      // Completion of request d.
      const b = reqBackend[d]!;
      const lat = now - reqStart[d]!;
      latencies[d] = lat;
      subs[reqClient[d]!]![b]!.stats.onDone({ ok: true, latencyMs: lat });
      outstanding[b]!--;
      const q = qHead[b]!;
      if (q !== -1) {
        qHead[b] = reqNext[q]!;
        if (qHead[b] === -1) qTail[b] = -1;
        startService(q, b);
      } else busy[b]!--;
    }
  }

  latencies.sort();
  let total = 0;
  for (let i = 0; i < N; i++) total += latencies[i]!;
  const at = (p: number) => latencies[Math.min(N - 1, Math.floor(p * N))]!;
  return {
    policy: o.policy,
    label,
    latencies,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    mean: total / N,
    maxOverMean: sumMaxOverMean / Math.max(samples, 1),
    cv: sumCv / Math.max(samples, 1),
    slowShare: slowRouted / N,
    virtualSeconds: now / 1000,
    wallMs: performance.now() - wall0,
  };
}
