// Hand-written SVG chart of the codec rows: a 3 x 3 grid (encode ops/s, decode ops/s, encoded
// bytes) x (small, order, batch) of horizontal bar charts, one bar per codec, each panel on its
// own linear scale (ops/s differ by orders of magnitude between messages). Decode-only systems
// (codec:flatbuffers-view: open + handler reads) appear in the decode panels only.
import type { CodecRow } from "./run.ts";

const PALETTE = ["#1f6feb", "#8250df", "#bf3989", "#d1242f", "#bc4c00", "#4d2d00", "#1a7f37", "#57606a"];
const CELL_W = 330;
const LABEL_W = 120;
const BAR_H = 16;
const GAP = 5;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fmt(n: number, bytes: boolean): string {
  if (bytes) return n >= 10_000 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k/s`;
  return `${n.toFixed(0)}/s`;
}

/** Renders the chart; `subtitle` names the machine/run (e.g. Node version). */
export function codecSvg(rows: CodecRow[], subtitle: string): string {
  const ok = rows.filter((r) => !r.error && r.workload !== "unary");
  const codecs = [...new Set(ok.map((r) => r.system))];
  const messages = [...new Set(ok.map((r) => r.message))];
  const metrics: Array<{ title: string; pick: (r: CodecRow) => number; workload: string; bytes: boolean }> = [
    { title: "encode (ops/s, higher is better)", workload: "encode", pick: (r) => r.rps, bytes: false },
    { title: "decode (ops/s, higher is better)", workload: "decode", pick: (r) => r.rps, bytes: false },
    { title: "encoded size (lower is better)", workload: "encode", pick: (r) => r.bytes, bytes: true },
  ];
  // A panel lists only the systems that have its workload: decode-only ones (codec:flatbuffers-view)
  // sit in the decode panel. Colours follow the system, so a codec keeps its colour across panels.
  const inPanel = (workload: string) => codecs.filter((s) => ok.some((r) => r.system === s && r.workload === workload));
  const cellH = 28 + Math.max(...metrics.map((m) => inPanel(m.workload).length)) * (BAR_H + GAP);
  const width = 20 + messages.length * CELL_W;
  const height = 60 + metrics.length * (cellH + 24);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    "<title>Petrel codec benchmark: encode/decode ops/s and encoded size per codec and message</title>",
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">Petrel codec benchmark: small / order / batch messages</text>`,
    `<text x="10" y="38" fill="#57606a">${esc(subtitle)}</text>`,
  );
  metrics.forEach((m, mi) => {
    const y0 = 56 + mi * (cellH + 24);
    out.push(`<text x="10" y="${y0 + 4}" font-size="13" font-weight="bold">${esc(m.title)}</text>`);
    const shown = inPanel(m.workload);
    messages.forEach((msg, gi) => {
      const x0 = 10 + gi * CELL_W;
      const vals = shown.map((s) => {
        const r = ok.find((x) => x.system === s && x.message === msg && x.workload === m.workload);
        return r ? m.pick(r) : 0;
      });
      const max = Math.max(1, ...vals);
      const barMax = CELL_W - LABEL_W - 80;
      out.push(`<text x="${x0 + LABEL_W}" y="${y0 + 20}" fill="#24292f">${esc(msg)}</text>`);
      shown.forEach((s, si) => {
        const ci = codecs.indexOf(s);
        const y = y0 + 26 + si * (BAR_H + GAP);
        const v = vals[si];
        const w = Math.max(v > 0 ? 1 : 0, Math.round((v / max) * barMax));
        out.push(
          `<text x="${x0 + LABEL_W - 6}" y="${y + BAR_H - 4}" text-anchor="end">${esc(s.replace(/^codec:/, ""))}</text>`,
          `<rect x="${x0 + LABEL_W}" y="${y}" width="${w}" height="${BAR_H}" fill="${PALETTE[ci % PALETTE.length]}"/>`,
          `<text x="${x0 + LABEL_W + w + 4}" y="${y + BAR_H - 4}" fill="#24292f">${v > 0 ? fmt(v, m.bytes) : "n/a"}</text>`,
        );
      });
    });
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
