/**
 * What both of the CLI's inits (one child in init.ts, a Procfile's services
 * in services.ts) do before their first child exists, in this order: watch
 * every signal, take those that came during start-up, guard the inspector,
 * set the parent-death signal and the subreaper.
 * @internal
 * @module
 */
import type { WaitEvent } from '../core/children';
import { Level, type Logger } from './log';
import { native } from '../native';
import type { CliOptions } from './options';
import { guardInspector } from './inspector-guard';
import { STASHED_PPID } from '../core/raw-invocation';
import { subscribe } from '../core/signal-hub';
import { forwardableSignals, signalName } from '../signals';
import { startupSignals } from './startup';

/**
 * Prepares this process to be an init. From here on SIGUSR1 cannot start
 * the inspector and no signal sent to tsinit is lost: each goes to
 * `onSignal`. Returns the signals to act on once the child runs, in the
 * order they came: those that arrived during start-up (src/init/startup.ts) and
 * the parent-death signal when the parent is already gone.
 */
export function prepareInit(o: Pick<CliOptions, 'pdeathsig' | 'subreaper'>, env: Readonly<Record<string, string | undefined>>,
  log: Logger, pid1: boolean, onSignal: (signum: number) => void): number[] {
  subscribe(forwardableSignals(), onSignal, true);
  const pending: number[] = [];
  for (const signum of startupSignals(env)) {
    log.debug('signal', `received ${signalName(signum)} during start-up`);
    pending.push(signum);
  }
  guardInspector(log);
  const core = native();
  if (o.pdeathsig !== null) {
    const expected = Number(env[STASHED_PPID] ?? process.ppid);
    try {
      if (!core.setPdeathsig(o.pdeathsig, expected)) {
        log.info('signal', `parent ${expected} already gone: acting on ${signalName(o.pdeathsig)} now`);
        pending.push(o.pdeathsig);
      }
    } catch (err) {
      log.warn('setup', `cannot set the parent-death signal: ${(err as Error).message}`);
    }
  }
  if (!pid1 || o.subreaper) {
    try {
      core.setSubreaper(true);
      log.debug('setup', 'registered as a child subreaper');
    } catch (err) {
      log.warn('setup', `cannot register as a child subreaper, orphans will not be reaped: ${(err as Error).message}`);
    }
  }
  return pending;
}

/** Logs an orphan the init reaped: at warning level with --warn-on-reap, else at debug. */
export function logReaped(log: Logger, warn: boolean, pid: number, ev: WaitEvent): void {
  if (ev.kind !== 'exited' && ev.kind !== 'killed') return;
  const how = ev.kind === 'exited' ? `exit ${ev.value}` : `killed by ${signalName(ev.value)}`;
  log.log(warn ? Level.Warn : Level.Debug, 'reap', `reaped zombie pid ${pid} (${how})`, { pid });
}

/**
 * The first step of an init's signal handling: a signal that comes before
 * the first child exists is queued in `pending` (acted on once it runs);
 * one that comes when nothing runs any more is only logged. Returns true
 * when the init should act on it now.
 */
export function admitSignal(signum: number, when: { starting: boolean; live: boolean; state: string; gone: string },
  pending: number[], log: Logger): boolean {
  if (when.starting) { pending.push(signum); return false; }
  if (when.live) return true;
  log.debug('signal', `received ${signalName(signum)} while ${when.state}: ${when.gone}, nothing to forward`);
  return false;
}
