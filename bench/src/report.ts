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

const PAIRS: Array<[string, string, boolean]> = [
  // [numerator, denominator, also show p99 ratio]
  ["petrel-native", "grpc-js", true],
  ["petrel-native", "raw-net", false],
  // gRPC roles: the Petrel server under the grpc-js client, the Petrel client against the grpc-js server.
  ["grpc-js>petrel-grpc", "grpc-js", true],
  ["petrel-grpc>grpc-js", "grpc-js", true],
  ["petrel-grpc", "grpc-js", true],
  ["grpc-js", "raw-net", false],
];

export function formatRatios(rows: Row[]): string {
  const ok = rows.filter((r) => !r.error && r.rps > 0);
  const keys: string[] = [];
  for (const r of ok) {
    const k = `${r.workload}@${r.inflight}`;
    if (!keys.includes(k)) keys.push(k);
  }
  const out: string[] = [];
  for (const k of keys) {
    const at = (system: string): Row | undefined => ok.find((r) => r.system === system && `${r.workload}@${r.inflight}` === k);
    for (const [a, b, p99] of PAIRS) {
      const ra = at(a);
      const rb = at(b);
      if (!ra || !rb) continue;
      let s = `${`${a} / ${b}`.padEnd(26)} ${`${ra.workload} x${ra.inflight}`.padEnd(18)} req/s ${ratio(ra.rps, rb.rps)}`;
      if (p99) s += `  p99 ${ratio(ra.p99_us, rb.p99_us)}`;
      out.push(s);
    }
  }
  return out.join("\n");
}

function ratio(a: number, b: number): string {
  if (!(b > 0)) return "n/a";
  const r = a / b;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(3)}x`;
}

/** JSON rows with exactly {system, workload, inflight, rps, p50_us, p99_us} (+ error on failed rows). */
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
