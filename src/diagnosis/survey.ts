/**
 * A look at every process tsinit is responsible for, done in slices of a few
 * milliseconds with the event loop free in between, and kept small whatever
 * the number of processes: the first {@link LISTED} survivors in full, the
 * rest counted by cause.
 *
 * A look never delays a deadline: a timer due while it runs fires between
 * two slices, and the look can be cut short at any time ({@link Survey.cancel});
 * what it found so far stays usable and says how much it did not examine.
 * @internal
 * @module
 */
import { opendirSync, readdirSync, type Dir } from 'node:fs';
import {
  classify, commandOf, quickCause, readText, stillThere,
  type ProcSample, type StopCause, type StopContext, type Survivor,
} from './diagnose';
import { parseStat, type ProcStat } from './proc';
import { reaches, responsibleProcesses, type Outsider, type Responsibility } from './targets';

/** Survivors described in full; the others are counted by cause. */
export const LISTED = 20;
/** Longest slice of work between two turns of the event loop. */
const SLICE_MS = 4;


/** What a look found. */
export interface Look {
  /** When it began and ended (ms since the epoch); `endedAt` is undefined while it runs. */
  startedAt: number;
  endedAt: number | undefined;
  /** Every candidate was examined. */
  complete: boolean;
  /** The first {@link LISTED} survivors in pid order, in full (each read twice, with its command line). */
  listed: Survivor[];
  /** Survivors found, the listed ones included. */
  count: number;
  /** Survivors found that are not zombies (what a SIGKILL would kill). */
  live: number;
  /** Survivors beyond the listed ones, by cause. */
  more: Map<StopCause, number>;
  /** Candidates left unexamined when the look was cut short (-1: cut before they were even listed). */
  unexamined: number;
  /**
   * The live survivors the signal's target does not reach (to signal one by
   * one), with their start times: a pid read before the deadline may have
   * been reused by then.
   */
  outsiders: Outsider[];
}

/** The command line of `pid`, for naming a zombie's parent. */
function commandOfPid(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  const st = stat === undefined ? undefined : parseStat(stat);
  return st === undefined ? undefined : commandOf(readText(`/proc/${pid}/cmdline`, 'utf8'), st.comm);
}

/**
 * One look, started at construction. `onDone` runs once, when every
 * candidate was examined (never after {@link cancel}).
 */
export class Survey {
  readonly look: Look;
  private dir: Dir | undefined;
  /** Candidates to examine (built while listing). */
  private pids: number[] = [];
  /** Non-PID-1 listing: every process's stat, to pick the responsible ones. */
  private stats: ProcStat[] | undefined;
  private next = 0;
  private listing = true;
  private immediate: NodeJS.Immediate | undefined;
  private done = false;
  private readonly ctx: StopContext;

  constructor(ctx: StopContext, private readonly r: Responsibility, private readonly onDone: (look: Look) => void) {
    this.ctx = { self: r.self, ...ctx };
    this.look = {
      startedAt: Date.now(), endedAt: undefined, complete: false, listed: [], count: 0, live: 0,
      more: new Map(), unexamined: -1, outsiders: [],
    };
    if (!r.pid1) this.stats = [];
    try {
      this.dir = opendirSync('/proc');
    } catch {
      this.listing = false; // nothing to read: an empty, complete look
    }
    this.immediate = setImmediate(this.step);
  }

  /** Stops the look; returns what it found so far. */
  cancel(): Look {
    if (!this.done) {
      this.done = true;
      if (this.immediate !== undefined) clearImmediate(this.immediate);
      this.closeDir();
      this.look.endedAt = Date.now();
      this.look.unexamined = this.listing ? -1 : this.pids.length - this.next;
    }
    return this.look;
  }

  private closeDir(): void {
    try { this.dir?.closeSync(); } catch { /* already closed */ }
    this.dir = undefined;
  }

  private readonly step = (): void => {
    this.immediate = undefined;
    if (this.done) return;
    const end = Date.now() + SLICE_MS;
    let n = 0;
    while (this.listing) {
      if ((++n & 63) === 0 && Date.now() >= end) { this.immediate = setImmediate(this.step); return; }
      let entry;
      try { entry = this.dir!.readSync(); } catch { entry = null; }
      if (entry === null) { this.endListing(); break; }
      const c = entry.name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(entry.name);
      if (this.stats === undefined) {
        if (pid !== this.r.self && pid !== 1) this.pids.push(pid);
      } else {
        const text = readText(`/proc/${pid}/stat`);
        const st = text === undefined ? undefined : parseStat(text);
        if (st !== undefined) this.stats.push(st);
      }
    }
    while (this.next < this.pids.length) {
      if (Date.now() >= end) { this.immediate = setImmediate(this.step); return; }
      this.examine(this.pids[this.next++]!);
    }
    this.done = true;
    this.look.complete = true;
    this.look.unexamined = 0;
    this.look.endedAt = Date.now();
    this.onDone(this.look);
  };

  private endListing(): void {
    this.listing = false;
    this.closeDir();
    if (this.stats !== undefined) {
      this.pids = responsibleProcesses(this.r, this.stats).map((p) => p.pid);
      this.stats = undefined;
    }
    this.pids.sort((a, b) => a - b);
  }

  /** Reads, classifies and counts one process. */
  private examine(pid: number): void {
    const stat = readText(`/proc/${pid}/stat`);
    if (stat === undefined) return;
    const full = this.look.listed.length < LISTED;
    if (!full) {
      // Counted only: the stat line alone decides most causes.
      const quick = quickCause(stat, this.ctx);
      if (quick === null) return;
      if (quick !== undefined) { this.add(quick.cause, quick.pid, quick.pgid, quick.starttime, false); return; }
    }
    const st = parseStat(stat);
    if (st === undefined) return;
    const status = readText(`/proc/${pid}/status`);
    if (status === undefined) return;
    const threads = Number(/^Threads:\s*(\d+)/m.exec(status)?.[1] ?? 1);
    const tasks: string[] = [];
    if (threads > 1) {
      let tids: string[] = [];
      try { tids = readdirSync(`/proc/${pid}/task`); } catch { /* gone */ }
      for (const tid of tids) {
        const t = readText(`/proc/${pid}/task/${tid}/status`);
        if (t !== undefined) tasks.push(t);
      }
    }
    const anyD = st.state === 'D' || tasks.some((t) => /^State:\s*D/m.test(t));
    const sample: ProcSample = {
      stat, status, tasks,
      wchan: anyD ? readText(`/proc/${pid}/wchan`) : undefined,
      cmdline: full ? readText(`/proc/${pid}/cmdline`, 'utf8') : undefined,
    };
    const s = classify(sample, this.ctx, full ? commandOfPid : undefined);
    if (s === undefined) return;
    if (full && !stillThere(s)) return; // exited between the reads: never a false cause
    if (full) this.look.listed.push(s);
    this.add(s.cause, s.pid, s.pgid, s.starttime, full);
  }

  /** Counts one survivor (already listed when `listed`). */
  private add(cause: StopCause, pid: number, pgid: number, starttime: number, listed: boolean): void {
    const look = this.look;
    look.count++;
    if (cause !== 'zombie') {
      look.live++;
      if (!reaches(this.ctx.target, pid, pgid)) look.outsiders.push({ pid, starttime });
    }
    if (!listed) look.more.set(cause, (look.more.get(cause) ?? 0) + 1);
  }
}
