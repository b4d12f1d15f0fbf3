// Table, ratio lines and JSON rows.

export interface Row {
  system: string;
  workload: string;
  inflight: number;
  rps: number;
  p50_us: number;
  p99_us: number;
  /** Present only on rows that failed or timed out (rps/p50/p99 are then 0). */
  error?: string;
}

const COLUMNS = ["system", "workload", "inflight", "req/s", "p50 µs", "p99 µs"] as const;

function cells(r: Row): string[] {
  if (r.error) return [r.system, r.workload, String(r.inflight), "ERROR", "-", "-"];
  return [r.system, r.workload, String(r.inflight), Math.round(r.rps).toString(), fmtUs(r.p50_us), fmtUs(r.p99_us)];
}

function fmtUs(us: number): string {
  return us >= 100 ? Math.round(us).toString() : us.toFixed(1);
}

/** Text columns left-aligned, numbers right-aligned; error rows get the reason appended. */
export function formatTable(rows: Row[]): string {
  const body = rows.map(cells);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...body.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  const sep = widths.map((w) => "-".repeat(w)).join("  ");
  const lines = body.map((c, i) => {
    const err = rows[i].error;
    return err ? `${line(c)}  (${err.split("\n")[0]})` : line(c);
  });
  return [line([...COLUMNS]), sep, ...lines].join("\n");
}

interface Pair {
  /** Numerator and denominator systems. */
  a: string;
  b: string;
  /** Also print the p99 ratio. */
  p99?: boolean;
  /** Issue 3's goal for this ratio (unary only), printed next to the achieved value. */
  target?: Target;
}

interface Target {
  /** Short name for the summary table. */
  label: string;
  min: number;
  /** In-flight levels the target applies to; all when absent. */
  inflight?: number[];
}

const SERVER_VS_GRPC_JS: Target = { label: "Petrel gRPC server / grpc-js server (h2load)", min: 1 };
const SERVER_VS_RAW: Target = { label: "Petrel gRPC server / raw node:http2 (h2load)", min: 0.9 };
const CLIENT_VS_GRPC_JS: Target = { label: "Petrel gRPC client / grpc-js client", min: 2, inflight: [32, 256] };
const SERVER_VS_CONNECT: Target = { label: "Petrel gRPC server / connect-node server (h2load)", min: 3 };
const CLIENT_VS_CONNECT: Target = { label: "Petrel gRPC client / connect-node client", min: 3 };

const PAIRS: Pair[] = [
  { a: "petrel-native", b: "grpc-js", p99: true },
  { a: "petrel-native", b: "raw-net" },
  // gRPC server role: h2load (a C client that costs almost nothing) against each server, then
  // the Petrel server under the Node clients.
  { a: "h2load>petrel-grpc", b: "h2load>grpc-js", p99: true, target: SERVER_VS_GRPC_JS },
  { a: "h2load>petrel-grpc", b: "h2load>raw-http2", p99: true, target: SERVER_VS_RAW },
  { a: "h2load>grpc-js", b: "h2load>raw-http2", p99: true },
  { a: "h2load>petrel-grpc", b: "h2load>connect-node", p99: true, target: SERVER_VS_CONNECT },
  { a: "grpc-js>petrel-grpc", b: "grpc-js", p99: true },
  { a: "connect-node>petrel-grpc", b: "connect-node", p99: true },
  // gRPC client role: the Petrel client against the grpc-js server (the grpc-js server is not the
  // bound: h2load gets ~3x more out of it), and both Petrel sides against both grpc-js sides.
  { a: "petrel-grpc>grpc-js", b: "grpc-js", p99: true, target: CLIENT_VS_GRPC_JS },
  { a: "petrel-grpc", b: "grpc-js", p99: true, target: CLIENT_VS_GRPC_JS },
  { a: "petrel-grpc", b: "raw-http2", p99: true },
  { a: "petrel-grpc", b: "connect-node", p99: true },
  // Client role against connect: both clients call the same (Petrel) server.
  { a: "petrel-grpc", b: "connect-node>petrel-grpc", p99: true, target: CLIENT_VS_CONNECT },
  { a: "connect-node", b: "grpc-js", p99: true },
  { a: "raw-http2", b: "grpc-js" },
  { a: "grpc-js", b: "raw-net" },
  // JSON-RPC over HTTP/1.1, server role: h2load --h1 against Petrel's handler, the bare node:http
  // JSON handler (the ceiling) and jayson; then both Node clients against their own servers.
  { a: "h2load-h1>petrel-jsonrpc", b: "h2load-h1>node-http-json", p99: true },
  { a: "h2load-h1>petrel-jsonrpc", b: "h2load-h1>jayson", p99: true },
  { a: "h2load-h1>jayson", b: "h2load-h1>node-http-json", p99: true },
  { a: "petrel-jsonrpc", b: "jayson", p99: true },
  // REST gateway overhead: the gateway against the bare handler echoing the same JSON body, and
  // against Petrel's JSON-RPC handler (same router, handler and protobuf JSON mapping).
  { a: "h2load-h1>petrel-rest", b: "h2load-h1>node-http-rest", p99: true },
  { a: "h2load-h1>petrel-rest", b: "h2load-h1>petrel-jsonrpc", p99: true },
  // One port: the same servers behind createPetrelServer's protocol detection (expected ~1.0x).
  { a: "oneport>petrel-native", b: "petrel-native", p99: true },
  { a: "oneport>petrel-grpc", b: "petrel-grpc", p99: true },
  { a: "h2load>oneport>petrel-grpc", b: "h2load>petrel-grpc", p99: true },
  { a: "h2load-h1>oneport>petrel-jsonrpc", b: "h2load-h1>petrel-jsonrpc", p99: true },
];

