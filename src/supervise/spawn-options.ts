/**
 * Validation of {@link spawn}'s options where child_process habits lead:
 * option names (an unsupported or misspelt one is a TypeError naming it,
 * never silently ignored), `stdio` entries given as file descriptors,
 * `timeout` and `signal` (an AbortSignal). Pure apart from fstat.
 * @internal
 * @module
 */
import { fstatSync } from 'node:fs';
import { errnoCode } from '../native';

/** The standard-stream modes that are not a descriptor number. */
export type StdioMode = 'inherit' | 'ignore' | 'pipe';

/**
 * How one of the child's standard streams is connected: 'inherit' shares
 * this process's, 'ignore' connects /dev/null, 'pipe' makes a pipe whose
 * other end appears as {@link Supervised.stdin}, `stdout` or `stderr`, and a
 * number is a file descriptor of this process that the child gets as that
 * stream (as child_process takes one).
 */
export type StdioOption = StdioMode | number;

/** The `stdio` option: one mode for all three streams, or one entry each for stdin, stdout, stderr. */
export type StdioSpec = StdioMode | readonly [StdioOption, StdioOption, StdioOption];

/** The stdio entry at position `I` (0 stdin, 1 stdout, 2 stderr) of a {@link StdioSpec}. */
export type StdioAt<S, I extends 0 | 1 | 2> = S extends readonly [StdioOption, StdioOption, StdioOption] ? S[I] : S;

/**
 * The type of a stream whose stdio entry is `M`: `T` when `M` is surely
 * 'pipe', null when it surely is not, `T | null` when it may be either.
 */
export type StdioStream<M, T> = [M] extends ['pipe'] ? T : 'pipe' extends M ? T | null : null;

/** Every option {@link spawn} knows. */
const KNOWN = ['env', 'cwd', 'stdio', 'grace', 'group', 'foreground', 'rewrite', 'killSignal', 'dump', 'timeout', 'signal', 'inheritFds', 'pidVariable'];

/** child_process options tsinit does not take, and what to do instead. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  shell: "tsinit runs the program without a shell: spawn('sh', ['-c', command])",
  detached: 'the child already has a process group of its own (group: true, the default)',
  uid: 'start the program through a tool that changes user (setpriv, su-exec, gosu)',
  gid: 'start the program through a tool that changes group (setpriv, su-exec, gosu)',
  argv0: "the child's argv[0] is the command as given",
  windowsHide: 'Windows only; tsinit runs on Linux',
  windowsVerbatimArguments: 'Windows only; tsinit runs on Linux',
  serialization: 'tsinit opens no IPC channel',
};

/** Levenshtein distance, for suggesting the option a typo meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Throws a TypeError naming the first option that {@link spawn} does not
 * know. An unknown option whose value is undefined is accepted, as every
 * option left undefined takes its default.
 */
export function checkOptionNames(options: object): void {
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || KNOWN.includes(name)) continue;
    const why = UNSUPPORTED[name];
    if (why !== undefined) throw new TypeError(`spawn(): option '${name}' is not supported: ${why}`);
    const near = KNOWN.find((k) => k.toLowerCase() === name.toLowerCase())
      ?? KNOWN.find((k) => distance(k, name) <= Math.min(2, k.length >> 2 || 1));
    throw new TypeError(`spawn(): unknown option '${name}'${near === undefined ? '' : ` (did you mean '${near}'?)`}; ` +
      `the options are ${KNOWN.join(', ')}`);
  }
}

/** Highest fd number worth checking (larger ones cannot be open on Linux: fs.nr_open's ceiling). */
const MAX_FD = 2 ** 31 - 1;

/**
 * Validates a stdio entry given as a descriptor number: an integer that is
 * open in this process (fstat). Returns it.
 */
export function stdioDescriptor(fd: number, index: number): number {
  if (!Number.isInteger(fd) || fd < 0 || fd > MAX_FD) {
    throw new TypeError(`stdio[${index}] must be 'inherit', 'ignore', 'pipe' or a file descriptor (an integer >= 0), got ${String(fd)}`);
  }
  try {
    fstatSync(fd);
  } catch (err) {
    throw new TypeError(`stdio[${index}] is file descriptor ${fd}, which is not open in this process (${errnoCode(err)})`);
  }
  return fd;
}

/**
 * The child's descriptors 0, 1, 2 are set in that order, so an entry that
 * names 0, 1 or 2 must not name one an earlier entry has already replaced
 * (`['ignore', 0, ...]` would give the child /dev/null as stdout too).
 * `given` holds the entries given as numbers, `fds` what each target gets.
 */
export function checkStdioOrder(given: readonly (number | undefined)[], fds: readonly number[]): void {
  for (let i = 0; i < 3; i++) {
    const src = given[i];
    if (src === undefined || src >= i || src > 2 || fds[src] === src) continue;
    throw new TypeError(`stdio[${i}] is descriptor ${src}, which stdio[${src}] replaces in the child before stdio[${i}] is set: ` +
      `not supported (pass 'inherit' at stdio[${src}], or a copy of the descriptor)`);
  }
}

/** Longest timeout a Node timer can hold (ms). */
const MAX_TIMEOUT = 2 ** 31 - 1;

/** Validates `timeout` (ms, 0 or undefined: none). */
export function normaliseTimeout(timeout: unknown): number {
  if (timeout === undefined) return 0;
  if (typeof timeout !== 'number' || !(timeout >= 0) || timeout > MAX_TIMEOUT) {
    throw new TypeError(`spawn(): option 'timeout' must be a number of milliseconds from 0 to ${MAX_TIMEOUT}, got ${String(timeout)}`);
  }
  return timeout;
}

/** Validates `signal`: an AbortSignal (by shape, as Node checks it), or undefined. */
export function normaliseAbortSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const s = signal as Partial<AbortSignal> | null;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    throw new TypeError(`spawn(): option 'signal' must be an AbortSignal, got ${typeof signal === 'object' ? 'another object' : String(signal)}`);
  }
  return s as AbortSignal;
}

/** The error of a child that was not started because its signal was already aborted (as Node names it). */
export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  (err as Error & { code: string }).code = 'ABORT_ERR';
  return err;
}
