// protobufjs static code for bench/proto/codecs.proto, generated at bench time (never committed,
// so it cannot go stale): `pbjs -t static-module -w es6` into a temp dir, with the
// `protobufjs/minimal` import rewritten to the installed file so the module loads from outside
// node_modules. No pbts: the bench uses the module untyped, and pbts (jsdoc) costs seconds.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PROTO = join(ROOT, "bench/proto/codecs.proto");

/** A protobufjs static message class (the subset the bench uses). */
export interface PbjsType {
  // biome-ignore lint/suspicious/noExplicitAny: protobufjs messages are untyped here
  encode(message: any): { finish(): Uint8Array };
  // biome-ignore lint/suspicious/noExplicitAny: see above
  decode(bytes: Uint8Array): any;
}

/** Generates and imports the static module; returns the types of package petrel.bench.codecs.v1. */
export async function loadPbjsTypes(): Promise<Record<string, PbjsType>> {
  const require = createRequire(join(ROOT, "bench/package.json"));
  const pbjs = join(ROOT, "node_modules/.bin/pbjs");
  const minimal = pathToFileURL(require.resolve("protobufjs/minimal")).href;
  const dir = mkdtempSync(join(tmpdir(), "petrel-pbjs-"));
  try {
    const out = join(dir, "codecs.js");
    // --no-convert/--no-verify/--no-delimited: only encode/decode are measured; smaller module.
    execFileSync(
      pbjs,
      ["-t", "static-module", "-w", "es6", "--no-convert", "--no-verify", "--no-delimited", "--no-comments", "-o", out, PROTO],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    const src = readFileSync(out, "utf8");
    const fixed = src.replace('import * as $protobuf from "protobufjs/minimal";', `import $protobuf from ${JSON.stringify(minimal)};`);
    if (fixed === src) throw new Error("pbjs output changed shape: protobufjs/minimal import not found");
    writeFileSync(out, fixed);
    const mod = await import(pathToFileURL(out).href);
    return mod.petrel.bench.codecs.v1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A protobuf-es message as protobufjs static code takes it: the same camelCase properties,
 * 64-bit integers as numbers (the bench values are below 2^53), `$typeName` dropped, and fields
 * at their zero value left out — protobufjs writes every own property, zero or not, so keeping
 * them would make its bytes longer than protobuf-es' (proto3 skips zero values).
 */
export function toPbjsObject(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(toPbjsObject);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "$typeName" || v === 0 || v === 0n || v === "" || v === false) continue;
    if (v instanceof Uint8Array && v.length === 0) continue;
    out[k] = toPbjsObject(v);
  }
  return out;
}
