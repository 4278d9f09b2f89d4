// Percentiles and the few summaries the table shows.

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of ascending `sorted` values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
    mean: sorted.length ? total / sorted.length : Number.NaN,
  };
}

/** 12345.6 → "12,346"; 3.456 → "3.46"; fixed decimals below 100. */
export function formatNumber(value: number, decimals?: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = decimals ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatLatency(summary: Pick<Summary, 'p50' | 'p99' | 'max'>, unit = 'ms'): string {
  return `p50 ${formatNumber(summary.p50)} / p99 ${formatNumber(summary.p99)} / max ${formatNumber(summary.max)} ${unit}`;
}
