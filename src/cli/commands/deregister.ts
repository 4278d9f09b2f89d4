// `roster deregister <url>`: removes the instance at a URL, as if it had deregistered itself.
import type { Command } from 'commander';
import { instanceId } from '../../protocol/ids.js';
import type { InstanceView } from '../../protocol/v1.js';
import { httpUrl } from '../../protocol/validation.js';
import { instanceNotFoundAt, invalidArgument, RosterError, withAdvice } from '../../protocol/errors.js';
import { apiCommand, printJson, processIo, runCommand, withRegistry, type ApiFlags, type CliIo, type RegistryCalls } from '../registry-api.js';

export function deregisterCommand(io: CliIo = processIo()): Command {
  return apiCommand('deregister', io)
    .description('remove the instance at <url> from the registry (its dependents are told)')
    .argument('<url>', 'the instance URL, as `roster ls` shows it')
    .action((url: string, flags: ApiFlags) => runCommand(io, () => deregister(io, url, flags), flags));
}

async function deregister(io: CliIo, url: string, flags: ApiFlags): Promise<void> {
  if (!httpUrl.safeParse(url).success) throw invalidArgument('<url>', `an http:// or https:// URL, not "${url}"`);
  const answer = await withRegistry(flags, io, (api) => deleteFirstFound(api, spellings(url))).catch((error: unknown) => {
    throw notFoundHint(error, url);
  });
  if (flags.json) return printJson(io, answer);
  const { instance } = answer;
  io.stdout.write(`deregistered ${instance.service} at ${instance.url} (revision ${instance.revision})\n`);
}

/**
 * The registry keeps an instance's URL as it registered, and knows it by that text: the URL as
 * given comes first, then the same address spelled as the registry would hold it otherwise (with or
 * without a trailing slash, the host in lower case), so that `http://h:4000/` finds `http://h:4000`.
 */
export function spellings(url: string): string[] {
  const bare = (text: string): string => text.replace(/\/+$/, '');
  const parsed = new URL(url).href;
  return [...new Set([url, bare(url), `${bare(url)}/`, parsed, bare(parsed)])];
}

/** DELETE of the first spelling the registry knows; INSTANCE_NOT_FOUND when it knows none. */
async function deleteFirstFound(api: RegistryCalls, urls: readonly string[]): Promise<{ instance: InstanceView }> {
  let notFound: unknown;
  for (const candidate of urls) {
    try {
      return await api.delete<{ instance: InstanceView }>(`/v1/instances/${encodeURIComponent(instanceId(candidate))}`);
    } catch (error) {
      if (!(error instanceof RosterError) || error.code !== 'INSTANCE_NOT_FOUND') throw error;
      notFound = error;
    }
  }
  throw notFound;
}

/** The registry names the id it could not find; the user gave a URL. */
function notFoundHint(error: unknown, url: string): unknown {
  if (!(error instanceof RosterError) || error.code !== 'INSTANCE_NOT_FOUND') return error;
  return withAdvice(instanceNotFoundAt(url), '`roster ls` lists them');
}
