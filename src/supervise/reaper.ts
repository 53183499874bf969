/**
 * A reaper for a Node program that is PID 1 or a subreaper: it collects
 * orphaned zombies and never takes a child somebody else is waiting for.
 *
 * Why not `waitpid(-1)`: libuv reaps the children of child_process with
 * `waitpid(pid)` per process on SIGCHLD, and skips a pid somebody else reaped
 * first, so that child's `exit` event never fires. A busy program loses most
 * of them that way. This reaper instead, on the main thread, after each
 * SIGCHLD:
 *
 * 1. lists the main thread's children (`/proc/self/task/<pid>/children`:
 *    children of worker threads are listed under the worker's thread, so
 *    their child_process children are never seen);
 * 2. skips the pids libuv owns (its process handles on the main loop), the
 *    pids a {@link Supervised} owns, and the pids the program excluded;
 * 3. `waitpid(pid)` only for a pid whose `/proc/<pid>/stat` state is Z.
 *
 * It costs nothing while no child exits: no timer runs, and it does not keep
 * the event loop alive. After a SIGCHLD a short unref'd retry timer runs
 * until a sweep finds nothing left to reap.
 * @module
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { native, waitPid } from '../native';
import { isOwned, setOrphanSweep, watchChildren } from '../core/children';
import { exitedWith, killedBy, type ExitStatus } from '../exit-status';
import { procIsOurs, readStat } from '../diagnosis/proc';

/**
 * Whether this is the main thread. node:worker_threads (and the stream
 * modules it loads) is a large part of the library's load time, so it is
 * required only when a reaper starts.
 */
function onMainThread(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread;
}

/** Options of {@link startReaper}. */
export interface ReaperOptions {
  /**
   * Become a child subreaper (PR_SET_CHILD_SUBREAPER), so that orphans of
   * this process's descendants are re-parented here instead of to PID 1.
   * Default false. A PID 1 needs no such thing.
   */
  subreaper?: boolean;
  /** Pids never to reap (children another addon waits for itself); see {@link Reaper.exclude}. */
  exclude?: Iterable<number>;
  /**
   * Leave a zombie alone until it has been seen as a zombie for this many
   * milliseconds: gives addons that reap their own children from a thread
   * of their own (and that cannot be excluded by pid) the time to do so.
   * Default 0.
   */
  minZombieAgeMs?: number;
}

/** One reaped orphan. */
export interface ReapEvent {
  /** Its pid. */
  pid: number;
  /** How it ended. */
  status: ExitStatus;
}

/** Events of {@link Reaper}. */
export interface ReaperEvents {
  /** An orphaned zombie was reaped. */
  reap: [event: ReapEvent];
}

/** How long after a SIGCHLD, and between sweeps that still found something, the reaper looks again. */
const RETRY_MS = 100;

/**
 * A running reaper, from {@link startReaper}. Several may run at once (an
 * app's and `node-tsinit/register`'s): they share one sweep, each gets every
 * `reap` event, and a pid excluded by any of them is left alone.
 */
export class Reaper extends EventEmitter<ReaperEvents> {
  /** @internal */
  readonly excluded = new Set<number>();
  /** @internal */
  readonly minZombieAgeMs: number;
  /** @internal */
  readonly wantsSubreaper: boolean;
  private active = true;

  /** @internal Use {@link startReaper}. */
  constructor(options: ReaperOptions) {
    super();
    const age = options.minZombieAgeMs ?? 0;
    if (typeof age !== 'number' || !Number.isFinite(age) || age < 0) {
      throw new TypeError(`minZombieAgeMs must be a number >= 0, got ${String(options.minZombieAgeMs)}`);
    }
    this.minZombieAgeMs = age;
    this.wantsSubreaper = options.subreaper === true;
    for (const pid of options.exclude ?? []) this.exclude(pid);
  }

  /** Whether this reaper still runs (false after {@link stop}). */
  get running(): boolean {
    return this.active;
  }

  /**
   * Never reap `pid`: for a child that another addon (node-pty, for one)
   * waits for from a thread of its own. The exclusion lasts until that pid
   * is no longer a child of this process.
   */
  exclude(pid: number): this {
    if (!Number.isInteger(pid) || pid <= 0) throw new TypeError(`pid must be a positive integer, got ${String(pid)}`);
    this.excluded.add(pid);
    return this;
  }

  /** Reaps every orphaned zombie that is due now; returns how many it reaped. */
  sweep(): number {
    if (!this.active) return 0;
    return sweepOrphans().reaped;
  }

  /** Stops reaping (idempotent). Unsets the subreaper flag if this reaper set it and no other reaper wants it. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    reapers.delete(this);
    if (reapers.size === 0) {
      setOrphanSweep(undefined);
      clearTimeout(retryTimer);
      retryTimer = undefined;
      firstSeen.clear();
    }
    if (subreaperSetByUs && ![...reapers].some((r) => r.wantsSubreaper)) {
      try { native().setSubreaper(false); } catch { /* best effort */ }
      subreaperSetByUs = false;
    }
  }
}

const reapers = new Set<Reaper>();
/** When each zombie was first seen (for minZombieAgeMs). */
const firstSeen = new Map<number, number>();
let retryTimer: NodeJS.Timeout | undefined;
let retryDue = 0;
let subreaperSetByUs = false;
let warned = false;

