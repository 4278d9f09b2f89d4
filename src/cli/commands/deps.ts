// `roster deps [service]`: what a service requires, what depends on it, and who breaks if it goes.
import type { Command } from 'commander';
import type { ServicesResponse, ServiceView } from '../../protocol/v1.js';
import { unknownService } from '../../protocol/errors.js';
import { apiCommand, paint, printJson, processIo, runCommand, withRegistry, type ApiFlags, type CliIo } from '../registry-api.js';

export function depsCommand(io: CliIo = processIo()): Command {
  return apiCommand('deps', io)
    .description('show what a service requires and who breaks if it goes away; without one, the whole graph')
    .argument('[service]', 'a service name')
    .action((service: string | undefined, flags: ApiFlags) => runCommand(io, () => showDependencies(io, service, flags), flags));
}

async function showDependencies(io: CliIo, name: string | undefined, flags: ApiFlags): Promise<void> {
  const { services } = await withRegistry(flags, io, (api) => api.get<ServicesResponse>('/v1/services'));
  if (name === undefined) return printGraph(io, services, flags);
  const service = services.find((s) => s.name === name);
  if (!service) throw unknownService(name, '`roster ls` lists them');
  printService(io, service, services, flags);
}

/** Every service that requires `name`, directly or through others: who breaks if it goes away. */
export function dependentsOf(name: string, services: readonly ServiceView[]): string[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const found = new Set<string>();
  const queue = [name];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const dependent of byName.get(next)?.requiredBy ?? []) {
      if (dependent === name || found.has(dependent)) continue;
      found.add(dependent);
      queue.push(dependent);
    }
  }
  return [...found].sort();
}

function printService(io: CliIo, service: ServiceView, services: readonly ServiceView[], flags: ApiFlags): void {
  const dependents = dependentsOf(service.name, services);
  if (flags.json) return printJson(io, { service: service.name, requires: service.requires, requiredBy: service.requiredBy, dependents });
  const colors = paint(io);
  const passing = new Map(services.map((s) => [s.name, s.passing]));
  const requirement = (name: string): string => ((passing.get(name) ?? 0) > 0 ? name : `${name} ${colors.red('(no passing instance)')}`);
  io.stdout.write(
    [
      `${colors.bold(service.name)}  ${service.passing} passing, ${service.critical} critical`,
      `requires:     ${service.requires.map(requirement).join(', ') || '-'}`,
      `required by:  ${service.requiredBy.join(', ') || '-'}`,
      `breaks if it goes away (directly or through others): ${dependents.join(', ') || 'nothing'}`,
    ].join('\n') + '\n',
  );
}

function printGraph(io: CliIo, services: readonly ServiceView[], flags: ApiFlags): void {
  const edges = services.flatMap((s) => s.requires.map((to) => ({ from: s.name, to })));
  if (flags.json) return printJson(io, { services: services.map((s) => s.name), edges });
  const linked = new Set(edges.flatMap((e) => [e.from, e.to]));
  const alone = services.filter((s) => !linked.has(s.name)).map((s) => `${s.name}\n`);
  io.stdout.write(edges.map((e) => `${e.from} -> ${e.to}\n`).join('') + alone.join(''));
}
