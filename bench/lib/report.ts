// bench/RESULTS.md: the command, the machine, the table, the chart, and what was missed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { etcdBinary } from './processes.js';
import { markdownTable, type Row } from './table.js';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  etcd: string;
  /** 1-minute load average when the bench started: other work on the machine skews the figures. */
  loadAtStart: number;
}

export function describeMachine(): Machine {
  const binary = etcdBinary();
  let etcd = 'not installed';
  if (binary) {
    try {
      etcd = execFileSync(binary, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? 'unknown';
    } catch {
      etcd = 'unknown';
    }
  }
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    os: `${type()} ${release()}`,
    etcd,
    loadAtStart: loadavg()[0] ?? 0,
  };
}

export interface Report {
  command: string;
  profile: string;
  machine: Machine;
  startedAt: Date;
  durationS: number;
  rows: readonly Row[];
  chartFile: string;
  /** Notes kept by hand (bench/FINDINGS.md): profile findings and proposed fixes. */
  findingsFile: string;
  notes: readonly string[];
}

export function resultsMarkdown(report: Report): string {
  const { machine } = report;
  const missed = report.rows.filter((row) => row.met === false);
  const findings = existsSync(report.findingsFile) ? readFileSync(report.findingsFile, 'utf8').trim() : '';
  return [
    '# Roster benchmarks',
    '',
    `Produced by \`${report.command}\` (profile: ${report.profile}) on ${report.startedAt.toISOString()}, in ${Math.round(report.durationS)} s.`,
    '',
    '## Machine',
    '',
    `- cores: ${machine.cores} (${machine.cpuModel})`,
    `- memory: ${machine.memoryGiB.toFixed(1)} GiB`,
    `- Node.js: ${machine.node}; ${machine.os}`,
    `- etcd: ${machine.etcd}`,
    `- load average when the run started: ${machine.loadAtStart.toFixed(2)} (anything else running skews the figures)`,
    '',
    '## Results',
    '',
    markdownTable(report.rows),
    '',
    `Ratios are Roster ÷ etcd: above 1 is better for a rate, below 1 is better for a latency. "—": no target or no etcd equivalent.`,
    '',
    `![Propagation latency: p50, p99 and max per number of subscribers, callback vs watch stream vs etcd](${report.chartFile})`,
    '',
    '## Targets missed in this run',
    '',
    ...(missed.length === 0 ? ['None.'] : missed.map((row) => `- ${row.scenario}: ${row.figure} — ${row.result} against ${row.target}`)),
    '',
    '## How each figure is measured',
    '',
    ...report.notes.map((note) => `- ${note}`),
    ...(findings ? ['', findings] : []),
    '',
  ].join('\n');
}
