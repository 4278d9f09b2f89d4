// Sizes of every scenario, per profile, and the command line of `npm run bench`.
import { parseArgs } from 'node:util';
import { isAbsolute, join, resolve } from 'node:path';
import { REPO_ROOT } from './processes.js';

export type Profile = 'default' | 'quick' | 'tiny';

/** Health-check timings handed to the registry (`roster registry --health-*`). */
export interface HealthTimings {
  intervalMs: number;
  timeoutMs: number;
  attempts: number;
  retryDelayMs: number;
}

export interface Sizes {
  registration: { durationMs: number; warmupMs: number; maxCount: number; concurrency: number };
  propagation: { dependents: number[]; rounds: number; warmupRounds: number; roundTimeoutMs: number };
  failure: { killTrials: number; hangTrials: number; dependents: number; background: number[]; health: HealthTimings };
  scale: { instances: number; listeners: number; settleMs: number; windowMs: number; floorWindowMs: number };
  lookups: { durationMs: number; baselineMs: number; maxCount: number; connections: number; instances: number };
  /** etcd watchers per client (each client its own HTTP/2 connection). */
  etcd: { watchersPerClient: number };
  /** Each phase's length, the quiet client's pace, the flood's connections and its unread streams. */
  fairness: { phaseMs: number; everyMs: number; floodConnections: number; floodStreams: number };
  stuckWatchers: { instances: number; watchers: number; metadataBytes: number; windowMs: number };
  /** Catalog sizes, measured in turn; readers of GET /v1/state in a loop for windowMs. */
  largeCatalog: { instances: number[]; metadataBytes: number; readers: number; windowMs: number };
  /** Dependents whose update URLs refuse connections, and changes of the service they require. */
  outboxFlood: { dependents: number; changes: number };
}

const DEFAULT_HEALTH: HealthTimings = { intervalMs: 3000, timeoutMs: 1000, attempts: 3, retryDelayMs: 1000 };

export const SIZES: Record<Profile, Sizes> = {
  default: {
    registration: { durationMs: 5000, warmupMs: 1000, maxCount: 1_000_000, concurrency: 64 },
    propagation: { dependents: [100, 200, 500, 1000], rounds: 20, warmupRounds: 2, roundTimeoutMs: 10_000 },
    failure: { killTrials: 3, hangTrials: 2, dependents: 5, background: [0, 10_000], health: DEFAULT_HEALTH },
    scale: { instances: 10_000, listeners: 4, settleMs: 5000, windowMs: 60_000, floorWindowMs: 20_000 },
    lookups: { durationMs: 10_000, baselineMs: 5000, maxCount: 5_000_000, connections: 64, instances: 5 },
    etcd: { watchersPerClient: 100 },
    fairness: { phaseMs: 10_000, everyMs: 100, floodConnections: 32, floodStreams: 1000 },
    stuckWatchers: { instances: 10_000, watchers: 200, metadataBytes: 4000, windowMs: 15_000 },
    largeCatalog: { instances: [10_000, 50_000], metadataBytes: 1000, readers: 4, windowMs: 5000 },
    outboxFlood: { dependents: 2000, changes: 270 },
  },
  quick: {
    registration: { durationMs: 2000, warmupMs: 500, maxCount: 500_000, concurrency: 64 },
    propagation: { dependents: [100, 500, 1000], rounds: 5, warmupRounds: 1, roundTimeoutMs: 10_000 },
    failure: { killTrials: 1, hangTrials: 1, dependents: 3, background: [0, 2000], health: { intervalMs: 1000, timeoutMs: 500, attempts: 3, retryDelayMs: 500 } },
    scale: { instances: 2000, listeners: 2, settleMs: 4000, windowMs: 10_000, floorWindowMs: 5000 },
    lookups: { durationMs: 3000, baselineMs: 2000, maxCount: 1_000_000, connections: 64, instances: 5 },
    etcd: { watchersPerClient: 100 },
    fairness: { phaseMs: 5000, everyMs: 100, floodConnections: 32, floodStreams: 500 },
    stuckWatchers: { instances: 5000, watchers: 200, metadataBytes: 4000, windowMs: 5000 },
    largeCatalog: { instances: [10_000, 20_000], metadataBytes: 1000, readers: 4, windowMs: 3000 },
    outboxFlood: { dependents: 1000, changes: 100 },
  },
  tiny: {
    registration: { durationMs: 500, warmupMs: 100, maxCount: 20_000, concurrency: 8 },
    propagation: { dependents: [5, 10], rounds: 2, warmupRounds: 1, roundTimeoutMs: 10_000 },
    failure: { killTrials: 1, hangTrials: 1, dependents: 2, background: [0, 50], health: { intervalMs: 500, timeoutMs: 300, attempts: 2, retryDelayMs: 200 } },
    scale: { instances: 200, listeners: 2, settleMs: 500, windowMs: 1500, floorWindowMs: 1000 },
    lookups: { durationMs: 500, baselineMs: 300, maxCount: 50_000, connections: 8, instances: 5 },
    etcd: { watchersPerClient: 100 },
    fairness: { phaseMs: 1000, everyMs: 100, floodConnections: 4, floodStreams: 20 },
    stuckWatchers: { instances: 300, watchers: 10, metadataBytes: 1000, windowMs: 1000 },
    largeCatalog: { instances: [300, 1000], metadataBytes: 200, readers: 2, windowMs: 500 },
    outboxFlood: { dependents: 50, changes: 20 },
  },
};

