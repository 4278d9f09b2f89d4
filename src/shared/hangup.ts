// SIGHUP: the terminal a process ran in was closed. Its shutdown goes on, and logs as it goes,
// but a write to a terminal that is gone fails (EIO, EPIPE): such a failure must not end the
// process before it has deregistered and closed.
export function ignoreOutputErrorsAfterHangup(signal: NodeJS.Signals): void {
  if (signal !== 'SIGHUP') return;
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}
