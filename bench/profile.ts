// Summarizes V8 CPU profiles (`npm run bench -- --cpu-prof` writes them to <out>/profiles/):
// the functions with the most self time, and the files they are in.
//   node --import tsx bench/profile.ts <file.cpuprofile>... [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    total += delta;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^.*\/(node_modules|dist|src)\//, '$1/');
    const key = `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + delta);
    // Total time: every distinct function on the sample's stack gets the sample once.
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame && frame.url) onStack.add(`${frame.functionName || '(anonymous)'}  ${frame.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${frame.lineNumber + 1}`);
    }
    for (const key of onStack) inclusive.set(key, (inclusive.get(key) ?? 0) + delta);
    const group = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.includes('/dist/') ? where.replace(/:\d+$/, '') : url ? 'node internals' : functionName);
    byFile.set(group, (byFile.get(group) ?? 0) + delta);
  });
  const line = ([name, us]: [string, number]): string => `${((us / total) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled`);
  console.log('-- self time by function');
  [...self].sort((a, b) => b[1] - a[1]).slice(0, top).forEach((entry) => console.log(line(entry)));
  console.log('-- total time (self + callees) by function of the registry (dist/)');
  [...inclusive].filter(([name]) => name.includes('dist/')).sort((a, b) => b[1] - a[1]).slice(0, top).forEach((entry) => console.log(line(entry)));
  console.log('-- self time by package / file');
  [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top).forEach((entry) => console.log(line(entry)));
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length === 0) {
  console.error('usage: node --import tsx bench/profile.ts <file.cpuprofile>... [--top 25]');
  process.exit(2);
}
for (const file of positionals) summarize(file, Number(values.top));
