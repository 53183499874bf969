/**
 * Restart policies, with Docker's syntax and meaning: when a child that
 * ended is started again, and after how long. Pure: the decisions take the
 * facts (status, how long the run lasted, what tsinit itself sent) and
 * return what to do; the timers live with the caller.
 *
 * - `no`: never restart (the default).
 * - `on-failure[:MAX]`: restart when the child exited non-zero, or was
 *   killed by a signal tsinit did not send it.
 * - `always[:MAX]`: restart whatever the status.
 *
 * Delays: 100 ms before the first restart, doubling each time, at most
 * 30 s; a run that lasted at least 10 s resets the delay to 100 ms and the
 * count of consecutive restarts to 0. MAX bounds the consecutive restarts.
 * A stop (TERM/INT) ends the policy: nothing restarts after it.
 * @module
 */
import type { ExitStatus } from '../exit-status';
import { STOP_SIGNALS, toSignalNumber } from '../signals';

/** When a child is restarted. */
export type RestartMode = 'no' | 'on-failure' | 'always';

/** A parsed restart policy. */
export interface RestartPolicy {
  mode: RestartMode;
  /** Most consecutive restarts; null for no limit. */
  max: number | null;
}

/** The delay schedule (Docker's values; internal tests may shorten nothing but these). */
export interface RestartTiming {
  /** Delay before the first restart, ms. */
  baseMs: number;
  /** Longest delay, ms. */
  capMs: number;
  /** A run at least this long resets the delay and the count, ms. */
  resetAfterMs: number;
}

/** Docker's schedule: 100 ms, doubling, at most 30 s, reset after a 10 s run. */
export const DEFAULT_RESTART_TIMING: Readonly<RestartTiming> = Object.freeze({ baseMs: 100, capMs: 30_000, resetAfterMs: 10_000 });

/** The policy of a child that is never restarted. */
export const NO_RESTART: Readonly<RestartPolicy> = Object.freeze({ mode: 'no', max: null });

/** Largest MAX accepted (a count beyond it means "no limit" in practice). */
const MAX_LIMIT = 1_000_000;

/**
 * Parses `no`, `on-failure`, `on-failure:MAX`, `always`, `always:MAX`
 * (case-insensitive, MAX a whole number >= 0; `:0` means no limit as in Docker).
 * @throws {RangeError} naming the accepted forms.
 */
export function parseRestartPolicy(text: string): RestartPolicy {
  const m = /^(no|on-failure|always)(?::(\d+))?$/i.exec(text.trim());
  if (m === null || (m[1]!.toLowerCase() === 'no' && m[2] !== undefined) || (m[2] !== undefined && Number(m[2]) > MAX_LIMIT)) {
    throw new RangeError(`invalid restart policy '${text}': expected no, on-failure[:MAX] or always[:MAX]`);
  }
  const max = m[2] === undefined || Number(m[2]) === 0 ? null : Number(m[2]);
  return { mode: m[1]!.toLowerCase() as RestartMode, max };
}

/** The text form of a policy (`on-failure:3`). */
export function formatRestartPolicy(p: RestartPolicy): string {
  return p.max === null || p.mode === 'no' ? p.mode : `${p.mode}:${p.max}`;
}

/**
 * The delay before the next restart, given the one before the last restart
 * (0 when there was none) and how long the last run lasted. Pure.
 */
export function nextRestartDelay(previousMs: number, ranMs: number, t: RestartTiming = DEFAULT_RESTART_TIMING): number {
  if (previousMs <= 0 || ranMs >= t.resetAfterMs) return Math.min(t.baseMs, t.capMs);
  return Math.min(previousMs * 2, t.capMs);
}

/** Whether a child that ended with `status` is a failure for `on-failure`. */
export function isFailure(status: ExitStatus, sentByUs: ReadonlySet<number>): boolean {
  if (status.signal !== null) return !sentByUs.has(toSignalNumber(status.signal));
  return status.status !== 0;
}

/**
 * Whether forwarding `received` as `sent` (after the rewrite table; 0 when
 * dropped) is a stop that ends the policy: a TERM or INT received, or a
 * signal rewritten into one, as long as something is actually sent.
 */
export function isStop(received: number, sent: number): boolean {
  if (sent === 0) return false;
  return STOP_SIGNALS.has(received) || STOP_SIGNALS.has(sent);
}

/** What to do after a run ended. */
export type RestartDecision =
  | { restart: true; /** The run about to start, 2 for the first restart. */ run: number; delayMs: number; /** Consecutive restarts including this one. */ count: number }
  | { restart: false; reason: 'policy' | 'success' | 'exhausted' | 'stopped' };

/**
 * Follows one child through its runs: call {@link decide} each time a run
 * ends. Pure apart from its own counters.
 */
export class RestartTracker {
  /** The run under way (1 for the first start). */
  run = 1;
  /** Consecutive restarts so far (reset by a long run). */
  count = 0;
  private delayMs = 0;
  private stopped = false;

  constructor(readonly policy: RestartPolicy, private readonly timing: RestartTiming = DEFAULT_RESTART_TIMING) {}

  /** A stop began: no restart after it. */
  stop(): void {
    this.stopped = true;
  }

  /** Whether a stop ended the policy. */
  get ended(): boolean {
    return this.stopped;
  }

  /**
   * The run ended with `status` after `ranMs`; `sentByUs` holds the signals
   * tsinit sent this run. Counts the restart when it decides one.
   */
  decide(status: ExitStatus, ranMs: number, sentByUs: ReadonlySet<number> = new Set()): RestartDecision {
    const { policy } = this;
    if (this.stopped) return { restart: false, reason: 'stopped' };
    if (policy.mode === 'no') return { restart: false, reason: 'policy' };
    if (policy.mode === 'on-failure' && !isFailure(status, sentByUs)) return { restart: false, reason: 'success' };
    if (ranMs >= this.timing.resetAfterMs) this.count = 0;
    if (policy.max !== null && this.count >= policy.max) return { restart: false, reason: 'exhausted' };
    this.delayMs = nextRestartDelay(this.delayMs, ranMs, this.timing);
    this.count++;
    this.run++;
    return { restart: true, run: this.run, delayMs: this.delayMs, count: this.count };
  }
}
