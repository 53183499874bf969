/**
 * Reading /proc: which processes exist, their parents, groups and states.
 * Used at the end of life (who is left to stop) and for diagnosis.
 * @module
 */
import { closeSync, opendirSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';

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

/** One buffer for every /proc read: no allocation per file (readFileSync takes 64 KiB for each). */
let readBuffer = Buffer.alloc(16 * 1024);

/**
 * The text of a /proc file (at most `max` bytes), or undefined when it is
 * gone. /proc files report a size of 0, so they are read to their end into
 * a buffer kept for the next read: reading thousands of them makes no garbage
 * but the strings.
 */
export function readProcText(path: string, encoding: 'latin1' | 'utf8' = 'latin1', max = 1024 * 1024): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let len = 0;
    for (;;) {
      if (len === readBuffer.length) {
        if (len >= max) break;
        const bigger = Buffer.alloc(Math.min(max, readBuffer.length * 2));
        readBuffer.copy(bigger, 0, 0, len);
        readBuffer = bigger;
      }
      const n = readSync(fd, readBuffer, len, Math.min(readBuffer.length, max) - len, null);
      if (n === 0) break;
      len += n;
    }
    return readBuffer.toString(encoding, 0, len);
  } catch {
    return undefined;
  } finally {
    try { closeSync(fd); } catch { /* already gone */ }
  }
}

/** /proc/<pid>/stat of one process, or undefined when it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  const text = readProcText(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
}

/** Start time of `pid` (clock ticks since boot, field 22 of its stat), or undefined when it is gone. */
export function startTimeOf(pid: number): number | undefined {
  const text = readProcText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  const n = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
  return Number.isFinite(n) ? n : undefined;
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

/** The names in a /proc directory, or none when it cannot be read (gone, or no /proc). */
export function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Every process visible in /proc (those that vanish while reading are skipped). */
export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of namesIn('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const st = readStat(Number(name));
    if (st !== undefined) out.push(st);
  }
  return out;
}

/**
 * Calls `fn` with each pid /proc lists, streamed one directory entry at a
 * time (with thousands of processes no list of them is built), until `fn`
 * returns true. Returns whether one did; false when /proc is unreadable.
 */
function somePid(fn: (pid: number) => boolean): boolean {
  try {
    const dir = opendirSync('/proc');
    try {
      for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
        const c = e.name.charCodeAt(0);
        if (c >= 48 && c <= 57 && fn(Number(e.name))) return true;
      }
    } finally {
      dir.closeSync();
    }
  } catch {
    // /proc unreadable now: nothing seen
  }
  return false;
}

/** How many processes /proc lists (its numeric entries; nothing else is read). */
export function countProcesses(): number {
  let n = 0;
  somePid(() => { n++; return false; });
  return n;
}

/**
 * Whether a process that `match` selects is stopped by job control (state T),
 * so that a stop signal would wait for a SIGCONT. Without a /proc of this PID
 * namespace nobody can tell: the answer is then true, so that the caller
 * sends the SIGCONT rather than leave a stopped process unable to act.
 * Streamed, stopping at the first hit.
 */
export function anyStopped(match: (p: ProcStat) => boolean): boolean {
  if (!procIsOurs()) return true;
  return somePid((pid) => {
    const p = readStat(pid);
    return p !== undefined && p.state === 'T' && match(p);
  });
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

