/**
 * Who tsinit answers for, and whom a signal reaches: the targeting rules
 * the init, the drain of leftovers, the supervised child's SIGCONT and the
 * stop diagnosis share, in one place.
 *
 * - Responsible: as PID 1, every process of the namespace but itself; not as
 *   PID 1, its descendants (orphans it adopted as a subreaper included) and
 *   the child's process group.
 * - Reached: a signal to a group reaches its members, one to a pid that
 *   process, one to "all" everything tsinit answers for.
 * - Outsiders: survivors a group signal does not reach get the signal one
 *   by one, each only while its pid still names the same process.
 * @internal
 * @module
 */
import { native } from '../native';
import { anyStopped, countProcesses, descendantsOf, listProcesses, procIsOurs, startTimeOf, type ProcStat } from './proc';
import type { SignalTarget } from './diagnose';

/** Who tsinit is responsible for: see {@link responsibleProcesses}. */
export interface Responsibility {
  /** tsinit's pid. */
  self: number;
  /** True when tsinit is PID 1: everything else in the namespace is its business. */
  pid1: boolean;
  /** The child's process group, whose members count even if they are not descendants. */
  pgid?: number;
}

/** A process to signal by pid, and its start time (clock ticks since boot) to tell a reused pid apart. */
export interface Outsider {
  pid: number;
  starttime: number;
}

/**
 * Every live process tsinit is responsible for: as PID 1 everything in the
 * namespace but itself; otherwise its descendants (orphans it adopted as a
 * subreaper included, whatever their group or session) and the child's group.
 */
export function responsibleProcesses(r: Responsibility, all: readonly ProcStat[] = listProcesses()): ProcStat[] {
  if (r.pid1) return all.filter((p) => p.pid !== r.self && p.pid !== 1);
  const out = new Map<number, ProcStat>();
  for (const p of descendantsOf(r.self, all)) out.set(p.pid, p);
  if (r.pgid !== undefined) for (const p of all) if (p.pgid === r.pgid && p.pid !== r.self) out.set(p.pid, p);
  return [...out.values()];
}

/** Whether a signal sent to `target` reaches the process `pid` of group `pgid`. */
export function reaches(target: SignalTarget, pid: number, pgid: number): boolean {
  return target.kind === 'group' ? pgid === target.pgid : target.kind === 'pid' ? pid === target.pid : true;
}

/**
 * Sends `signum` to each outsider whose pid still names the same process
 * (a look may be seconds old; as a subreaper a reused pid could be anyone's).
 * As PID 1 every process of the namespace is tsinit's: no check is needed.
 */
export function signalOutsiders(list: readonly Outsider[], signum: number, pid1: boolean): void {
  const core = native();
  for (const o of list) if (pid1 || startTimeOf(o.pid) === o.starttime) core.kill(o.pid, signum);
}

/** What {@link signalResponsible} did. */
export interface Signalled {
  /** How many it targeted, when asked to count (undefined: /proc cannot tell). */
  count: number | undefined;
  /** Whether its listing showed a stopped process (undefined: it made no listing). */
  stopped: boolean | undefined;
}

/**
 * Sends `signum` to every process tsinit is responsible for. As PID 1 one
 * `kill(-1)` does it (counted afterwards from the directory alone when
 * `count`: the listing never delays the kill). Otherwise the child's
 * `group` in one kill, then each other descendant: every process gets the
 * signal once (a second SIGTERM means "hurry up" to many programs).
 */
export function signalResponsible(pid1: boolean, group: number | undefined, signum: number, count: boolean): Signalled {
  const core = native();
  if (pid1) {
    // kill(-1) reaches every process in the namespace but PID 1 itself.
    core.kill(-1, signum);
    return { count: count ? (procIsOurs() ? countProcesses() - 1 : undefined) : 0, stopped: undefined };
  }
  if (group !== undefined) core.kill(-group, signum);
  if (!procIsOurs()) return { count: undefined, stopped: undefined };
  const descendants = descendantsOf(process.pid);
  for (const p of descendants) if (p.pgid !== group) core.kill(p.pid, signum);
  return { count: descendants.length, stopped: descendants.some((p) => p.state === 'T') };
}

/**
 * Whether a process this init is responsible for is stopped by job control:
 * as PID 1 any process but itself, else one of its descendants (true when
 * /proc cannot tell). Only then do leftovers need a SIGCONT after SIGTERM.
 */
export function responsibleStopped(pid1: boolean): boolean {
  if (pid1) return anyStopped((p) => p.pid !== 1);
  if (!procIsOurs()) return true;
  const mine = new Set(descendantsOf(process.pid).map((p) => p.pid));
  return anyStopped((p) => mine.has(p.pid));
}

/** Whether the child `pid`, or a member of its group when `group` is set, is stopped by job control (true when /proc cannot tell). */
export function childStopped(pid: number, pgid: number, group: boolean): boolean {
  return anyStopped((p) => p.pid === pid || (group && p.pgid === pgid));
}
