// `roster watch [service...]`: the registry's changes as they happen, one line each, until Ctrl-C.
import type { Command } from 'commander';
import { WatchStream, type WatchChange, type WatchSnapshot } from '../../client/watch-stream.js';
import { invalidArgument, type RosterError } from '../../protocol/errors.js';
import { serviceName } from '../../protocol/validation.js';
import { systemClock } from '../../shared/clock.js';
import { terminalSafe, terminalSafeJson } from '../terminal-text.js';
import { apiCommand, credential, explained, paint, processIo, registryUrl, runCommand, trustedCa, type ApiFlags, type CliIo, type Paint } from '../registry-api.js';

export function watchCommand(io: CliIo = processIo()): Command {
  return apiCommand('watch', io)
    .description('print changes as they happen (one JSON object per line with --json); Ctrl-C stops')
    .argument('[service...]', 'only changes of these services')
    .action((services: string[], flags: ApiFlags) => runCommand(io, () => watchChanges(io, services, flags), flags));
}

/** Resolves on Ctrl-C; rejects when the first connection fails (later drops are retried). */
function watchChanges(io: CliIo, services: string[], flags: ApiFlags): Promise<void> {
  const bad = services.find((name) => !serviceName.safeParse(name).success);
  if (bad !== undefined) throw invalidArgument(`"${bad}"`, 'a service name (a letter, then letters, digits, ".", "_" or "-")');
  const url = registryUrl(flags, io.env);
  const given = credential(flags, io.env, url);
  const ca = trustedCa(io.env);
  const print = printer(io, flags);
  let revision: number | undefined;
  let connected = false;
  let firstSnapshot = true;
  return new Promise((resolve, reject) => {
    const stream = new WatchStream({
      registryUrl: () => url,
      headers: given ? { authorization: `Bearer ${given.token}` } : {},
      ca,
      services: services.length > 0 ? services : undefined,
      since: () => revision,
      clock: systemClock,
      handlers: {
        connected: () => void (connected = true),
        snapshot: (snapshot) => {
          revision = snapshot.revision;
          print.snapshot(snapshot);
          if (firstSnapshot) io.stderr.write(waitingFor(services, snapshot));
          firstSnapshot = false;
        },
        change: (change) => {
          revision = change.revision;
          print.change(change);
        },
        disconnected: (error, retryInMs) => {
          // Nothing to wait for if the registry was never there, or no longer takes our token: say so and exit.
          if (!connected || error.status === 401 || error.status === 403) return void stream.close().then(() => reject(explained(url, error, given)));
          print.dropped(error, retryInMs);
        },
      },
    });
    io.interrupted.addEventListener('abort', () => void stream.close().then(resolve), { once: true });
    if (io.interrupted.aborted) return void stream.close().then(resolve);
    stream.start();
  });
}

/** Everything printed comes from the registry: made terminal-safe before it is printed or painted. */
function printer(io: CliIo, flags: ApiFlags) {
  const colors = paint(io);
  const line = (text: string): unknown => io.stdout.write(`${text}\n`);
  if (flags.json) {
    return {
      snapshot: (snapshot: WatchSnapshot) => line(terminalSafeJson(JSON.stringify({ type: 'snapshot', ...snapshot }))),
      change: (change: WatchChange) => line(terminalSafeJson(JSON.stringify(change))),
      dropped: (error: RosterError, retryInMs: number) => io.stderr.write(droppedMessage(error, retryInMs)),
    };
  }
  return {
    snapshot: (snapshot: WatchSnapshot) => line(colors.dim(`${clockTime()} rev ${snapshot.revision} snapshot: ${describeSnapshot(snapshot)}`)),
    change: (change: WatchChange) => line(`${clockTime()} rev ${change.revision} ${paintType(colors, change.type)} ${terminalSafe(change.instance.service)} ${terminalSafe(change.instance.url)}`),
    dropped: (error: RosterError, retryInMs: number) => io.stderr.write(droppedMessage(error, retryInMs)),
  };
}

/**
 * A service named but not there yet is waited for, not refused (it may be about to start): a
 * line says so, rather than a silence that looks like a hang or a typo that goes unseen.
 */
function waitingFor(services: readonly string[], { instances }: WatchSnapshot): string {
  const present = new Set(instances.map((instance) => instance.service));
  return services
    .filter((name) => !present.has(name))
    .map((name) => `roster: no instance of "${name}" is registered; waiting for one to appear (Ctrl-C stops)\n`)
    .join('');
}

function describeSnapshot({ instances }: WatchSnapshot): string {
  const critical = instances.filter((i) => i.health === 'critical').length;
  return `${instances.length} instance(s), ${instances.length - critical} passing, ${critical} critical`;
}

function paintType(colors: Paint, type: WatchChange['type']): string {
  if (type === 'critical') return colors.red(type);
  // Any other word a registry sends is data like the rest.
  return type === 'deregistered' ? colors.yellow(type) : colors.green(terminalSafe(type));
}

function droppedMessage(error: RosterError, retryInMs: number): string {
  return `roster: ${terminalSafe(error.message)}; reconnecting in ${retryInMs} ms\n`;
}

/** Local wall-clock time, HH:MM:SS. */
function clockTime(): string {
  return new Date().toTimeString().slice(0, 8);
}