interface Achieved {
  pair: Pair;
  row: Row;
  value: number;
}

/** Ratios of every pair with both rows present; `target` set when a target applies. */
function achieved(rows: Row[]): Array<Achieved & { p99: number | undefined; target: Target | undefined }> {
  const ok = rows.filter((r) => !r.error && r.rps > 0);
  const keys: string[] = [];
  for (const r of ok) {
    const k = `${r.workload}@${r.inflight}`;
    if (!keys.includes(k)) keys.push(k);
  }
  const out: Array<Achieved & { p99: number | undefined; target: Target | undefined }> = [];
  for (const k of keys) {
    const at = (system: string): Row | undefined => ok.find((r) => r.system === system && `${r.workload}@${r.inflight}` === k);
    for (const pair of PAIRS) {
      const ra = at(pair.a);
      const rb = at(pair.b);
      if (!ra || !rb) continue;
      const t = pair.target;
      const applies = t && ra.workload === "unary" && (!t.inflight || t.inflight.includes(ra.inflight));
      out.push({
        pair,
        row: ra,
        value: ra.rps / rb.rps,
        p99: pair.p99 && ra.p99_us > 0 && rb.p99_us > 0 ? ra.p99_us / rb.p99_us : undefined,
        target: applies ? t : undefined,
      });
    }
  }
  return out;
}

/** One line per pair and workload/in-flight; lines with a target say whether it is met. */
export function formatRatios(rows: Row[]): string {
  const all = achieved(rows);
  const width = Math.max(0, ...all.map((x) => x.pair.a.length + x.pair.b.length + 3));
  return all
    .map((x) => {
      let s = `${`${x.pair.a} / ${x.pair.b}`.padEnd(width)}  ${`${x.row.workload} x${x.row.inflight}`.padEnd(18)} req/s ${fmtRatio(x.value).padStart(7)}`;
      if (x.pair.p99) s += `  p99 ${x.p99 === undefined ? "n/a" : fmtRatio(x.p99)}`;
      if (x.target) s += `   target >= ${x.target.min}x: ${x.value >= x.target.min ? "met" : "NOT met"}`;
      return s;
    })
    .join("\n");
}

/**
 * Issue 3's targets side by side: one line per target and numerator system, the achieved req/s
 * ratio per in-flight level ("-" where the target does not apply or a row is missing).
 */
export function formatTargets(rows: Row[]): string {
  const hits = achieved(rows).filter((x) => x.target);
  if (hits.length === 0) return "";
  const levels = [...new Set(rows.filter((r) => r.workload === "unary").map((r) => r.inflight))].sort((a, b) => a - b);
  const lines = new Map<string, { head: string; target: Target; cells: Map<number, number> }>();
  for (const x of hits) {
    const t = x.target as Target;
    const key = `${t.label}|${x.pair.a}|${x.pair.b}`;
    let line = lines.get(key);
    if (!line) {
      line = { head: `${t.label} [${x.pair.a} / ${x.pair.b}]`, target: t, cells: new Map() };
      lines.set(key, line);
    }
    line.cells.set(x.row.inflight, x.value);
  }
  const width = Math.max(...[...lines.values()].map((l) => l.head.length));
  const header = `${"issue 3 targets (unary req/s ratio)".padEnd(width)}  ${levels.map((n) => `x${n}`.padStart(9)).join("")}  target`;
  const body = [...lines.values()].map((l) => {
    const cells = levels.map((n) => {
      const v = l.cells.get(n);
      return (v === undefined ? "- " : `${fmtRatio(v)}${v >= l.target.min ? " " : "!"}`).padStart(9);
    });
    const where = l.target.inflight ? ` at x${l.target.inflight.join("/x")}` : "";
    return `${l.head.padEnd(width)}  ${cells.join("")}  >= ${l.target.min}x${where}`;
  });
  return [header, ...body, '("!" = below target)'].join("\n");
}

function fmtRatio(r: number): string {
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(3)}x`;
}

/**
 * JSON rows with exactly {system, workload, inflight, rps, p50_us, p99_us} (+ error on failed
 * rows). h2load rows have the same shape (latencies from h2load's per-request log).
 */
export function toJsonRows(rows: Row[]): Row[] {
  return rows.map((r) => {
    const base = {
      system: r.system,
      workload: r.workload,
      inflight: r.inflight,
      rps: Math.round(r.rps),
      p50_us: r.p50_us,
      p99_us: r.p99_us,
    };
    return r.error ? { ...base, error: r.error } : base;
  });
}
