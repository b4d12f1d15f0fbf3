// Renders interop/results/matrix.json (written by interop.test.ts) and its siblings matrix-<peer>.json
// (written by the other peers' suites, e.g. python.test.ts, go.test.ts) as one Markdown table.
// `node --import tsx interop/src/matrix.ts` prints it; `--write` also puts it into README.md
// between `<!-- interop-matrix:start -->` and `<!-- interop-matrix:end -->`.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Outcome of one case in one direction. */
export type Outcome = "pass" | "fail" | "not yet" | "n/a" | "skipped";

export interface Matrix {
  /** Column order. */
  directions: string[];
  /** Row order. */
  cases: string[];
  /** direction -> case -> outcome. */
  results: Record<string, Record<string, Outcome>>;
  /** direction -> case -> why it is not a pass (optional). */
  notes?: Record<string, Record<string, string>>;
}

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const matrixPath = join(repoRoot, "interop/results/matrix.json");
export const START_MARKER = "<!-- interop-matrix:start -->";
export const END_MARKER = "<!-- interop-matrix:end -->";

const CELL: Record<Outcome, string> = {
  pass: "✅ pass",
  fail: "❌ fail",
  "not yet": "🚧 not yet",
  "n/a": "— n/a",
  skipped: "⏭ skipped",
};

/** The Markdown table, one row per case, one column per direction, then the footnotes. */
export function renderMatrix(m: Matrix): string {
  const lines = [`| case | ${m.directions.join(" | ")} |`, `|---|${m.directions.map(() => "---").join("|")}|`];
  const notes: string[] = [];
  for (const c of m.cases) {
    const cells = m.directions.map((d) => {
      const outcome = m.results[d]?.[c];
      if (outcome === undefined) return "";
      const note = m.notes?.[d]?.[c];
      if (note === undefined) return CELL[outcome];
      notes.push(note);
      return `${CELL[outcome]} [${notes.length}]`;
    });
    lines.push(`| \`${c}\` | ${cells.join(" | ")} |`);
  }
  if (notes.length > 0) {
    lines.push("");
    for (const [i, n] of notes.entries()) lines.push(`${i + 1}. ${n}`);
  }
  return lines.join("\n");
}

/** Merges matrix parts: directions in part order, cases in first-seen order. */
export function mergeMatrices(parts: Matrix[]): Matrix {
  const out: Matrix = { directions: [], cases: [], results: {}, notes: {} };
  for (const p of parts) {
    for (const d of p.directions) if (!out.directions.includes(d)) out.directions.push(d);
    for (const c of p.cases) if (!out.cases.includes(c)) out.cases.push(c);
    for (const [d, r] of Object.entries(p.results)) out.results[d] = { ...out.results[d], ...r };
    for (const [d, n] of Object.entries(p.notes ?? {})) (out.notes ?? {})[d] = { ...out.notes?.[d], ...n };
  }
  return out;
}

/** matrix.json first, then every matrix-<peer>.json beside it in name order. */
export function readMatrixParts(): Matrix[] {
  const dir = dirname(matrixPath);
  const names = readdirSync(dir)
    .filter((n) => /^matrix-[\w-]+\.json$/.test(n))
    .sort();
  return [matrixPath, ...names.map((n) => join(dir, n))].map((f) => JSON.parse(readFileSync(f, "utf8")) as Matrix);
}

/** Replaces the text between the markers in `readme` with `table`. */
export function spliceReadme(readme: string, table: string): string {
  const a = readme.indexOf(START_MARKER);
  const b = readme.indexOf(END_MARKER);
  if (a < 0 || b < a) throw new Error(`README.md lacks ${START_MARKER} … ${END_MARKER}`);
  return `${readme.slice(0, a + START_MARKER.length)}\n${table}\n${readme.slice(b)}`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = mergeMatrices(readMatrixParts());
  const table = renderMatrix(m);
  console.log(table);
  if (process.argv.includes("--write")) {
    const readmePath = join(repoRoot, "README.md");
    writeFileSync(readmePath, spliceReadme(readFileSync(readmePath, "utf8"), table));
    console.error("README.md: interop matrix updated");
  }
}
