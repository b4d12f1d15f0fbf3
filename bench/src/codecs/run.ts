// In-process codec measurements: encode/decode ops/s and encoded size per codec and message,
// each cell bounded in time. Used by bench/src/codecs/main.ts and by `npm run bench` (codecs step).
import { equals } from "@bufbuild/protobuf";
import { type BenchCodec, loadCodecs } from "./codec-set.ts";
import { type MessageCase, messageCases } from "./messages.ts";

/** One JSON row: `{system: "codec:<name>", workload, message, rps, bytes}` (+ inflight on unary rows). */
export interface CodecRow {
  system: string;
  workload: "encode" | "decode" | "unary";
  message: string;
  /** Operations (or calls, for unary) per second. */
  rps: number;
  /** Encoded size of the message in this codec. */
  bytes: number;
  /** Unary rows only: calls in flight. */
  inflight?: number;
  error?: string;
}

export interface CodecRunOptions {
  /** Codec names (without `codec:`); default all. */
  codecs?: readonly string[];
  /** Measured time per cell, ms. */
  measureMs: number;
  /** Warm-up per cell, ms (every codec also runs one warm-up pass over all messages first). */
  warmupMs: number;
  /** Progress lines go here (stderr in the CLIs). */
  log?: (line: string) => void;
}

let sink = 0;

/** Runs `fn` for `ms` milliseconds in batches sized to ~1/50 of the window; returns ops/s. */
export function measure(fn: () => unknown, ms: number): number {
  let batch = 1;
  // Calibrate: grow the batch until it takes >= ms/50 (reading the clock is not free).
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < batch; i++) if (fn() === sink) sink++;
    if (performance.now() - t >= ms / 50 || batch >= 1 << 16) break;
    batch *= 2;
  }
  let ops = 0;
  const t0 = performance.now();
  let now = t0;
  const end = t0 + ms;
  while (now < end) {
    for (let i = 0; i < batch; i++) if (fn() === sink) sink++;
    ops += batch;
    now = performance.now();
  }
  return (ops * 1000) / (now - t0);
}

/**
 * Checks that `codec` round-trips `c` (decode(encode(m)) equals m; for protobufjs, whose
 * messages are its own objects, that its bytes equal protobuf-es'). Returns a reason on failure.
 */
function check(codec: BenchCodec, c: MessageCase, bytes: Uint8Array, reference: Uint8Array): string | undefined {
  try {
    const p = codec.prepare(c);
    if (codec.check === "bytes") return Buffer.compare(bytes, reference) === 0 ? undefined : "bytes differ from protobuf-es";
    const back = p.decode(bytes);
    if (!equals(c.schema, c.message, back as never)) return "decoded message differs from the original";
    if (p.view !== undefined && typeof p.view(bytes) !== "number") return "view did not return its checksum";
    return undefined;
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  }
}

/** Encode/decode rows for every codec x message; skipped codecs are reported via `log`. */
export async function runCodecMicro(
  opts: CodecRunOptions,
): Promise<{ rows: CodecRow[]; codecs: BenchCodec[]; skipped: Map<string, string> }> {
  const log = opts.log ?? (() => {});
  const { codecs, skipped } = await loadCodecs(opts.codecs);
  for (const [name, why] of skipped) log(`  codec:${name} skipped: ${why}`);
  const cases = messageCases();
  const rows: CodecRow[] = [];
  const es = await loadCodecs(["protobuf-es"]);
  for (const codec of codecs) {
    // Zero-copy rows go after the codec's own rows, so table and chart keep them together.
    const viewRows: CodecRow[] = [];
    for (const c of cases) {
      const system = `codec:${codec.name}`;
      let prepared: ReturnType<BenchCodec["prepare"]>;
      try {
        prepared = codec.prepare(c);
      } catch (err) {
        const error = (err as Error).message.split("\n")[0];
        for (const workload of ["encode", "decode"] as const) rows.push({ system, workload, message: c.name, rps: 0, bytes: 0, error });
        log(`  ${system} ${c.name}: ERROR ${error}`);
        continue;
      }
      const reference = es.codecs[0].prepare(c).bytes;
      const bad = check(codec, c, prepared.bytes, reference);
      const bytes = prepared.bytes.length;
      if (bad !== undefined) {
        for (const workload of ["encode", "decode"] as const) rows.push({ system, workload, message: c.name, rps: 0, bytes, error: bad });
        log(`  ${system} ${c.name}: ERROR ${bad}`);
        continue;
      }
      const { encode, decode } = prepared;
      const input = prepared.bytes;
      measure(encode, opts.warmupMs);
      const enc = measure(encode, opts.measureMs);
      measure(() => decode(input), opts.warmupMs);
      const dec = measure(() => decode(input), opts.measureMs);
      rows.push({ system, workload: "encode", message: c.name, rps: enc, bytes });
      rows.push({ system, workload: "decode", message: c.name, rps: dec, bytes });
      log(`  ${system} ${c.name}: ${bytes} B, encode ${fmtOps(enc)}/s, decode ${fmtOps(dec)}/s`);
      const { view } = prepared;
      if (view !== undefined) {
        measure(() => view(input), opts.warmupMs);
        const rps = measure(() => view(input), opts.measureMs);
        viewRows.push({ system: `${system}-view`, workload: "decode", message: c.name, rps, bytes });
        log(`  ${system}-view ${c.name}: open + handler reads ${fmtOps(rps)}/s`);
      }
    }
    rows.push(...viewRows);
  }
  return { rows, codecs, skipped };
}

