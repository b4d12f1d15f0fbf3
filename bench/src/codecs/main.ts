// Codec benchmark CLI: encode/decode ops/s and encoded size per codec on three messages, then an
// end-to-end unary run per codec over petrel/1; prints a table and the protobuf targets.
//   node --import tsx bench/src/codecs/main.ts [--quick] [--codecs a,b] [--ms N] [--warmup-ms N]
//        [--no-e2e] [--json FILE] [--svg [FILE]]
// --svg writes the chart (default docs/img/codecs.svg). `npm run bench` runs the same step for
// its `codec:*` systems.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CODEC_NAMES } from "./codec-set.ts";
import { runCodecE2e } from "./e2e.ts";
import { type CodecRow, formatCodecTable, formatCodecTargets, runCodecMicro } from "./run.ts";
import { codecSvg } from "./svg.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    codecs: { type: "string" },
    ms: { type: "string" },
    "warmup-ms": { type: "string" },
    "no-e2e": { type: "boolean", default: false },
    json: { type: "string" },
    // `--svg` alone -> default path; parseArgs has no optional values, so a bare flag is a boolean.
    svg: { type: "boolean", default: false },
    "svg-file": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(
    "usage: node --import tsx bench/src/codecs/main.ts [--quick] [--codecs a,b] [--ms N] [--warmup-ms N] [--no-e2e]\n" +
      "                                                  [--json FILE] [--svg] [--svg-file FILE]\n" +
      `codecs: ${CODEC_NAMES.join(", ")} (msgpack/avro only when packages/codecs/src has them; flatbuffers adds codec:flatbuffers-view rows)`,
  );
  process.exit(0);
}
const positive = (s: string | undefined, dflt: number, what: string): number => {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`codecs: --${what} must be a positive number, got "${s}"`);
    process.exit(2);
  }
  return n;
};
const measureMs = positive(args.ms, args.quick ? 300 : 1000, "ms");
const warmupMs = positive(args["warmup-ms"], args.quick ? 100 : 300, "warmup-ms");
const codecs = args.codecs
  ?.split(",")
  .map((s) => s.trim().replace(/^codec:/, ""))
  .filter(Boolean);
const log = (l: string): void => {
  console.error(l);
};

console.error(`codecs: ${measureMs} ms per cell after ${warmupMs} ms warm-up; node ${process.version}`);
const micro = await runCodecMicro({ codecs, measureMs, warmupMs, log });
let rows: CodecRow[] = micro.rows;
if (!args["no-e2e"]) rows = rows.concat(await runCodecE2e(micro.codecs, { measureMs: measureMs * 2, warmupMs, log }));

console.log(formatCodecTable(rows));
const targets = formatCodecTargets(rows);
if (targets) console.log(`\n${targets}`);
for (const [name, why] of micro.skipped) console.log(`codec:${name} skipped: ${why}`);

if (args.json) {
  writeFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), args.json), `${JSON.stringify(toJson(rows), null, 2)}\n`);
  console.error(`codecs: wrote ${args.json}`);
}
if (args.svg || args["svg-file"]) {
  const file = args["svg-file"] ? resolve(process.cwd(), args["svg-file"]) : resolve(ROOT, "docs/img/codecs.svg");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, codecSvg(rows, `node ${process.version}, ${measureMs} ms per cell, one process, ops/s of one core`));
  console.error(`codecs: wrote ${file}`);
}

/** JSON rows: rps rounded. */
function toJson(rs: CodecRow[]): CodecRow[] {
  return rs.map((r) => ({ ...r, rps: Math.round(r.rps) }));
}
