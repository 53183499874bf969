/**
 * Closes a Node inspector that a SIGUSR1 opened during tsinit's own
 * bootstrap, before its SIGUSR1 watcher existed (Node 20 has no
 * --disable-sigusr1). An open inspector in PID 1 is a root shell for
 * anything that can reach 127.0.0.1:9229.
 *
 * Detection is cheap: tsinit itself never opens a socket, so a socket above
 * the standard descriptors (which may be socketpairs) hints at the inspector;
 * only then is the inspector module loaded to check and close it.
 * @internal
 * @module
 */
import { readdirSync, readlinkSync } from 'node:fs';
import type { Logger } from './log';

function hasSocket(): boolean {
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return false;
  }
  for (const fd of fds) {
    if (Number(fd) <= 2) continue;
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** Closes the inspector if it is open; returns true when it was. `force` skips the cheap socket check. */
function closeStrayInspector(log: Logger, force = false): boolean {
  if (!force && !hasSocket()) return false;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const inspector = require('node:inspector') as typeof import('node:inspector');
    const url = inspector.url();
    if (url === undefined) return false;
    inspector.close();
    log.warn('inspector', `closed the Node inspector a SIGUSR1 opened during start-up (${url})`);
    return true;
  } catch (err) {
    log.warn('inspector', `cannot close the Node inspector: ${(err as Error).message}`);
    return false;
  }
}

/**
 * Node announces an inspector it opened on SIGUSR1 with an internal process
 * event (for cluster workers); closing it right then leaves no window. The
 * checks during the first second stay as a fallback, should a Node version
 * stop announcing it: the inspector starts on the event loop and listens from
 * its own thread, so it can appear a little after start-up. One-shot, unref'd
 * timers: nothing runs once they are done.
 */
export function guardInspector(log: Logger): void {
  process.on('internalMessage' as 'message', (msg: unknown) => {
    if ((msg as { cmd?: unknown } | null)?.cmd === 'NODE_DEBUG_ENABLED') closeStrayInspector(log, true);
  });
  setImmediate(() => closeStrayInspector(log));
  for (const ms of [50, 250, 1000]) setTimeout(() => closeStrayInspector(log), ms).unref();
}
