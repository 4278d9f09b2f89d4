// `roster ls`: every service, its instances and their health, and who depends on it.
import type { Command } from 'commander';
import type { InstanceView, ServicesResponse, ServiceView } from '../../protocol/v1.js';
import { apiCommand, formatTable, paint, paintHealth, printJson, processIo, runCommand, withRegistry, type ApiFlags, type CliIo, type Paint } from '../registry-api.js';

export function lsCommand(io: CliIo = processIo()): Command {
  return apiCommand('ls', io)
    .description('list services: their instances with health, passing/critical counts, and dependents')
    .action((flags: ApiFlags) => runCommand(io, () => listServices(io, flags), flags));
}

async function listServices(io: CliIo, flags: ApiFlags): Promise<void> {
  const answer = await withRegistry(flags, io, (api) => api.get<ServicesResponse>('/v1/services'));
  if (flags.json) return printJson(io, answer);
  if (answer.services.length === 0) return void io.stdout.write(`no service is registered (revision ${answer.revision})\n`);
  const colors = paint(io);
  const headers = ['SERVICE', 'INSTANCE', 'HEALTH', 'PASSING', 'CRITICAL', 'REQUIRED BY'].map(colors.bold);
  io.stdout.write(formatTable(headers, answer.services.flatMap((service) => serviceRows(service, colors))));
}

/** One row per instance; the service's own columns only on its first row. */
function serviceRows(service: ServiceView, colors: Paint): string[][] {
  const counts = [String(service.passing), service.critical > 0 ? colors.red(String(service.critical)) : '0'];
  const requiredBy = service.requiredBy.join(', ') || '-';
  // A service that is only required, with no instance, is a problem worth seeing.
  if (service.instances.length === 0) return [[service.name, colors.red('(no instance)'), '-', ...counts, requiredBy]];
  return service.instances.map((instance, index) =>
    index === 0
      ? [service.name, instance.url, health(instance, colors), ...counts, requiredBy]
      : ['', instance.url, health(instance, colors), '', '', ''],
  );
}

/** Its health, and "maintenance" when it is out of its dependents' view (`roster maint`). */
function health(instance: InstanceView, colors: Paint): string {
  const shown = paintHealth(colors, instance.health);
  return instance.maintenance ? `${shown} ${colors.yellow('maintenance')}` : shown;
}
