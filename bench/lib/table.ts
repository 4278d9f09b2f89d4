// The results table: one row per figure, Roster beside etcd where etcd does the same work.

export interface Row {
  scenario: string;
  figure: string;
  target: string;
  /** Roster's figure. */
  result: string;
  /** etcd's figure for the same work, or "—" where there is no equivalent. */
  etcd: string;
  /** Roster / etcd, or "—". */
  ratio: string;
  /** Whether Roster met the target; null where there is no target. */
  met: boolean | null;
}

export const NONE = '—';

export const COLUMNS = ['scenario', 'figure', 'target', 'result (Roster)', 'etcd', 'Roster / etcd', 'target met'] as const;

export function ratio(roster: number | undefined, etcd: number | undefined): string {
  if (roster === undefined || etcd === undefined || !Number.isFinite(roster) || !Number.isFinite(etcd) || etcd === 0) return NONE;
  return `${(roster / etcd).toFixed(2)}×`;
}

export function markdownTable(rows: readonly Row[]): string {
  const cells = rows.map((row) => [row.scenario, row.figure, row.target, row.result, row.etcd, row.ratio, row.met === null ? NONE : row.met ? 'yes' : '**no**']);
  const escape = (cell: string): string => cell.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const line = (values: readonly string[]): string => `| ${values.map(escape).join(' | ')} |`;
  return [line(COLUMNS), line(COLUMNS.map(() => '---')), ...cells.map(line)].join('\n');
}

/** A row for a scenario that could not run: it says why instead of a figure. */
export function failedRow(scenario: string, error: unknown): Row {
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return { scenario, figure: NONE, target: NONE, result: `failed: ${message}`, etcd: NONE, ratio: NONE, met: false };
}
