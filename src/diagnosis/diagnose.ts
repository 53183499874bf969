/**
 * Stop diagnosis: why is a process still alive after the stop signal?
 *
 * Two halves. {@link classify} is pure: it reads recorded /proc text (stat,
 * status, every thread's status, wchan, cmdline) and names a cause, so any
 * state can be tested from a recorded sample. {@link readSample} and
 * {@link diagnose} gather that text from the live /proc.
 *
 * The process's state decides first: `uninterruptible` (D), `stopped`
 * (T, t), `zombie` (Z). Only a running or sleeping process is judged by
 * whether the signal reached it (`outside-group`, `not-signalled`) and then
 * by its signal masks (`ignores`, `blocks`, `handling`). A process that is
 * gone when read again is not listed: never a false cause.
 * @module
 */
import { readdirSync } from 'node:fs';
import { parseStat, readProcText, type ProcStat } from './proc';
import { responsibleProcesses, type Responsibility } from './targets';
import { DEFAULT_IGNORED, MAX_STANDARD_SIGNAL, signalName } from '../signals';

/**
 * Why a process outlives the stop signal.
 * - `uninterruptible`: state D, inside a kernel call; no signal acts until it returns (see `wchan`).
 * - `stopped`: state T (job control) or t (a tracer); it cannot act on the signal.
 * - `zombie`: it exited, and its parent (not tsinit) does not reap it.
 * - `outside-group`: not in the signalled process group (setsid/setpgid): it never received the signal.
 * - `not-signalled`: the signal went elsewhere (`--single-child`), or the process started after it was sent.
 * - `ignores`: the signal's disposition is SIG_IGN (or ignore by default; or a nested namespace's init).
 * - `blocks`: the signal is blocked in every thread and waits, pending.
 * - `handling`: the signal is caught (or taken through sigwait/signalfd); the process still runs: draining or hung.
 * - `exiting`: the process is on its way out (exiting, or writing a core dump).
 * - `unknown`: none of the above can be shown.
 */
export type StopCause =
  | 'uninterruptible' | 'stopped' | 'zombie' | 'outside-group' | 'not-signalled'
  | 'ignores' | 'blocks' | 'handling' | 'exiting' | 'unknown';

/** Who the stop signal went to. */
export type SignalTarget =
  /** A process group: `kill(-pgid)`. `sid` is that group's session, to tell setsid from setpgid. */
  | { kind: 'group'; pgid: number; sid?: number }
  /** One process only (`--single-child`). */
  | { kind: 'pid'; pid: number }
  /** Every process tsinit is responsible for (the end-of-life drain). */
  | { kind: 'all' };

/** What a diagnosis is about. */
export interface StopContext {
  /** The signal number that was sent (after any rewrite). */
  signal: number;
  /** Where it was sent. */
  target: SignalTarget;
  /**
   * When it was sent, in seconds since boot as /proc/uptime counts them
   * (see {@link bootSeconds}). Processes started later never received it.
   */
  sentAtBoot?: number;
  /** tsinit's own pid: zombies whose parent it is are about to be reaped, not stuck. */
  self?: number;
}

/** The recorded /proc text of one process, everything {@link classify} needs. */
export interface ProcSample {
  /** /proc/PID/stat */
  stat: string;
  /** /proc/PID/status */
  status: string;
  /** /proc/PID/task/TID/status of every thread (the main thread included); may be empty. */
  tasks: readonly string[];
  /** /proc/PID/wchan, read when the state is D. */
  wchan?: string;
  /** /proc/PID/cmdline as read (NUL-separated). */
  cmdline?: string;
}

/** Signal masks behind a classification, as /proc shows them (hex). */
export interface MaskEvidence {
  sigIgn: string;
  sigCgt: string;
  /** Blocked in every thread (the AND of each thread's SigBlk). */
  sigBlkAll: string;
  /** Pending: ShdPnd OR every thread's SigPnd. */
  sigPnd: string;
}

/** One process still alive during a stop, and why (its ids and one-letter state as /proc/PID/stat has them). */
export interface Survivor extends Pick<ProcStat, 'pid' | 'ppid' | 'pgid' | 'sid' | 'state'> {
  /** Command line, or `[comm]` when it has none (zombies, kernel threads). */
  cmd: string;
  cause: StopCause;
  /** Human detail of the cause: the kernel function of a D sleep, the session of an escaped process, ... */
  detail: string;
  /** The kernel function a process in state D sleeps in. */
  wchan?: string;
  /** Start time in clock ticks since boot (tells a recycled pid apart). */
  starttime: number;
  /** The masks read (for the most verbose logs). */
  evidence?: MaskEvidence;
}

