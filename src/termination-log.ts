/**
 * The Kubernetes termination message: on an unclean exit, a short summary in
 * the file Kubernetes shows as the container's last state message
 * (`kubectl describe pod`). Written only when the file already exists and is
 * writable; never created, never blocking, never fatal.
 * @module
 */
import { closeSync, constants as fsConstants, openSync, writeSync } from 'node:fs';

/** Where Kubernetes mounts the termination-message file by default. */
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
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

/** What the summary says. */
export interface TerminationReport {
  /** How the program ended: `exit 137 = killed by SIGKILL`, or why it never started. */
  outcome: string;
  /** The status tsinit exits with. */
  status: number;
  /** The stop, when there was one: signal, forwarding, escalation. */
  stop?: string;
  /** One line per process the escalation killed, with its cause. */
  survivors?: readonly string[];
}

/** Cuts `text` to at most `bytes` UTF-8 bytes without splitting a character. */
function cutBytes(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) return text;
  let end = bytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // back to a character boundary
  return buf.subarray(0, end).toString('utf8');
}

/** The message text, at most {@link TERMINATION_LOG_LIMIT} bytes: whole survivor lines, then `… N more`. Pure. */
export function formatTerminationMessage(r: TerminationReport, limit = TERMINATION_LOG_LIMIT): string {
  const head: string[] = [`tsinit: ${r.outcome}; tsinit exits ${r.status}`];
  if (r.stop !== undefined) head.push(r.stop);
  let text = cutBytes(head.join('\n') + '\n', limit);
  const survivors = r.survivors ?? [];
  if (survivors.length === 0) return text;
  const title = `killed at the grace deadline (${survivors.length}):\n`;
  if (Buffer.byteLength(text + title) > limit) return text;
  text += title;
  for (let i = 0; i < survivors.length; i++) {
    const line = cutBytes(`${survivors[i]}`, 512) + '\n';
    const after = survivors.length - i - 1;
    const tail = after > 0 ? `… and ${after} more\n` : '';
    if (Buffer.byteLength(text + line + tail) > limit) {
      text += `… and ${survivors.length - i} more\n`;
      break;
    }
    text += line;
  }
  return cutBytes(text, limit);
}

/**
 * Writes `text` to the termination-log file at `path`, replacing its content.
 * Only an existing, writable file is written (no O_CREAT; O_NONBLOCK so a
 * FIFO without a reader cannot hang PID 1). Returns whether it was written.
 */
export function writeTerminationLog(path: string, text: string): boolean {
  let fd = -1;
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_TRUNC | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
    const buf = Buffer.from(cutBytes(text, TERMINATION_LOG_LIMIT), 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    return true;
  } catch {
    return false;
  } finally {
    if (fd >= 0) try { closeSync(fd); } catch { /* nothing more to lose */ }
  }
}
