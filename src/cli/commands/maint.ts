// `roster maint <url|service> on|off`: takes an instance (by URL) or a whole service (by name)
// out of rotation, or puts it back. Dependents are told `Removed` at once, or after --drain.
import type { Command } from 'commander';
import { instanceId } from '../../protocol/ids.js';
import type { InstanceView } from '../../protocol/v1.js';
import { httpUrl, serviceName } from '../../protocol/validation.js';
import { instanceNotFoundAt, invalidArgument, RosterError, withAdvice } from '../../protocol/errors.js';
import { parseMs } from '../options.js';
import { apiCommand, printJson, processIo, runCommand, withRegistry, type ApiFlags, type CliIo } from '../registry-api.js';

interface MaintFlags extends ApiFlags {
  reason?: string;
  drain?: number;
}

interface ServiceAnswer {
  service: string;
  instances: InstanceView[];
}

const DEFAULT_REASON = 'maintenance';

export function maintCommand(io: CliIo = processIo()): Command {
  return apiCommand('maint', io)
    .description('put the instance at <url>, or every instance of <service>, in maintenance (on) or back in rotation (off)')
    .argument('<target>', 'an instance URL, as `roster ls` shows it, or a service name')
    .argument('<on|off>', 'on: dependents are told the instance is gone; off: it is back')
    .option('--reason <text>', `why, shown on the dashboard and in \`roster ls --json\` (default "${DEFAULT_REASON}")`)
    .option('--drain <ms>', 'with on: dependents keep it this many milliseconds for the work in flight', parseMs)
    .action((target: string, state: string, flags: MaintFlags) => runCommand(io, () => maint(io, target, state, flags)));
}

async function maint(io: CliIo, target: string, state: string, flags: MaintFlags): Promise<void> {
  if (state !== 'on' && state !== 'off') throw invalidArgument('<on|off>', `"on" or "off", not "${state}"`);
  const on = state === 'on';
  const body = { reason: flags.reason ?? DEFAULT_REASON, ...(flags.drain === undefined ? {} : { drainMs: flags.drain }) };
  if (httpUrl.safeParse(target).success) return instanceMaint(io, target, on, body, flags);
  if (!serviceName.safeParse(target).success) throw invalidArgument('<target>', `an http:// or https:// URL or a service name, not "${target}"`);
  const path = `/v1/services/${encodeURIComponent(target)}/maintenance`;
  const answer = await withRegistry(flags, io, (api) => (on ? api.put<ServiceAnswer>(path, body) : api.delete<ServiceAnswer>(path)));
  if (flags.json) return printJson(io, answer);
  const count = `${answer.instances.length} instance${answer.instances.length === 1 ? '' : 's'} now`;
  io.stdout.write(on ? `service ${answer.service} is in maintenance (${count}; later ones too): ${body.reason}\n` : `service ${answer.service} is out of maintenance (${count})\n`);
}

async function instanceMaint(io: CliIo, url: string, on: boolean, body: { reason: string; drainMs?: number }, flags: MaintFlags): Promise<void> {
  const path = `/v1/instances/${encodeURIComponent(instanceId(url))}/maintenance`;
  const answer = await withRegistry(flags, io, (api) => (on ? api.put<{ instance: InstanceView }>(path, body) : api.delete<{ instance: InstanceView }>(path))).catch(
    (error: unknown) => {
      throw notFoundHint(error, url);
    },
  );
  if (flags.json) return printJson(io, answer);
  io.stdout.write(`${describe(answer.instance)}\n`);
}

function describe(instance: InstanceView): string {
  const where = `${instance.service} at ${instance.url}`;
  const { maintenance } = instance;
  if (!maintenance) return `${where} is out of maintenance${instance.health === 'passing' ? ': dependents have it again' : ` (${instance.health})`}`;
  const when = maintenance.draining ? `dependents keep it until ${maintenance.drainUntil}` : 'dependents were told it is gone';
  const why = maintenance.scope === 'service' ? `its service is in maintenance: ${maintenance.reason}` : maintenance.reason;
  return `${where} is in maintenance (${when}): ${why}`;
}

/** The registry names the id it could not find; the user gave a URL. */
function notFoundHint(error: unknown, url: string): unknown {
  if (!(error instanceof RosterError) || error.code !== 'INSTANCE_NOT_FOUND') return error;
  return withAdvice(instanceNotFoundAt(url), '`roster ls` lists them');
}
