/**
 * The Kubernetes termination message: on an unclean exit, a short summary in
 * the file Kubernetes shows as the container's last state message
 * (`kubectl describe pod`). Written only when the file already exists as a
 * regular file and is writable; never created, never through a symlink,
 * never blocking, never fatal.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, ftruncateSync, lstatSync, openSync, writeSync } from 'node:fs';
import { formatCauses, formatCount } from '../diagnosis/diagnose';
import { escapeControls, type Logger } from './log';

/** Where Kubernetes mounts the termination-message file by default. */
const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
/** Kubernetes keeps at most this many bytes of a termination message. */
export const TERMINATION_LOG_LIMIT = 4096;

/**
 * The termination-log path: `TSINIT_TERMINATION_LOG` when it holds a path
 * (values like 0/1 only switch the feature, see the options), else
 * {@link DEFAULT_TERMINATION_LOG}.
 */
export function terminationLogPath(env: Readonly<Record<string, string | undefined>>): string {
  const v = env['TSINIT_TERMINATION_LOG']?.trim();
  if (v === undefined || v === '' || /^(0|1|true|false|yes|no|on|off)$/i.test(v)) return DEFAULT_TERMINATION_LOG;
  return v;
}

/** One survivor line of the message, with its cause for the count of those that do not fit. */
export interface SurvivorLine {
  /** `pid 8 /app/server — ignores SIGTERM` */
  line: string;
  /** `ignores SIGTERM` */
  cause: string;
}

/** What the summary says. */
export interface TerminationReport {
  /** How the program ended: `exit 137 = killed by SIGKILL`, or why it never started. */
  outcome: string;
  /** The status tsinit exits with. */
  status: number;
  /** The stop, when there was one: signal, forwarding, escalation. */
  stop?: string;
  /** One line per process the escalation killed, with its cause (the first ones, when they were many). */
  survivors?: ReadonlyArray<string | SurvivorLine>;
  /** Processes killed beyond `survivors`, counted by cause. */
  more?: { count: number; causes: ReadonlyMap<string, number> };
}

/** Cuts `text` to at most `bytes` UTF-8 bytes without splitting a character. */
function cutBytes(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) return text;
  let end = bytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // back to a character boundary
  return buf.subarray(0, end).toString('utf8');
}

/**
 * The message text, at most {@link TERMINATION_LOG_LIMIT} bytes: whole
 * survivor lines, then `… and N more: <counts by cause>`. Control characters
 * in every part (command lines come from other processes) are escaped, so
 * each part stays one line. Pure.
 */
export function formatTerminationMessage(r: TerminationReport, limit = TERMINATION_LOG_LIMIT): string {
  const head: string[] = [`tsinit: ${escapeControls(r.outcome)}; tsinit exits ${r.status}`];
  if (r.stop !== undefined) head.push(escapeControls(r.stop));
  let text = cutBytes(head.join('\n') + '\n', limit);
  const survivors = (r.survivors ?? []).map((s) => (typeof s === 'string' ? { line: s, cause: undefined } : s));
  const beyond = r.more?.count ?? 0;
  const total = survivors.length + beyond;
  if (total === 0) return text;
  const title = `killed at the grace deadline (${formatCount(total)}):\n`;
  if (Buffer.byteLength(text + title) > limit) return text;
  text += title;
  /** The closing line for everything from survivor `i` on. */
  const tail = (i: number): string => {
    const rest = survivors.slice(i);
    const count = rest.length + beyond;
    if (count <= 0) return '';
    const causes = new Map(r.more?.causes ?? []);
    let everyCause = true;
    for (const s of rest) {
      if (s.cause === undefined) everyCause = false;
      else causes.set(s.cause, (causes.get(s.cause) ?? 0) + 1);
    }
    const counted = everyCause && causes.size > 0 ? `: ${escapeControls(formatCauses(causes))}` : '';
    return `… and ${formatCount(count)} more${counted}\n`;
  };
  for (let i = 0; i < survivors.length; i++) {
    const line = cutBytes(escapeControls(survivors[i]!.line), 512) + '\n';
    if (Buffer.byteLength(text + line + tail(i + 1)) > limit) {
      return cutBytes(text + tail(i), limit);
    }
    text += line;
  }
  return cutBytes(text + tail(survivors.length), limit);
}

/** Why a write was refused or failed, for the warning. */
function errnoOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

/**
 * Writes `text` to the termination-log file at `path`, replacing its content.
 * Only an existing regular file is written: never created (no O_CREAT),
 * never through a symlink (O_NOFOLLOW: a writable /dev or a shared volume
 * must not make PID 1 overwrite another file), never a FIFO, device or
 * directory (checked before and, against a swap, after the open; O_NONBLOCK
 * so a FIFO cannot hang PID 1 meanwhile). The text is written first and the
 * file cut to its length after, so a full filesystem cannot leave an emptied
 * file behind. A refused path or a failed write is a warning on `log`
 * naming the path and the errno; a missing or read-only file is not.
 * Returns whether the whole text was written.
 */
export function writeTerminationLog(path: string, text: string, log?: Logger): boolean {
  const warn = (msg: string, code: string): void => log?.warn('termination-log', msg, { path, code });
  let fd = -1;
  try {
    try {
      const st = lstatSync(path);
      if (st.isSymbolicLink()) { warn(`termination log ${path} is a symbolic link: not written`, 'ELOOP'); return false; }
      if (!st.isFile()) { warn(`termination log ${path} is not a regular file: not written`, 'EINVAL'); return false; }
      fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ELOOP') warn(`termination log ${path} is a symbolic link: not written`, code);
      else if (code === 'ENXIO' || code === 'EISDIR') warn(`termination log ${path} is not a regular file: not written`, code);
      else log?.debug('termination-log', `not writing ${path}: ${code}`);
      return false;
    }
    if (!fstatSync(fd).isFile()) { warn(`termination log ${path} is not a regular file: not written`, 'EINVAL'); return false; }
    const buf = Buffer.from(cutBytes(text, TERMINATION_LOG_LIMIT), 'utf8');
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
    } catch (err) {
      const code = errnoOf(err);
      // Keep what was there when nothing could be written; else cut the file to the part written.
      if (off > 0) try { ftruncateSync(fd, off); } catch { /* the part written stays, followed by old text */ }
      warn(off > 0
        ? `termination log ${path}: wrote only ${off} of ${buf.length} bytes: ${code}`
        : `cannot write termination log ${path}: ${code}; its previous content is kept`, code);
      return false;
    }
    try {
      ftruncateSync(fd, off);
    } catch (err) {
      warn(`termination log ${path}: cannot cut it to the ${off} bytes written: ${errnoOf(err)}`, errnoOf(err));
    }
    return true;
  } catch (err) {
    warn(`cannot write termination log ${path}: ${errnoOf(err)}`, errnoOf(err));
    return false;
  } finally {
    if (fd >= 0) try { closeSync(fd); } catch { /* nothing more to lose */ }
  }
}