/** Longest command line kept in a record. */
const MAX_CMD = 256;
/** Clock ticks per second of /proc's times (USER_HZ, 100 on every Linux architecture). */
const CLK_TCK = 100;
/** PF_EXITING in /proc/PID/stat's flags. */
const PF_EXITING = 0x4;

/** Parses a /proc signal mask (`0000000000004a02`) as a 64-bit set. */
export function parseMask(hex: string | undefined): bigint {
  if (hex === undefined || !/^[0-9a-fA-F]{1,16}$/.test(hex.trim())) return 0n;
  return BigInt(`0x${hex.trim()}`);
}

/** Whether signal `signum` (1..64) is in `mask`. */
export function hasSignal(mask: bigint, signum: number): boolean {
  return ((mask >> BigInt(signum - 1)) & 1n) === 1n;
}

/** The `Key:\tvalue` lines of a /proc status file. */
function parseStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** Fields of /proc/PID/stat beyond {@link ProcStat}: flags and start time. */
function statExtras(text: string): { flags: number; starttime: number } {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): flags is field 9, starttime field 22.
  return { flags: Number(rest[6] ?? 0), starttime: Number(rest[19] ?? 0) };
}

/**
 * The command line of a sample: arguments joined by spaces, or `[comm]`.
 * `cmdline` is the UTF-8 text of /proc/PID/cmdline; `comm` comes from the
 * stat line read byte for byte (latin1) and is decoded as UTF-8 here. The
 * text is the other process's own: control characters are left in it, and
 * escaped where it is written as text (see `escapeControls` in the log).
 */
export function commandOf(cmdline: string | undefined, comm: string): string {
  const joined = (cmdline ?? '').replace(/\0+$/, '').split('\0').join(' ').trim();
  const cmd = joined === '' ? `[${Buffer.from(comm, 'latin1').toString('utf8')}]` : joined;
  return cmd.length > MAX_CMD ? `${cmd.slice(0, MAX_CMD - 1)}…` : cmd;
}

const hex = (m: bigint): string => m.toString(16).padStart(16, '0');

/** The state letter from a status file's `State:\tS (sleeping)` line. */
function stateLetter(status: Map<string, string>): string | undefined {
  return status.get('State')?.charAt(0);
}

/**
 * Classifies one process from its recorded /proc text. Pure.
 * Returns undefined when the sample says the process needs no listing: it is
 * unreadable, or a zombie of `ctx.self`'s (tsinit reaps those itself).
 */
