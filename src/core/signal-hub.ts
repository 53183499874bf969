/**
 * One native signal handler, many subscribers. Watching a signal replaces
 * Node's own handler for it (so SIGUSR1 never starts the inspector while it
 * is watched); the last unsubscribe hands it back to the default, and
 * SIGPIPE back to ignored.
 * @internal
 * @module
 */
import { errnoCode, native } from '../native';
import { LIBC_RESERVED_MAX, LIBC_RESERVED_MIN } from '../signals';

type Listener = (signum: number) => void;

interface Entry {
  listeners: Set<Listener>;
  keepAlive: Set<Listener>;
}

const entries = new Map<number, Entry>();
/** Signals this process's C library refused to let anyone handle. */
const libcReserved = new Set<number>();
let installed = false;

function dispatch(signum: number): void {
  const entry = entries.get(signum);
  if (entry === undefined) return;
  for (const fn of [...entry.listeners]) {
    try {
      fn(signum);
    } catch (err) {
      // A listener's bug must not cost the others their signal, nor PID 1 its life.
      process.emitWarning(`tsinit: signal listener failed: ${String(err)}`);
    }
  }
}

/**
 * Calls `fn(signum)` on the main thread for each delivery of any signal in
 * `signums`. `keepAlive` keeps the event loop alive while subscribed.
 * Returns the unsubscribe function.
 */
export function subscribe(signums: readonly number[], fn: Listener, keepAlive = false): () => void {
  const core = native();
  if (!installed) {
    core.setSignalHandler(dispatch);
    installed = true;
  }
  for (const signum of signums) {
    if (libcReserved.has(signum)) continue;
    let entry = entries.get(signum);
    if (entry === undefined) {
      entry = { listeners: new Set(), keepAlive: new Set() };
      entries.set(signum, entry);
    }
    entry.listeners.add(fn);
    if (keepAlive) entry.keepAlive.add(fn);
    try {
      core.watchSignal(signum, entry.keepAlive.size > 0);
    } catch (err) {
      if (!(signum >= LIBC_RESERVED_MIN && signum <= LIBC_RESERVED_MAX && errnoCode(err) === 'EINVAL')) throw err;
      // The C library keeps this one for itself (glibc 32-33, musl 32-34):
      // nothing can handle it, so it is neither watched nor forwarded.
      libcReserved.add(signum);
      entries.delete(signum);
    }
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const signum of signums) {
      const entry = entries.get(signum);
      if (entry === undefined) continue;
      entry.listeners.delete(fn);
      entry.keepAlive.delete(fn);
      if (entry.listeners.size === 0) {
        entries.delete(signum);
        core.unwatchSignal(signum);
      } else {
        core.watchSignal(signum, entry.keepAlive.size > 0);
      }
    }
  };
}

/** Changes whether `fn`'s subscription to `signum` keeps the event loop alive. */
export function setKeepAlive(signum: number, fn: Listener, keepAlive: boolean): void {
  const entry = entries.get(signum);
  if (entry === undefined || !entry.listeners.has(fn)) return;
  if (keepAlive) entry.keepAlive.add(fn);
  else entry.keepAlive.delete(fn);
  native().watchSignal(signum, entry.keepAlive.size > 0);
}
