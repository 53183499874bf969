/**
 * Signal names and numbers for Linux, real-time signals included.
 *
 * Pure: no native code, no side effects. Numbers are Linux's (identical on
 * x86_64 and arm64). Real-time signals follow glibc, where SIGRTMIN is 34
 * (the kernel's 32 and 33 are glibc's own) and SIGRTMAX is 64.
 * @module
 */

/** Lowest real-time signal a program may use (glibc's SIGRTMIN). */
export const SIGRTMIN = 34;
/** Highest real-time signal (SIGRTMAX). */
export const SIGRTMAX = 64;
/** Highest signal number on Linux. */
export const MAX_SIGNAL = 64;

// Named numbers, so that no other module writes a signal as a bare number.
export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXFSZ = 25;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGSYS = 31;
/** Highest standard (non-real-time) signal: the masks in /proc/PID/stat stop here. */
export const MAX_STANDARD_SIGNAL = 31;
/** The first signal a C library may keep for itself below SIGRTMIN (glibc keeps 32-33, musl 32-34). */
export const LIBC_RESERVED_MIN = 32;
/** The last one (musl's 34). */
export const LIBC_RESERVED_MAX = 34;

/** The job-control stops a terminal sends: SIGTSTP, SIGTTIN, SIGTTOU. */
export const JOB_CONTROL_STOPS: ReadonlySet<number> = new Set([SIGTSTP, SIGTTIN, SIGTTOU]);

/** Signals whose default action is to ignore them: SIGCHLD, SIGCONT, SIGURG, SIGWINCH. */
export const DEFAULT_IGNORED: ReadonlySet<number> = new Set([SIGCHLD, SIGCONT, SIGURG, SIGWINCH]);

/** The stop signals: those that begin a stop with its grace deadline when forwarded. */
export const STOP_SIGNALS: ReadonlySet<number> = new Set([SIGTERM, SIGINT]);

/** Signals that end a Node process by default, and that a PID 1 would otherwise survive. */
export const ENDING_SIGNALS: ReadonlySet<number> = new Set([SIGHUP, SIGINT, SIGTERM]);

const STANDARD: ReadonlyArray<readonly [string, number]> = [
  ['SIGHUP', 1], ['SIGINT', 2], ['SIGQUIT', 3], ['SIGILL', 4], ['SIGTRAP', 5], ['SIGABRT', 6],
  ['SIGBUS', 7], ['SIGFPE', 8], ['SIGKILL', 9], ['SIGUSR1', 10], ['SIGSEGV', 11], ['SIGUSR2', 12],
  ['SIGPIPE', 13], ['SIGALRM', 14], ['SIGTERM', 15], ['SIGSTKFLT', 16], ['SIGCHLD', 17],
  ['SIGCONT', 18], ['SIGSTOP', 19], ['SIGTSTP', 20], ['SIGTTIN', 21], ['SIGTTOU', 22],
  ['SIGURG', 23], ['SIGXCPU', 24], ['SIGXFSZ', 25], ['SIGVTALRM', 26], ['SIGPROF', 27],
  ['SIGWINCH', 28], ['SIGIO', 29], ['SIGPWR', 30], ['SIGSYS', 31],
];

/** Other names some tools use for the same numbers. */
const ALIASES: ReadonlyArray<readonly [string, number]> = [
  ['SIGIOT', 6], ['SIGCLD', 17], ['SIGPOLL', 29], ['SIGUNUSED', 31],
];

const BY_NAME = new Map<string, number>([...STANDARD, ...ALIASES]);
const BY_NUMBER = new Map<number, string>(STANDARD.map(([name, num]) => [num, name]));

/**
 * The name of a signal number: `SIGTERM`, `SIGRTMIN`, `SIGRTMIN+3`, `SIGRTMAX-2`.
 * Real-time signals in the lower half are named from SIGRTMIN, the upper half
 * from SIGRTMAX (as `kill -l` does). Unknown numbers give `SIG<n>`.
 */
export function signalName(signum: number): string {
  const standard = BY_NUMBER.get(signum);
  if (standard !== undefined) return standard;
  if (signum === SIGRTMIN) return 'SIGRTMIN';
  if (signum === SIGRTMAX) return 'SIGRTMAX';
  if (signum > SIGRTMIN && signum <= (SIGRTMIN + SIGRTMAX) / 2) return `SIGRTMIN+${signum - SIGRTMIN}`;
  if (signum > SIGRTMIN && signum < SIGRTMAX) return `SIGRTMAX-${SIGRTMAX - signum}`;
  return `SIG${signum}`;
}

/**
 * Parses a signal given by number (`15`) or by name, with or without the SIG
 * prefix and in any case (`TERM`, `sigterm`, `SIGRTMIN+3`, `RTMAX-1`).
 * Returns undefined when the text names no signal in 1..64.
 */
export function parseSignal(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= MAX_SIGNAL ? n : undefined;
  }
  const name = t.toUpperCase().replace(/^SIG/, '');
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt !== null) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const offset = rt[3] === undefined ? 0 : Number(rt[3]);
    const n = rt[2] === '-' ? base - offset : base + offset;
    if (rt[1] === 'MIN' && rt[2] === '-' && offset > 0) return undefined;
    if (rt[1] === 'MAX' && rt[2] === '+' && offset > 0) return undefined;
    return n >= SIGRTMIN && n <= SIGRTMAX ? n : undefined;
  }
  return BY_NAME.get(`SIG${name}`);
}

/** A signal given as a number or a name, as the public API accepts it. */
export type SignalLike = number | string;

/**
 * Normalises a {@link SignalLike} to its number, throwing a TypeError naming
 * the bad value. `allowZero` admits 0 ("no signal", as a rewrite target).
 */
export function toSignalNumber(sig: SignalLike, allowZero = false): number {
  if (typeof sig === 'number') {
    if (Number.isInteger(sig) && sig >= (allowZero ? 0 : 1) && sig <= MAX_SIGNAL) return sig;
  } else if (typeof sig === 'string') {
    if (allowZero && sig.trim() === '0') return 0;
    const n = parseSignal(sig);
    if (n !== undefined) return n;
  }
  throw new TypeError(`not a signal: ${JSON.stringify(sig)}`);
}

/**
 * Signals that are never forwarded: SIGCHLD is the init's own business, the
 * synchronous faults describe the init itself, and SIGKILL/SIGSTOP can't be
 * caught. 32 and 33 belong to glibc.
 */
export const NOT_FORWARDED: ReadonlySet<number> = new Set([
  SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGSEGV, SIGCHLD, SIGSTOP, SIGSYS, LIBC_RESERVED_MIN, LIBC_RESERVED_MIN + 1,
]);

/** Every signal number an init watches and forwards, in ascending order. */
export function forwardableSignals(): number[] {
  const out: number[] = [];
  for (let n = 1; n <= MAX_SIGNAL; n++) if (!NOT_FORWARDED.has(n)) out.push(n);
  return out;
}

/** The full table of standard names and real-time names, name to number. */
export function signalTable(): Record<string, number> {
  const table: Record<string, number> = {};
  for (const [name, num] of STANDARD) table[name] = num;
  for (let n = SIGRTMIN; n <= SIGRTMAX; n++) table[signalName(n)] = n;
  return table;
}