function warnOnce(text: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`tsinit reaper: ${text}`, { code: 'TSINIT_REAPER' });
}

interface SweepResult {
  reaped: number;
  /** Zombies left for later (too young). */
  pending: number;
  /** Milliseconds until the first pending zombie is due. */
  nextDueMs: number;
}

/** The pids the main thread has as children, or undefined when /proc cannot tell. */
function mainThreadChildren(): number[] | undefined {
  if (!procIsOurs()) {
    warnOnce('/proc does not belong to this PID namespace (mount a new /proc, e.g. `unshare --mount-proc`); orphans are not reaped');
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(`/proc/self/task/${process.pid}/children`, 'latin1');
  } catch (err) {
    warnOnce(`cannot list this process's children (${(err as Error).message}); orphans are not reaped`);
    return undefined;
  }
  const out: number[] = [];
  for (const word of text.split(' ')) if (word !== '') out.push(Number(word));
  return out;
}

/** One sweep: reaps each due zombie child that nobody else owns. */
function sweepOrphans(): SweepResult {
  const result: SweepResult = { reaped: 0, pending: 0, nextDueMs: Infinity };
  if (reapers.size === 0) return result;
  const children = mainThreadChildren();
  if (children === undefined) return result;
  const present = new Set(children);
  let minAge = 0;
  for (const r of reapers) {
    minAge = Math.max(minAge, r.minZombieAgeMs);
    for (const pid of r.excluded) if (!present.has(pid)) r.excluded.delete(pid);
  }
  for (const pid of firstSeen.keys()) if (!present.has(pid)) firstSeen.delete(pid);
  if (children.length === 0) return result;

  const core = native();
  // One walk of the loop's handles (in memory, cheap) spares a /proc read per child_process child.
  const libuvOwned = new Set(core.libuvChildPids());
  const now = Date.now();
  for (const pid of children) {
    if (libuvOwned.has(pid) || isOwned(pid) || [...reapers].some((r) => r.excluded.has(pid))) continue;
    const st = readStat(pid);
    if (st === undefined || st.state !== 'Z') continue;
    if (minAge > 0) {
      const seen = firstSeen.get(pid) ?? now;
      firstSeen.set(pid, seen);
      const left = seen + minAge - now;
      if (left > 0) {
        result.pending++;
        result.nextDueMs = Math.min(result.nextDueMs, left);
        continue;
      }
    }
    firstSeen.delete(pid);
    const ev = waitPid(pid, false);
    if (ev === null || ev === undefined) continue; // not ready after all, or taken meanwhile
    const status = ev.kind === 'exited' ? exitedWith(ev.value) : killedBy(ev.value);
    result.reaped++;
    for (const r of [...reapers]) {
      try {
        r.emit('reap', { pid, status });
      } catch (err) {
        process.emitWarning(`tsinit reaper: a 'reap' listener failed: ${String(err)}`);
      }
    }
  }
  return result;
}

/** Arms the retry timer: always after a SIGCHLD, otherwise only while sweeps still find something. */
function scheduleRetry(r: SweepResult, afterSignal: boolean): void {
  if (reapers.size === 0) return;
  if (!afterSignal && r.reaped === 0 && r.pending === 0) return;
  const delay = Math.max(1, Math.min(RETRY_MS, r.nextDueMs));
  const due = Date.now() + delay;
  if (retryTimer !== undefined && retryDue <= due) return;
  clearTimeout(retryTimer);
  retryDue = due;
  retryTimer = setTimeout(onRetry, delay);
  retryTimer.unref();
}

function onRetry(): void {
  retryTimer = undefined;
  scheduleRetry(sweepOrphans(), false);
}

/** Runs after children.ts has collected the statuses of owned children, on each SIGCHLD. */
function onSigchld(): void {
  scheduleRetry(sweepOrphans(), true);
}

/**
 * Starts reaping orphaned zombies of this process (call it on the main
 * thread). Safe beside child_process, worker_threads and {@link spawn}:
 * their children are never reaped here, so their exit events and statuses
 * stay exact. Does not keep the event loop alive.
 *
 * Reaping needs a /proc of this process's own PID namespace: inside
 * `unshare --pid` without `--mount-proc` the reaper warns once and does
 * nothing.
 * @throws {Error} when called from a worker thread, or when `subreaper` is
 * asked for and the kernel refuses it.
 */
export function startReaper(options: ReaperOptions = {}): Reaper {
  if (!onMainThread()) throw new Error('startReaper() must be called on the main thread');
  const reaper = new Reaper(options);
  if (reaper.wantsSubreaper && !native().isSubreaper()) {
    native().setSubreaper(true);
    subreaperSetByUs = true;
  }
  reapers.add(reaper);
  setOrphanSweep(onSigchld);
  watchChildren();
  // Zombies that are already there sent their SIGCHLD before we listened.
  const first = setImmediate(() => { if (reaper.running) onSigchld(); });
  first.unref();
  return reaper;
}

/** Whether this process is PID 1 of its PID namespace (a container's init). */
export function isPid1(): boolean {
  return process.pid === 1;
}

/**
 * Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER) or stops
 * being one: orphaned descendants are then re-parented here, and something
 * must reap them ({@link startReaper}).
 */
export function setSubreaper(on: boolean): void {
  native().setSubreaper(on === true);
}

/** Whether this process is a child subreaper. */
export function isSubreaper(): boolean {
  return native().isSubreaper();
}
