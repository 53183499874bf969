/**
 * Exit statuses: how a child's end becomes the shell-style number tsinit
 * exits with. Pure.
 * @module
 */
import { signalName } from './signals';

/**
 * How a process ended. Both `code` and `signal` are null only when another
 * waitpid in this process took the status first (then `status` is 255).
 */
export interface ExitStatus {
  /** Exit code when it exited normally, else null. */
  code: number | null;
  /** Name of the signal that killed it (`SIGTERM`), else null. */
  signal: string | null;
  /** The shell-style value 0..255: the code, or 128+N when killed by signal N. */
  status: number;
}

/** Exit status of tsinit when PROGRAM is not found. */
export const STATUS_NOT_FOUND = 127;
/** Exit status of tsinit when PROGRAM is found but cannot be executed. */
export const STATUS_CANNOT_EXECUTE = 126;
/** Exit status of tsinit for bad usage (no child is started). */
export const STATUS_USAGE = 2;
/** Exit status of tsinit when it cannot start at all (e.g. no native addon). */
export const STATUS_INTERNAL = 1;

/** The status of a process that exited with `code`. */
export function exitedWith(code: number): ExitStatus {
  return { code, signal: null, status: code & 0xff };
}

/** The status of a process killed by signal number `signum`. */
export function killedBy(signum: number): ExitStatus {
  return { code: null, signal: signalName(signum), status: (128 + signum) & 0xff };
}

/** Status of a child whose exit status was taken by another waitpid in this process: unknown, reported as 255. */
export function lostStatus(): ExitStatus {
  return { code: null, signal: null, status: 255 };
}

/** Applies `--expect-exit`: a status listed in `expected` becomes 0. */
export function remapStatus(status: number, expected: ReadonlySet<number>): number {
  return expected.has(status) ? 0 : status;
}

/** Human meaning of a status: `exit 143 = killed by SIGTERM`, `exit 0`. */
export function describeStatus(s: ExitStatus): string {
  if (s.signal !== null) return `exit ${s.status} = killed by ${s.signal}`;
  if (s.code === null) return `exit ${s.status} = status unknown (reaped elsewhere)`;
  return `exit ${s.status}`;
}

/** tsinit's status when PROGRAM could not start, by the errno name: 127 not found, 126 any other reason. */
export function spawnFailureStatus(code: string | undefined): number {
  return code === 'ENOENT' || code === 'ENOTDIR' ? STATUS_NOT_FOUND : STATUS_CANNOT_EXECUTE;
}