export function classify(sample: ProcSample, ctx: StopContext, parentCmd?: (pid: number) => string | undefined): Survivor | undefined {
  const st = parseStat(sample.stat);
  if (st === undefined) return undefined;
  const { flags, starttime } = statExtras(sample.stat);
  const status = parseStatus(sample.status);
  const tasks = sample.tasks.map(parseStatus);
  const sig = signalName(ctx.signal);

  // A thread-group leader that exited while other threads run shows Z: judge by the live threads.
  let state = st.state;
  if (state === 'Z') {
    const live = tasks.map(stateLetter).find((s) => s !== undefined && s !== 'Z' && s !== 'X');
    if (live !== undefined) state = live;
  }

  const base = {
    pid: st.pid, ppid: st.ppid, pgid: st.pgid, sid: st.sid, state,
    cmd: commandOf(sample.cmdline, st.comm), starttime,
  };
  const result = (cause: StopCause, detail: string, extra: Partial<Survivor> = {}): Survivor =>
    ({ ...base, cause, detail, ...extra });

  // 1. The state decides first.
  if (state === 'D') {
    const wchan = sample.wchan?.trim();
    const where = wchan !== undefined && wchan !== '' && wchan !== '0' ? wchan : undefined;
    return result('uninterruptible',
      `in uninterruptible sleep${where !== undefined ? ` in ${where}` : ''}: no signal acts until the kernel call returns`,
      where !== undefined ? { wchan: where } : {});
  }
  if (state === 'T' || state === 't') {
    return result('stopped', state === 't'
      ? 'stopped by a tracer (debugger): it cannot act on any signal until the tracer lets it go'
      : `stopped (job control) after tsinit's SIGCONT: it cannot act on ${sig}`);
  }
  if (state === 'Z' || state === 'X') {
    if (ctx.self !== undefined && st.ppid === ctx.self) return undefined;
    const parent = parentCmd?.(st.ppid);
    return result('zombie', `exited, but its parent pid ${st.ppid}${parent !== undefined ? ` (${parent})` : ''} does not reap it`);
  }

  // 2. Did the signal reach it at all?
  const t = ctx.target;
  if (t.kind === 'group' && st.pgid !== t.pgid) {
    const how = t.sid !== undefined && st.sid !== t.sid
      ? `session ${st.sid} (it left with setsid)` : `process group ${st.pgid} (it moved with setpgid)`;
    return result('outside-group', `never received ${sig}: it is in ${how}, not in the signalled group ${t.pgid}`);
  }
  if (t.kind === 'pid' && st.pid !== t.pid) {
    return result('not-signalled', `never received ${sig}: only pid ${t.pid} was signalled (single-child mode)`);
  }
  if (ctx.sentAtBoot !== undefined && starttime > Math.floor(ctx.sentAtBoot * CLK_TCK) + 1) {
    const after = starttime / CLK_TCK - ctx.sentAtBoot;
    return result('not-signalled', `never received ${sig}: it started ${after.toFixed(1)} s after ${sig} was sent`);
  }

  // 3. A running or sleeping process: its signal masks.
  const ign = parseMask(status.get('SigIgn'));
  const cgt = parseMask(status.get('SigCgt'));
  const blkMasks = (tasks.length > 0 ? tasks : [status]).map((s) => parseMask(s.get('SigBlk')));
  const blkAll = blkMasks.reduce((a, b) => a & b);
  let pnd = parseMask(status.get('ShdPnd')) | parseMask(status.get('SigPnd'));
  for (const s of tasks) pnd |= parseMask(s.get('SigPnd'));
  const evidence: MaskEvidence = { sigIgn: hex(ign), sigCgt: hex(cgt), sigBlkAll: hex(blkAll), sigPnd: hex(pnd) };
  const withEvidence = (cause: StopCause, detail: string): Survivor => result(cause, detail, { evidence });

  if (hasSignal(ign, ctx.signal)) return withEvidence('ignores', `ignores ${sig}`);
  if (hasSignal(blkAll, ctx.signal) && hasSignal(pnd, ctx.signal)) {
    return withEvidence('blocks', `blocks ${sig} in every thread: it waits, pending`);
  }
  // A handler runs with its signal blocked, so blocked-and-not-pending is a
  // handler still running; without a handler, sigwait or signalfd took it.
  if (hasSignal(cgt, ctx.signal)) return withEvidence('handling', `handles ${sig} and still runs (draining or hung)`);
  if (hasSignal(blkAll, ctx.signal)) {
    return withEvidence('handling', `took ${sig} through sigwait or signalfd and still runs (draining or hung)`);
  }
  if (DEFAULT_IGNORED.has(ctx.signal)) return withEvidence('ignores', `ignores ${sig} (its default action is to ignore)`);
  const nspid = (status.get('NSpid') ?? '').split(/\s+/).filter((s) => s !== '');
  if (nspid.length > 1 && nspid[nspid.length - 1] === '1') {
    return withEvidence('ignores', `ignores ${sig}: it is the init of a nested PID namespace, and the kernel drops signals it does not catch`);
  }
  if (status.get('CoreDumping') === '1') return withEvidence('exiting', `killed by a signal, writing a core dump`);
  if ((flags & PF_EXITING) !== 0) return withEvidence('exiting', 'exiting');
  return withEvidence('unknown', `${sig} is neither ignored, blocked nor caught; no cause found`);
}

/** Numeric fields of the last stat line scanned by {@link quickCause}, by field number (1-based as in proc(5)). */
const statNumbers = new Float64Array(53);

/**
 * Scans a /proc/PID/stat line into {@link statNumbers} without making
 * strings; returns the state letter, or undefined when the line is malformed.
 */
