/**
 * Forwarding this process's signals to supervised children, with the init's
 * rules: each target's `rewrite` table applies, and SIGTERM or SIGINT begins
 * the target's stop (its grace deadline armed, SIGCONT sent after the stop
 * signal when a process of its group is stopped, SIGKILL to its group when
 * the deadline passes).
 * @module
 */
import { subscribe } from '../core/signal-hub';
import {
  forwardableSignals, JOB_CONTROL_STOPS, NOT_FORWARDED, SIGPROF, SIGUSR1, signalName, toSignalNumber, type SignalLike,
} from '../signals';
import type { Supervised } from './supervised';

/** Signals {@link forwardSignals} forwards when no `signals` option is given. */
export const DEFAULT_FORWARDED_SIGNALS: readonly string[] = Object.freeze([
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH',
]);

/** Options of {@link forwardSignals}. */
export interface ForwardOptions {
  /**
   * The signals to forward, by name or number. Default
   * {@link DEFAULT_FORWARDED_SIGNALS}. `'all'` means every signal an init
   * forwards except SIGPROF (V8's profiler uses it) and the job-control stops
   * SIGTSTP/SIGTTIN/SIGTTOU (so this process keeps its own job control).
   * SIGKILL, SIGSTOP, SIGCHLD and the fault signals (SIGSEGV, SIGBUS, ...) are
   * refused with a TypeError.
   */
  signals?: readonly SignalLike[] | 'all';
  /** Keep the event loop alive while forwarding. Default false (the targets' own lifetimes keep it alive). */
  keepAlive?: boolean;
}

/** Once SIGUSR1 was forwarded, it stays watched (with nobody listening) so that it never opens the inspector. */
let usr1Held = false;

/** How many live forwardSignals() subscriptions cover each signal. */
const forwarding = new Map<number, number>();

/**
 * Whether some forwardSignals() subscription currently forwards `signum`
 * (`node-tsinit/register` then leaves that signal to it).
 * @internal
 */
export function isForwarding(signum: number): boolean {
  return (forwarding.get(signum) ?? 0) > 0;
}

function resolveSignals(signals: ForwardOptions['signals']): number[] {
  if (signals === 'all') {
    const skip = new Set([SIGPROF, ...JOB_CONTROL_STOPS]);
    return forwardableSignals().filter((n) => !skip.has(n));
  }
  const list = signals ?? DEFAULT_FORWARDED_SIGNALS;
  if (!Array.isArray(list)) throw new TypeError("signals must be an array of signal names or numbers, or 'all'");
  const out = new Set<number>();
  for (const sig of list as readonly SignalLike[]) {
    const n = toSignalNumber(sig);
    if (NOT_FORWARDED.has(n)) throw new TypeError(`${signalName(n)} cannot be forwarded`);
    out.add(n);
  }
  return [...out];
}

/**
 * Forwards the signals this process receives to `target` (or to each of
 * several targets), with the init's rules: each target's `rewrite` applies,
 * and SIGTERM/SIGINT begin its stop with its grace deadline. Targets that have
 * exited are skipped.
 *
 * While a signal is forwarded, this process's default action for it does
 * not happen (a forwarded SIGTERM does not end this process), and SIGUSR1
 * never starts Node's inspector. Returns the unsubscribe function; after it,
 * each signal goes back to its default action, except that SIGPIPE stays
 * ignored (as Node has it) and SIGUSR1 stays harmless: ignored, never the
 * inspector.
 *
 * @throws {TypeError} on a signal that cannot be forwarded or a target that is not a Supervised.
 */
export function forwardSignals(target: Supervised | readonly Supervised[], options: ForwardOptions = {}): () => void {
  const targets: readonly Supervised[] = Array.isArray(target) ? [...target] : [target as Supervised];
  for (const t of targets) {
    if (t === null || typeof t !== 'object' || typeof (t as Partial<Supervised>).forward !== 'function') {
      throw new TypeError('forwardSignals() needs a Supervised (from spawn()) or an array of them');
    }
  }
  const signums = resolveSignals(options.signals);
  if (signums.includes(SIGUSR1) && !usr1Held) {
    usr1Held = true;
    subscribe([SIGUSR1], () => { /* held: SIGUSR1 must never reach Node's inspector handler */ }, false);
  }
  const unsubscribe = subscribe(signums, (signum) => {
    for (const t of targets) {
      if (t.state === 'exited') continue;
      t.forward(signum);
    }
  }, options.keepAlive === true);
  for (const n of signums) forwarding.set(n, (forwarding.get(n) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const n of signums) forwarding.set(n, (forwarding.get(n) ?? 1) - 1);
    unsubscribe();
  };
}
