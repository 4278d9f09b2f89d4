// A part started by `roster up` stops when `roster up` is gone, however it went: Ctrl-C, SIGTERM
// and a closed terminal reach `roster up`, which stops its parts in order; `kill -9` reaches
// nobody else. So `roster up` hands each part a pipe on stdin that it never writes to: when
// `roster up` dies, the kernel closes it, the part reads end-of-file and shuts down as on SIGHUP
// (deregister, close, exit 0), through the handlers it already has. The services hold a copy of
// the registry's pipe too, so the registry reads its end-of-file only once `roster up` and every
// service are gone: the services deregister while the registry is still there to hear it.
import { ignoreOutputErrorsAfterHangup } from '../shared/hangup.js';

/** Set by `roster up` in each part's environment: stdin is the pipe to watch. */
export const PARENT_WATCH_ENV = 'ROSTER_STOP_WITH_PARENT';

interface WatchedInput {
  on(event: 'end' | 'close' | 'error', listener: () => void): unknown;
  resume(): unknown;
  unref?(): unknown;
}

/** Watches stdin when `roster up` asked for it; a part started by hand reads nothing. */
export function stopWithParent(env: Record<string, string | undefined> = process.env, input: WatchedInput = process.stdin, hangUp: () => void = hangUpSelf): void {
  if (env[PARENT_WATCH_ENV] !== 'stdin') return;
  let gone = false;
  const parentGone = (): void => {
    if (gone) return;
    gone = true;
    hangUp();
  };
  for (const event of ['end', 'close', 'error'] as const) input.on(event, parentGone);
  input.resume();
  // The pipe alone must not keep a part alive that has finished its work.
  input.unref?.();
}

/** SIGHUP to ourselves: the part's own shutdown runs; its output pipe is gone with the parent. */
function hangUpSelf(): void {
  ignoreOutputErrorsAfterHangup('SIGHUP');
  process.kill(process.pid, 'SIGHUP');
}