function scanStat(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0 || close + 2 >= stat.length) return undefined;
  let n = 0;
  for (let i = 0; i < stat.length; i++) {
    const c = stat.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  statNumbers[1] = n;
  const state = stat.charAt(close + 2);
  let field = 4;
  let value = 0;
  let negative = false;
  for (let i = close + 4; i <= stat.length && field < statNumbers.length; i++) {
    const c = i < stat.length ? stat.charCodeAt(i) : 32;
    if (c === 32 || c === 10) {
      statNumbers[field++] = negative ? -value : value;
      value = 0;
      negative = false;
    } else if (c === 45) {
      negative = true;
    } else {
      value = value * 10 + (c - 48);
    }
  }
  return field > 34 ? state : undefined;
}

/** Whether signal `signum` (1..31) is in a mask printed by /proc/PID/stat (31 bits, decimal). */
const inStatMask = (mask: number, signum: number): boolean => Math.floor(mask / 2 ** (signum - 1)) % 2 === 1;

/** What {@link quickCause} found. */
export interface QuickCause {
  cause: StopCause;
  pid: number;
  pgid: number;
  /** Start time, clock ticks since boot. */
  starttime: number;
}

/**
 * The cause of a process from its /proc/PID/stat line alone, when that line
 * decides it exactly as {@link classify} would on the full sample: `null`
 * when classify would not list it (a zombie of tsinit's own), undefined when
 * /proc/PID/status (and the threads' masks) must be read. Makes no strings:
 * counting thousands of processes costs one read each and little garbage.
 *
 * The stat line carries the state, group, session, flags, thread count,
 * start time and, for signals 1..31, the masks: ignored and caught (the same
 * for every thread), and the main thread's blocked and private pending sets.
 * So it decides a stopped process, a zombie (unless a leader with live
 * threads), one outside the signalled group, one started after the signal,
 * one that ignores the signal, and one that catches it (or ignores it by
 * default) with it unblocked in the main thread. A blocked signal (its
 * pending state may be shared), state D (wchan), and what classify would
 * call `exiting` or `unknown` need the full read.
 */
export function quickCause(stat: string, ctx: StopContext): QuickCause | null | undefined {
  const sig = ctx.signal;
  if (sig < 1 || sig > MAX_STANDARD_SIGNAL) return undefined;
  const state = scanStat(stat);
  if (state === undefined) return undefined;
  const f = statNumbers;
  const pid = f[1]!;
  const pgid = f[5]!;
  const out = (cause: StopCause): QuickCause => ({ cause, pid, pgid, starttime: f[22]! });
  if (state === 'D') return undefined;
  if (state === 'Z' || state === 'X') {
    if (f[20]! > 1) return undefined;
    return ctx.self !== undefined && f[4] === ctx.self ? null : out('zombie');
  }
  if (state === 'T' || state === 't') return out('stopped');
  const t = ctx.target;
  if (t.kind === 'group' && pgid !== t.pgid) return out('outside-group');
  if (t.kind === 'pid' && pid !== t.pid) return out('not-signalled');
  if (ctx.sentAtBoot !== undefined && f[22]! > Math.floor(ctx.sentAtBoot * CLK_TCK) + 1) return out('not-signalled');
  const [blk, ign, cgt] = [f[32]!, f[33]!, f[34]!];
  if (inStatMask(ign, sig)) return out('ignores');
  if (inStatMask(blk, sig)) return undefined;
  if (inStatMask(cgt, sig)) return out('handling');
  if (DEFAULT_IGNORED.has(sig)) return out('ignores');
  return undefined;
}

// ---------------------------------------------------------------------------
// Reading /proc

/** A /proc file's text (latin1: byte for byte; `utf8` for command lines), or undefined when it is gone. */
export function readText(path: string, encoding: 'latin1' | 'utf8' = 'latin1'): string | undefined {
  // A command line is cut at MAX_CMD characters anyway: 4 KiB of it is plenty.
  return readProcText(path, encoding, encoding === 'utf8' ? 4096 : undefined);
}

