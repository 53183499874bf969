/**
 * What happened before the init could act, carried to it by the bin:
 *
 * - Signals that arrived during start-up: while PID 1 was still the bin's sh
 *   lines (their traps record them), during Node's bootstrap (Node's own
 *   one-shot SIGINT/SIGTERM handler took it: found used), between the bin's
 *   first statement and the signal watchers (a recording handler), and across
 *   the bin's re-exec. The init forwards them once the child runs, as tini
 *   does; a stop then runs the normal grace and escalation.
 * - Soft resource limits the sh lines raised so that Node can start: the
 *   child gets the original ones back.
 *
 * All of it travels in private environment variables, removed from the
 * child's environment.
 * @internal
 * @module
 */
import { native } from '../native';
import { forwardableSignals, SIGINT, SIGPIPE, SIGTERM, toSignalNumber } from '../signals';

// STASHED_SIGNALS: signals recorded before the init ran, names without SIG
// (from the sh traps) or numbers, space-separated. STASHED_LIMITS: soft
// limits the sh lines raised, `nofile:N nproc:N as:BYTES`, space-separated.
import { STASHED_LIMITS, STASHED_SIGNALS } from '../core/raw-invocation';
export { STASHED_LIMITS, STASHED_SIGNALS };

/** Dispositions as the native claimSignals reports them. */
const DEFAULT = 0;
const ONE_SHOT = 3;

type Env = Record<string, string | undefined>;

/**
 * Puts a recording handler on every forwardable signal (SIGPIPE, which Node
 * ignores, excepted) and notes in `env` a SIGINT or SIGTERM that Node's own
 * handler already used. Node installs its one-shot handler for both signals
 * together, at start-up; finding one of them back at the default while the
 * other still has it means that signal arrived (Node re-raised it, and a
 * PID 1 drops a re-raised signal). Both at the default is ambiguous (both
 * arrived, or this Node installs neither) and counts as neither.
 *
 * For the bin only, as its first statement: a library's host may have
 * changed these dispositions itself.
 */
export function claimStartupSignals(env: Env = process.env): void {
  const signums = forwardableSignals().filter((s) => s !== SIGPIPE);
  const before = native().claimSignals(signums);
  const at = (signum: number): number | undefined => before[signums.indexOf(signum)];
  const used: number[] = [];
  if (at(SIGTERM) === DEFAULT && at(SIGINT) === ONE_SHOT) used.push(SIGTERM);
  if (at(SIGINT) === DEFAULT && at(SIGTERM) === ONE_SHOT) used.push(SIGINT);
  if (used.length > 0) stashSignals(env, used);
}

/** Appends `signums` to the signals carried in `env`. */
export function stashSignals(env: Env, signums: readonly number[]): void {
  if (signums.length === 0) return;
  const prior = env[STASHED_SIGNALS];
  env[STASHED_SIGNALS] = [...(prior === undefined || prior.trim() === '' ? [] : [prior.trim()]), ...signums.map(String)].join(' ');
}

/** Signals the recording handler caught since the claim (or the last call). */
export function takeRecordedSignals(): number[] {
  return native().takeRecordedSignals();
}

/** The signals carried in `env`, in order of arrival, each once; unknown words are skipped. */
function stashedSignals(env: Readonly<Env>): number[] {
  const out: number[] = [];
  for (const word of (env[STASHED_SIGNALS] ?? '').split(/\s+/)) {
    if (word === '') continue;
    let signum: number;
    try {
      signum = toSignalNumber(/^\d+$/.test(word) ? Number(word) : `SIG${word}`);
    } catch {
      continue;
    }
    if (!out.includes(signum)) out.push(signum);
  }
  return out;
}

/** Every start-up signal: those carried in `env`, then those recorded since the claim. Call after the watchers are in place. */
export function startupSignals(env: Readonly<Env>): number[] {
  const out = stashedSignals(env);
  for (const signum of takeRecordedSignals()) if (!out.includes(signum)) out.push(signum);
  return out;
}

/** Soft limits for the child, in the order the native spawn takes them (-1: leave as inherited). */
export type ChildLimits = [nofile: number, nproc: number, as: number];

const LIMIT_INDEX: Readonly<Record<string, number>> = { nofile: 0, nproc: 1, as: 2 };

/** The original soft limits carried in `env`, or undefined when the sh lines raised none. */
export function stashedLimits(env: Readonly<Env>): ChildLimits | undefined {
  const text = env[STASHED_LIMITS];
  if (text === undefined) return undefined;
  const out: ChildLimits = [-1, -1, -1];
  let any = false;
  for (const word of text.split(/\s+/)) {
    const m = /^(nofile|nproc|as):(\d{1,19})$/.exec(word);
    if (m === null) continue;
    const value = Number(m[2]);
    if (!Number.isSafeInteger(value)) continue;
    out[LIMIT_INDEX[m[1]!]!] = value;
    any = true;
  }
  return any ? out : undefined;
}
