/**
 * Reading /proc: which processes exist, their parents, groups and states.
 * Used at the end of life (who is left to stop) and for diagnosis.
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** One process as /proc/<pid>/stat describes it. */
export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** One-letter state: R S D T t Z X I. */
  state: string;
  /** Executable name (comm), at most 15 characters. */
  comm: string;
}

/**
 * Parses the text of /proc/<pid>/stat. The comm field may hold spaces and
 * parentheses, so fields are counted after the last ')'.
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  const pid = Number(text.slice(0, open).trim());
  if (rest.length < 4 || !Number.isInteger(pid)) return undefined;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0]!,
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    sid: Number(rest[3]),
  };
}

/** /proc/<pid>/stat of one process, or undefined when it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/**
 * True when /proc belongs to this process's PID namespace. Without its own
 * /proc mount, a namespace's /proc/self names the host's pid instead.
 */
export function procIsOurs(): boolean {
  try {
    return readlinkSync('/proc/self') === String(process.pid);
  } catch {
    return false;
  }
}

/** Every process visible in /proc (those that vanish while reading are skipped). */
export function listProcesses(): ProcStat[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const name of names) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const st = readStat(Number(name));
    if (st !== undefined) out.push(st);
  }
  return out;
}

/**
 * Whether a process that `match` selects is stopped by job control (state T),
 * so that a stop signal would wait for a SIGCONT. Without a /proc of this PID
 * namespace nobody can tell: the answer is then true, so that the caller
 * sends the SIGCONT rather than leave a stopped process unable to act.
 */
export function anyStopped(match: (p: ProcStat) => boolean): boolean {
  if (!procIsOurs()) return true;
  return listProcesses().some((p) => p.state === 'T' && match(p));
}

/** How long after a stop signal the stopped-process check is made once more. */
const RECHECK_STOPPED_MS = 50;

/**
 * Calls `cont` (which sends SIGCONT) when `stopped()` says a process is
 * stopped now, else once more {@link RECHECK_STOPPED_MS} later: a stop signal
 * sent just before (a shell's `kill -STOP $!` right before it exits) may not
 * have taken effect when the first look is taken. The timer is unref'd and
 * runs once: nothing stays armed.
 */
export function continueIfStopped(stopped: () => boolean, cont: () => void): void {
  if (stopped()) { cont(); return; }
  setTimeout(() => { if (stopped()) cont(); }, RECHECK_STOPPED_MS).unref();
}

/**
 * Whether a process this init is responsible for is stopped by job control:
 * as PID 1 any process but itself, else one of its descendants (true when
 * /proc cannot tell). Only then do leftovers need a SIGCONT after SIGTERM.
 */
export function leftoverStopped(pid1: boolean): boolean {
  if (pid1) return anyStopped((p) => p.pid !== 1);
  if (!procIsOurs()) return true;
  const mine = new Set(descendantsOf(process.pid).map((p) => p.pid));
  return anyStopped((p) => mine.has(p.pid));
}

/** The processes below `root` in the parent tree (root excluded), from one listing. */
export function descendantsOf(root: number, all: readonly ProcStat[] = listProcesses()): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const p of all) {
    const siblings = byParent.get(p.ppid);
    if (siblings === undefined) byParent.set(p.ppid, [p]);
    else siblings.push(p);
  }
  const out: ProcStat[] = [];
  const queue = [root];
  const seen = new Set<number>([root]);
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const child of byParent.get(pid) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/** The command line of a process, space-joined, or its comm in brackets. */
export function readCmdline(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (raw.length === 0) {
      const st = readStat(pid);
      return st === undefined ? undefined : `[${st.comm}]`;
    }
    return raw.replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    return undefined;
  }
}
