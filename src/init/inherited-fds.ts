/**
 * The descriptors tsinit inherited, which its child inherits in turn at the
 * same numbers (a listening socket handed over by socket activation, a
 * redirection such as `3</dev/null`), and systemd's socket-activation
 * variables.
 *
 * Which descriptors were inherited must be known from before Node starts:
 * Node marks 0..15 close-on-exec and opens its own descriptors in the lowest
 * free numbers, so by the time JavaScript runs the two look alike. The bin's
 * shell lines record the list in {@link INHERITED_FDS_VARIABLE}; started as
 * `node bin/tsinit` (no /bin/sh), the bin calls {@link detectInheritedFds}
 * before anything else opens a descriptor.
 * @internal
 * @module
 */
import { closeSync, fstatSync, readlinkSync } from 'node:fs';
import { namesIn } from '../diagnosis/proc';

/** Private variable carrying the list (numbers > 2, space-separated) from the bin to the init. */
export const INHERITED_FDS_VARIABLE = '__TSINIT_FDS';

/** The numbers > 2 in a space- or comma-separated list, each once, ascending. */
export function parseFdList(text: string): number[] {
  const out = new Set<number>();
  for (const word of text.split(/[\s,]+/)) {
    if (!/^\d{1,9}$/.test(word)) continue;
    const fd = Number(word);
    if (fd > 2) out.add(fd);
  }
  return [...out].sort((a, b) => a - b);
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/**
 * The inherited descriptors the child is to get: the recorded list, less any
 * that is no longer open. Empty when nothing was recorded (tsinit started
 * neither through its bin nor as `node bin/tsinit`).
 */
export function inheritedFds(env: Readonly<Record<string, string | undefined>>): number[] {
  const recorded = env[INHERITED_FDS_VARIABLE];
  if (recorded === undefined) return [];
  return parseFdList(recorded).filter(isOpen);
}

/**
 * Node's own descriptors, told apart by what they are: its event loops'
 * epoll, eventfd and io_uring instances, and the pipes of its signal and
 * wake-up machinery, whose two ends it holds both (measured on Node 20 and
 * 22: nothing else is open when the bin's first line runs).
 */
const NODE_OWN = /^anon_inode:\[?(eventpoll|eventfd|io_uring|signalfd|timerfd)\]?$/;

/**
 * The descriptors > 2 this process inherited, guessed from what is open now:
 * for `node bin/tsinit`, where no shell recorded them. Every descriptor but
 * Node's own (see {@link NODE_OWN}) counts as inherited, so a pipe handed
 * over with both its ends, or an inherited epoll or eventfd, is not passed
 * on. Call it before anything else opens a descriptor. Empty without /proc.
 */
export function detectInheritedFds(): number[] {
  const targets = new Map<number, string>();
  for (const name of namesIn('/proc/self/fd')) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    try {
      targets.set(fd, readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the directory's own descriptor, closed once listed
    }
  }
  const pipeEnds = new Map<string, number>();
  for (const t of targets.values()) if (t.startsWith('pipe:')) pipeEnds.set(t, (pipeEnds.get(t) ?? 0) + 1);
  const out: number[] = [];
  for (const [fd, t] of targets) {
    if (NODE_OWN.test(t)) continue;
    if (t.startsWith('pipe:') && pipeEnds.get(t)! > 1) continue;
    out.push(fd);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Closes this process's copies once the child has its own (never 0..2).
 * Returns the descriptors that could not be closed, with the reason.
 */
export function closeInherited(fds: readonly number[]): Array<{ fd: number; message: string }> {
  const failed: Array<{ fd: number; message: string }> = [];
  for (const fd of fds) {
    if (fd <= 2) continue;
    try {
      closeSync(fd);
    } catch (err) {
      failed.push({ fd, message: (err as Error).message });
    }
  }
  return failed;
}

/** systemd's socket-activation variable naming the process the descriptors are for. */
export const LISTEN_PID = 'LISTEN_PID';

/**
 * Whether the child's LISTEN_PID is to be its own pid: when LISTEN_PID names
 * this process, the descriptors were passed to tsinit for its child (tsinit
 * does not listen itself), so the child becomes the addressee. When it names
 * another process the variables were not meant for tsinit; they pass on
 * unchanged, and sd_listen_fds() in the child ignores them as it should.
 */
export function forwardsSocketActivation(env: Readonly<Record<string, string | undefined>>, pid: number = process.pid): boolean {
  return env[LISTEN_PID] !== undefined && env[LISTEN_PID]!.trim() === String(pid);
}