export function fmtOps(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** Text table: one line per codec and message with encode, decode, encode+decode ops/s and size. */
export function formatCodecTable(rows: CodecRow[]): string {
  const micro = rows.filter((r) => r.workload !== "unary");
  const unary = rows.filter((r) => r.workload === "unary");
  const keys = [...new Set(micro.map((r) => `${r.system}|${r.message}`))];
  const head = ["codec", "message", "bytes", "encode/s", "decode/s", "enc+dec/s", "unary calls/s"];
  const body = keys.map((k) => {
    const [system, message] = k.split("|");
    const at = (w: string) => rows.find((r) => r.system === system && r.message === message && r.workload === w);
    const e = at("encode");
    const d = at("decode");
    const u = unary.find((r) => r.system === system && r.message === message);
    if (e?.error) return [system, message, String(e.bytes || "-"), "ERROR", "-", "-", "-"];
    const both = e && d && e.rps > 0 && d.rps > 0 ? fmtOps(1 / (1 / e.rps + 1 / d.rps)) : "-";
    const us = u === undefined ? "-" : u.error ? "ERROR" : Math.round(u.rps).toString();
    // Decode-only systems (codec:flatbuffers-view) have no encode row: "-" rather than 0.
    const ops = (r: CodecRow | undefined) => (r === undefined ? "-" : fmtOps(r.rps));
    return [system, message, String(e?.bytes ?? d?.bytes ?? "-"), ops(e), ops(d), both, us];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  const lines = body.map((c, i) => {
    const err = micro.find((r) => `${r.system}|${r.message}` === keys[i] && r.error)?.error;
    return err ? `${line(c)}  (${err})` : line(c);
  });
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...lines].join("\n");
}

/**
 * Petrel's protobuf codec against the yardsticks: encode+decode ops/s ratio to
 * protobufjs static code (target >= 1) and protobuf-es reflection (target >= 3), per message.
 */
export function formatCodecTargets(rows: CodecRow[]): string {
  const both = (system: string, message: string): number | undefined => {
    const e = rows.find((r) => r.system === system && r.message === message && r.workload === "encode" && !r.error);
    const d = rows.find((r) => r.system === system && r.message === message && r.workload === "decode" && !r.error);
    return e && d ? 1 / (1 / e.rps + 1 / d.rps) : undefined;
  };
  const lines: string[] = [];
  for (const message of [...new Set(rows.map((r) => r.message))]) {
    const p = both("codec:petrel-protobuf", message);
    if (p === undefined) continue;
    for (const [other, min] of [
      ["codec:protobufjs-static", 1],
      ["codec:protobuf-es", 3],
    ] as const) {
      const o = both(other, message);
      if (o === undefined) continue;
      const r = p / o;
      lines.push(
        `petrel-protobuf / ${other.slice(6)} (${message}) encode+decode ${r.toFixed(2)}x   target >= ${min}x: ${r >= min ? "met" : "NOT met"}`,
      );
    }
  }
  return lines.join("\n");
}
