// Hand-written SVG plots for the load-balancer simulation (no plotting dependency).
import type { SimResult } from "./sim.ts";

const COLORS = ["#7f7f7f", "#1f77b4", "#17becf", "#bcbd22", "#ff7f0e", "#d62728", "#2ca02c", "#98df8a", "#9467bd", "#8c564b"];
const FONT = `font-family="system-ui, sans-serif" font-size="12"`;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmtMs(ms: number): string {
  if (ms >= 1000) return `${+(ms / 1000).toPrecision(3)} s`;
  return `${+ms.toPrecision(3)} ms`;
}

/**
 * Latency by percentile, HdrHistogram style: x = log10(1 / (1 - p)) so p90, p99, p99.9 and p99.99
 * are evenly spaced and the tail is readable; y = latency on a log scale.
 */
export function latencySvg(results: SimResult[]): string {
  const W = 900;
  const H = 520;
  const L = 70;
  const R = 230;
  const T = 40;
  const Bm = 50;
  const pw = W - L - R;
  const ph = H - T - Bm;
  const xMax = 4;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const r of results) {
    lo = Math.min(lo, r.latencies[Math.floor(r.latencies.length * 0.01)]!);
    hi = Math.max(hi, r.latencies[r.latencies.length - 1]!);
  }
  const yLo = Math.floor(Math.log10(Math.max(lo, 0.01)));
  const yHi = Math.ceil(Math.log10(Math.max(hi, 1)));
  const X = (x: number) => L + (x / xMax) * pw;
  const Y = (ms: number) => T + ph - ((Math.log10(Math.max(ms, 10 ** yLo)) - yLo) / (yHi - yLo)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>`);
  out.push("<title>Latency by percentile per balancing policy (simulated)</title>");
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="22" font-size="15" font-weight="bold">Latency by percentile (1,000 backends, 100 clients, simulated)</text>`);
  for (let e = yLo; e <= yHi; e++) {
    const y = Y(10 ** e).toFixed(1);
    out.push(`<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${y}" dy="4" text-anchor="end">${fmtMs(10 ** e)}</text>`);
  }
  const ticks: Array<[number, string]> = [
    [0, "p0"],
    [1, "p90"],
    [2, "p99"],
    [3, "p99.9"],
    [4, "p99.99"],
  ];
  for (const [x, label] of ticks) {
    out.push(`<line x1="${X(x)}" y1="${T}" x2="${X(x)}" y2="${T + ph}" stroke="#ddd"/>`);
    out.push(`<text x="${X(x)}" y="${T + ph + 18}" text-anchor="middle">${label}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${L + pw / 2}" y="${H - 10}" text-anchor="middle">percentile</text>`);
  out.push(`<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">latency (log scale)</text>`);
  results.forEach((r, k) => {
    const n = r.latencies.length;
    const pts: string[] = [];
    for (let s = 0; s <= 400; s++) {
      const x = (s / 400) * xMax;
      const p = 1 - 10 ** -x;
      const v = r.latencies[Math.min(n - 1, Math.floor(p * n))]!;
      pts.push(`${X(x).toFixed(1)},${Y(v).toFixed(1)}`);
    }
    const color = COLORS[k % COLORS.length]!;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`);
    const ly = T + 10 + k * 20;
    out.push(`<line x1="${L + pw + 15}" y1="${ly}" x2="${L + pw + 40}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${L + pw + 46}" y="${ly + 4}">${esc(r.label)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** Load spread: time-averaged max/mean and coefficient of variation of outstanding requests per backend. */
export function spreadSvg(results: SimResult[]): string {
  const W = 900;
  const rowH = 26;
  const T = 60;
  const H = T + results.length * rowH + 30;
  const labelW = 180;
  const panelW = (W - labelW - 40) / 2;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>`);
  out.push("<title>Load spread over backends per balancing policy (simulated)</title>");
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(
    `<text x="10" y="22" font-size="15" font-weight="bold">Load spread over backends (outstanding requests, lower is more even)</text>`,
  );
  const panels: Array<[string, (r: SimResult) => number, number]> = [
    ["max / mean", (r) => r.maxOverMean, labelW],
    ["coefficient of variation", (r) => r.cv, labelW + panelW + 20],
  ];
  for (const [title, get, x0] of panels) {
    const max = Math.max(...results.map(get), 1e-9);
    out.push(`<text x="${x0}" y="${T - 12}" font-weight="bold">${title}</text>`);
    results.forEach((r, k) => {
      const v = get(r);
      const w = Math.max(1, (v / max) * (panelW - 60));
      const y = T + k * rowH;
      out.push(`<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${COLORS[k % COLORS.length]}"/>`);
      out.push(`<text x="${(x0 + w + 5).toFixed(1)}" y="${y + rowH - 12}">${v.toFixed(2)}</text>`);
    });
  }
  results.forEach((r, k) => {
    out.push(`<text x="${labelW - 8}" y="${T + k * rowH + rowH - 12}" text-anchor="end">${esc(r.label)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