export const SCENARIOS = ['registration', 'propagation', 'watch', 'failure', 'scale', 'lookups', 'etcd', 'fairness', 'stuck-watchers', 'large-catalog', 'outbox-flood', 'session-detection', 'session-scale'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  profile: Profile;
  sizes: Sizes;
  /** Where RESULTS.md and the chart go. */
  outDir: string;
  /** Scenarios to run (all by default). */
  only: ReadonlySet<ScenarioName>;
  /** Write CPU profiles of the registry processes (`node --cpu-prof`) here, or null. */
  cpuProfileDir: string | null;
  /** The command as a person would type it, for RESULTS.md. */
  command: string;
}

const USAGE = `usage: npm run bench -- [--quick | --tiny] [--out DIR] [--only a,b] [--cpu-prof]
  --quick      smaller sizes, about a minute
  --tiny       smallest sizes (the test suite uses them)
  --out DIR    where RESULTS.md and propagation.svg go (default: bench/)
  --only LIST  comma-separated scenarios: ${SCENARIOS.join(', ')}
  --cpu-prof   write CPU profiles of every registry process to DIR/profiles/`;

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      tiny: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.quick && values.tiny) throw new Error(`--quick and --tiny exclude each other\n${USAGE}`);
  const profile: Profile = values.tiny ? 'tiny' : values.quick ? 'quick' : 'default';
  const outDir = values.out === undefined ? join(REPO_ROOT, 'bench') : isAbsolute(values.out) ? values.out : resolve(values.out);
  const only = new Set<ScenarioName>(values.only === undefined ? SCENARIOS : values.only.split(',').map(scenarioName));
  return {
    profile,
    sizes: SIZES[profile],
    outDir,
    only,
    cpuProfileDir: values['cpu-prof'] ? join(outDir, 'profiles') : null,
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
  };
}

function scenarioName(value: string): ScenarioName {
  const name = value.trim();
  if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario "${name}"\n${USAGE}`);
  return name as ScenarioName;
}

export function healthFlags(health: HealthTimings): string[] {
  return [
    '--health-interval', String(health.intervalMs),
    '--health-timeout', String(health.timeoutMs),
    '--health-attempts', String(health.attempts),
    '--health-retry-delay', String(health.retryDelayMs),
  ];
}
