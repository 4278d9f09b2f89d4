// A hand-written SVG chart of propagation latency: three panels (p50, p99, max), one group of
// bars per number of subscribers, one bar per way of hearing (callback, watch stream, etcd).
import type { Summary } from './stats.js';

export interface ChartSeries {
  name: string;
  color: string;
  /** Subscribers → latency; a missing entry draws no bar. */
  points: ReadonlyMap<number, Summary>;
}

export interface ChartLine {
  label: string;
  valueMs: number;
  color: string;
}

const WIDTH = 980;
const HEIGHT = 420;
const PANEL_GAP = 30;
const MARGIN = { top: 95, right: 20, bottom: 75, left: 50 };

export function propagationChart(title: string, series: readonly ChartSeries[], p99Lines: readonly ChartLine[]): string {
  const counts = [...new Set(series.flatMap((s) => [...s.points.keys()]))].sort((a, b) => a - b);
  const stats = ['p50', 'p99', 'max'] as const;
  const panelWidth = (WIDTH - MARGIN.left - MARGIN.right - PANEL_GAP * (stats.length - 1)) / stats.length;
  const panels = stats.map((stat, i) => panel(stat, MARGIN.left + i * (panelWidth + PANEL_GAP), panelWidth, counts, series, stat === 'p99' ? p99Lines : []));
  const legend = series.map((s, i) => {
    const name = s.points.size === 0 ? `${s.name} (not measured)` : s.name;
    const [x, y] = [MARGIN.left + (i % 3) * 300, 32 + Math.floor(i / 3) * 18];
    return `<rect x="${x}" y="${y}" width="12" height="12" fill="${s.color}"/><text x="${x + 18}" y="${y + 11}">${escapeXml(name)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...legend,
    ...panels,
    `<text x="${WIDTH / 2}" y="${HEIGHT - 12}" text-anchor="middle">subscribers (dependents or watchers)</text>`,
    '</svg>',
    '',
  ].join('\n');
}

function panel(stat: 'p50' | 'p99' | 'max', x0: number, width: number, counts: readonly number[], series: readonly ChartSeries[], lines: readonly ChartLine[]): string {
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const values = series.flatMap((s) => [...s.points.values()].map((summary) => summary[stat])).filter(Number.isFinite);
  const top = niceCeiling(Math.max(1, ...values, ...lines.map((l) => l.valueMs)));
  const y = (ms: number): number => MARGIN.top + plotHeight - (ms / top) * plotHeight;
  const groupWidth = width / Math.max(1, counts.length);
  const barWidth = Math.min(28, (groupWidth * 0.8) / Math.max(1, series.length));
  const parts: string[] = [`<text x="${x0 + width / 2}" y="${MARGIN.top - 6}" text-anchor="middle" font-weight="bold">${stat} (ms)</text>`];
  for (let tick = 0; tick <= 5; tick++) {
    const value = (top * tick) / 5;
    parts.push(`<line x1="${x0}" x2="${x0 + width}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`);
    parts.push(`<text x="${x0 - 4}" y="${y(value) + 4}" text-anchor="end" fill="#555">${formatTick(value)}</text>`);
  }
  counts.forEach((count, g) => {
    const groupX = x0 + g * groupWidth + (groupWidth - barWidth * series.length) / 2;
    series.forEach((s, i) => {
      const value = s.points.get(count)?.[stat];
      if (value === undefined || !Number.isFinite(value)) return;
      const bx = groupX + i * barWidth;
      parts.push(`<rect x="${bx.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(y(0) - y(value)).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${s.name}, ${count}: ${stat} ${value.toFixed(2)} ms`)}</title></rect>`);
    });
    parts.push(`<text x="${x0 + (g + 0.5) * groupWidth}" y="${y(0) + 16}" text-anchor="middle">${count.toLocaleString('en-US')}</text>`);
  });
  // Dashed target lines, labelled under the axis so that no bar hides a label.
  lines.forEach((line, i) => {
    parts.push(`<line x1="${x0}" x2="${x0 + width}" y1="${y(line.valueMs)}" y2="${y(line.valueMs)}" stroke="${line.color}" stroke-dasharray="5,4"/>`);
    parts.push(`<text x="${x0}" y="${y(0) + 30 + i * 13}" font-size="11" fill="${line.color}">- - ${escapeXml(line.label)}</text>`);
  });
  parts.push(`<line x1="${x0}" x2="${x0 + width}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  return parts.join('\n');
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * magnitude >= value) ?? 10;
  return step * magnitude;
}

function formatTick(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
