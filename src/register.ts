/**
 * One import line for a Node program that runs as PID 1 (`CMD ["node",
 * "server.js"]`):
 *
 * ```js
 * require('node-tsinit/register');   // CommonJS
 * import 'node-tsinit/register';      // ESM
 * ```
 *
 * - starts a {@link startReaper | reaper}, so orphaned zombies (Chromium's,
 *   a shell's background jobs) are collected, without ever taking a child
 *   that child_process, worker_threads or {@link spawn} is waiting for;
 * - as PID 1, makes SIGTERM, SIGINT and SIGHUP end the program with status
 *   128+N, as they would end it if it were not PID 1, as long as the program
 *   has no listener of its own for that signal. A listener the program adds
 *   (`process.on('SIGTERM', ...)`), even later, stays in charge, and so does
 *   {@link forwardSignals} for the signals it forwards.
 *
 * Importing it twice (or from both ESM and CommonJS) does it once. In a
 * worker thread it does nothing.
 * @module
 */
import { isMainThread } from 'node:worker_threads';
import { isForwarding } from './supervise/forward';
import { startReaper, isPid1, type Reaper } from './supervise/reaper';
import { subscribe } from './core/signal-hub';
import { ENDING_SIGNALS, signalName } from './signals';

/** The names of the ending signals, as `process` events know them. */
const ENDING_NAMES: ReadonlySet<string> = new Set([...ENDING_SIGNALS].map(signalName));

const STATE = Symbol.for('tsinit.register');

interface RegisterState {
  reaper: Reaper | undefined;
}

/**
 * As PID 1, a signal whose action is the default is dropped by the kernel.
 * Watch the three ending signals natively (that adds no `process` listener,
 * so the program's own listener count stays its own) and exit 128+N when the
 * program has none. A `once` listener is removed while Node emits the signal,
 * possibly before this watcher runs: a removal that left no listener marks
 * the signal as handled until the loop turns.
 */
function exitOnSignalsWithoutListener(): void {
  const justHandled = new Set<string>();
  process.on('removeListener', (event: string | symbol) => {
    if (typeof event !== 'string' || !ENDING_NAMES.has(event)) return;
    if (process.listenerCount(event) > 0 || justHandled.has(event)) return;
    justHandled.add(event);
    setImmediate(() => justHandled.delete(event)).unref();
  });
  subscribe([...ENDING_SIGNALS], (signum) => {
    const name = signalName(signum);
    // The program's listener, or its forwardSignals(), is in charge.
    if (process.listenerCount(name) > 0 || justHandled.has(name) || isForwarding(signum)) return;
    process.exit(128 + signum);
  }, false);
}

function register(): RegisterState {
  const holder = globalThis as unknown as Record<symbol, RegisterState | undefined>;
  const existing = holder[STATE];
  if (existing !== undefined) return existing;
  const state: RegisterState = { reaper: undefined };
  holder[STATE] = state;
  if (!isMainThread) return state;
  try {
    state.reaper = startReaper();
  } catch (err) {
    process.emitWarning(`node-tsinit/register: cannot start the reaper: ${(err as Error).message}`, { code: 'TSINIT_REGISTER' });
  }
  if (isPid1()) exitOnSignalsWithoutListener();
  return state;
}

/** The reaper `node-tsinit/register` started (undefined in a worker thread). */
export const reaper: Reaper | undefined = register().reaper;
