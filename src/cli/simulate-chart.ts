import type { SimResult } from '../autoscaler/simulate.js';

/** A policy's simulated results, with their GPU cost. */
export interface SimulationRow extends SimResult {
  /** GPU cost of the replica-seconds at the hardware's list price, in dollars. */
  costDollars: number;
}

const PANEL_W = 300;
const PANEL_H = 200;
const BAR_AREA = 120;
/** Where a panel's bars stand, below its title and the tallest bar's label. */
const BASELINE = 170;
const COLORS = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5'];

/** XML text, escaped. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The simulation's results as one SVG: a panel per measure (p50 wait, p99 wait, rejected
 * requests, replica-seconds, GPU cost), a bar per policy in the legend's colours. Plain SVG,
 * so it opens in any browser and embeds in a README.
 */
export function simulationChart(rows: SimulationRow[]): string {
  const measures: [string, (r: SimulationRow) => number, (v: number) => string][] = [
    ['p50 wait (ms)', (r) => r.p50WaitMs, (v) => v.toFixed(0)],
    ['p99 wait (ms)', (r) => r.p99WaitMs, (v) => v.toFixed(0)],
    ['rejected requests', (r) => r.rejected, (v) => v.toFixed(0)],
    ['replica-seconds', (r) => r.replicaSeconds, (v) => v.toFixed(0)],
    ['GPU cost ($)', (r) => r.costDollars, (v) => v.toFixed(2)],
  ];
  const legendH = 20 * rows.length + 20;
  const width = PANEL_W * 3;
  const height = PANEL_H * 2 + legendH;
  const parts: string[] = [];
  measures.forEach(([title, value, label], i) => {
    const x0 = (i % 3) * PANEL_W;
    const y0 = Math.floor(i / 3) * PANEL_H;
    const values = rows.map((r) => (Number.isFinite(value(r)) ? value(r) : 0));
    const max = Math.max(...values, 1e-9);
    const barW = Math.min(40, (PANEL_W - 40) / Math.max(1, rows.length) - 6);
    parts.push(`<text x="${x0 + PANEL_W / 2}" y="${y0 + 20}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
    parts.push(`<line x1="${x0 + 20}" y1="${y0 + BASELINE}" x2="${x0 + PANEL_W - 20}" y2="${y0 + BASELINE}" stroke="#999"/>`);
    values.forEach((v, j) => {
      const h = (v / max) * BAR_AREA;
      const x = x0 + 24 + j * (barW + 6);
      const y = y0 + BASELINE - h;
      parts.push(`<rect x="${x}" y="${y.toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${COLORS[j % COLORS.length]}"/>`);
      parts.push(`<text x="${x + barW / 2}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10">${esc(label(v))}</text>`);
    });
  });
  rows.forEach((r, j) => {
    const y = PANEL_H * 2 + 10 + j * 20;
    parts.push(`<rect x="20" y="${y}" width="12" height="12" fill="${COLORS[j % COLORS.length]}"/>`);
    parts.push(`<text x="40" y="${y + 11}">${esc(r.policy)}</text>`);
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
