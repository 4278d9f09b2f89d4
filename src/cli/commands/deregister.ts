// `roster deregister <url>`: removes the instance at a URL, as if it had deregistered itself.
import type { Command } from 'commander';
import { instanceId } from '../../protocol/ids.js';
import type { InstanceView } from '../../protocol/v1.js';
import { httpUrl } from '../../protocol/validation.js';
import { instanceNotFoundAt, invalidArgument, RosterError, withAdvice } from '../../protocol/errors.js';
import { apiCommand, printJson, processIo, runCommand, withRegistry, type ApiFlags, type CliIo } from '../registry-api.js';

export function deregisterCommand(io: CliIo = processIo()): Command {
  return apiCommand('deregister', io)
    .description('remove the instance at <url> from the registry (its dependents are told)')
    .argument('<url>', 'the instance URL, as `roster ls` shows it')
    .action((url: string, flags: ApiFlags) => runCommand(io, () => deregister(io, url, flags)));
}

async function deregister(io: CliIo, url: string, flags: ApiFlags): Promise<void> {
  if (!httpUrl.safeParse(url).success) throw invalidArgument('<url>', `an http:// or https:// URL, not "${url}"`);
  const path = `/v1/instances/${encodeURIComponent(instanceId(url))}`;
  const answer = await withRegistry(flags, io, (api) => api.delete<{ instance: InstanceView }>(path)).catch((error: unknown) => {
    throw notFoundHint(error, url);
  });
  if (flags.json) return printJson(io, answer);
  const { instance } = answer;
  io.stdout.write(`deregistered ${instance.service} at ${instance.url} (revision ${instance.revision})\n`);
}

/** The registry names the id it could not find; the user gave a URL. */
function notFoundHint(error: unknown, url: string): unknown {
  if (!(error instanceof RosterError) || error.code !== 'INSTANCE_NOT_FOUND') return error;
  return withAdvice(instanceNotFoundAt(url), '`roster ls` lists them');
}