/** Seconds since boot as /proc/uptime counts them (the clock of /proc's start times), or undefined. */
export function bootSeconds(): number | undefined {
  const text = readText('/proc/uptime');
  const n = text === undefined ? NaN : Number(text.split(' ')[0]);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads the /proc text of one process; undefined when it is gone. */
export function readSample(pid: number): ProcSample | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  const status = readText(`/proc/${pid}/status`);
  if (stat === undefined || status === undefined) return undefined;
  const tasks: string[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readText(`/proc/${pid}/task/${tid}/status`);
      if (s !== undefined) tasks.push(s);
    }
  } catch {
    // no task directory readable: the main thread's status stands for all
  }
  const st = parseStat(stat);
  const anyD = st?.state === 'D' || tasks.some((t) => /^State:\s*D/m.test(t));
  return {
    stat,
    status,
    tasks,
    wchan: anyD ? readText(`/proc/${pid}/wchan`) : undefined,
    cmdline: readText(`/proc/${pid}/cmdline`, 'utf8'),
  };
}

/** Classifies a set of samples together (a zombie's parent is named from the same set). Pure. */
export function classifyAll(samples: ReadonlyMap<number, ProcSample>, ctx: StopContext): Survivor[] {
  const commands = new Map<number, string>();
  for (const [pid, s] of samples) {
    const st = parseStat(s.stat);
    if (st !== undefined) commands.set(pid, commandOf(s.cmdline, st.comm));
  }
  const out: Survivor[] = [];
  for (const s of samples.values()) {
    const r = classify(s, ctx, (pid) => commands.get(pid));
    if (r !== undefined) out.push(r);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * Lists every process still alive that tsinit is responsible for, each with
 * its cause. Each listed process is read twice: one that is gone (or exited)
 * the second time is dropped, so an exit between the reads never yields a
 * false cause.
 */
export function diagnose(ctx: StopContext, r: Responsibility): Survivor[] {
  const samples = new Map<number, ProcSample>();
  for (const p of responsibleProcesses(r)) {
    const s = readSample(p.pid);
    if (s !== undefined) samples.set(p.pid, s);
  }
  return classifyAll(samples, { self: r.self, ...ctx }).filter((s) => stillThere(s));
}

/** True when the process is still the same one, and has not exited since it was classified. */
export function stillThere(s: Survivor): boolean {
  const text = readText(`/proc/${s.pid}/stat`);
  if (text === undefined) return false;
  const st = parseStat(text);
  if (st === undefined || statExtras(text).starttime !== s.starttime) return false;
  return s.cause === 'zombie' || (st.state !== 'Z' && st.state !== 'X');
}

// ---------------------------------------------------------------------------
// Words

/** The cause in a few words: `ignores SIGTERM`, `uninterruptible sleep in nfs_wait`. */
export function describeSurvivor(s: Survivor): string {
  return s.cause === 'zombie' ? `zombie: ${s.detail}` : s.detail;
}

/**
 * One human line for a survivor, without the `tsinit: ` prefix the logger adds:
 * `still running 5.0 s after SIGTERM: pid 8 /root/app -f conf — ignores SIGTERM`.
 */
export function formatSurvivor(s: Survivor, signal: string, elapsedMs: number): string {
  const when = `${(elapsedMs / 1000).toFixed(1)} s after ${signal}`;
  const lead = s.cause === 'zombie' ? `not reaped ${when}` : `still running ${when}`;
  return `${lead}: pid ${s.pid} ${s.cmd} — ${describeSurvivor(s)}`;
}

/** A cause as counted in a summary: `ignores SIGTERM`, `stopped`, `zombie`. */
export function causeLabel(cause: StopCause, signal: string): string {
  switch (cause) {
    case 'ignores': return `ignores ${signal}`;
    case 'blocks': return `blocks ${signal}`;
    case 'handling': return `handles ${signal}`;
    default: return cause;
  }
}

/** `12345` → `12,345`. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Counts by cause, most first: `9,950 ignores SIGTERM, 30 stopped`. */
export function formatCauses(counts: ReadonlyMap<string, number>): string {
  return [...counts].sort((a, b) => b[1] - a[1]).map(([label, n]) => `${formatCount(n)} ${label}`).join(', ');
}

/** The JSON form of a survivor for log events: `{ pid, ppid, pgid, state, cmd, cause, ... }`. */
export function survivorRecord(s: Survivor, withEvidence = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    pid: s.pid, ppid: s.ppid, pgid: s.pgid, sid: s.sid, state: s.state, cmd: s.cmd, cause: s.cause, detail: s.detail,
  };
  if (s.wchan !== undefined) out['wchan'] = s.wchan;
  if (withEvidence && s.evidence !== undefined) out['evidence'] = s.evidence;
  return out;
}
