/**
 * Supervised children: the one supervisor behind both the CLI and the library.
 *
 * A {@link Supervised} child moves through named states:
 *
 *   running ──stop signal──▶ stopping (deadline armed) ──deadline──▶ killing ──▶ exited
 *                                 └──deadline, `dump` set──▶ dumping ──seconds──┘
 *      └──────────────────────────── exits on its own ──────────────────────────▶ exited
 *
 * `beginStop` is the transition into `stopping`, `onDeadline` the one into
 * `dumping` (or straight on), `escalate` the one into `killing`, `onExit`
 * the one into `exited`.
 * @module
 */
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants, statSync, openSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { errnoCode, native } from './native';
import { own, watchChildren, type WaitEvent } from './children';
import { exitedWith, killedBy, lostStatus, type ExitStatus } from './exit-status';
import { signalName, toSignalNumber, type SignalLike } from './signals';

const SIGINT = 2;
const SIGKILL = 9;
const SIGTERM = 15;
const SIGCONT = 18;

/**
 * How one of the child's standard streams is connected: 'inherit' shares
 * this process's, 'ignore' connects /dev/null, 'pipe' makes a pipe whose
 * other end appears as {@link Supervised.stdin}, `stdout` or `stderr`.
 */
export type StdioOption = 'inherit' | 'ignore' | 'pipe';

/** Options of {@link spawn}. */
export interface SpawnOptions {
  /** The child's environment; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The child's working directory; default this process's. */
  cwd?: string;
  /** All three streams alike, or one each for stdin, stdout, stderr. Default 'inherit'. */
  stdio?: StdioOption | readonly [StdioOption, StdioOption, StdioOption];
  /** Seconds from the stop signal to SIGKILL of the whole group. Default 30. */
  grace?: number;
  /** Run the child in a process group of its own and signal the whole group. Default true. */
  group?: boolean;
  /** Make the child's group the terminal's foreground group (needs `group` and a TTY on stdin). Default false. */
  foreground?: boolean;
  /** Signals rewritten by {@link Supervised.forward}: `{ SIGTERM: 'SIGQUIT' }`; 0 drops the signal. */
  rewrite?: Readonly<Record<string, SignalLike>> | ReadonlyMap<number, number>;
  /** Signal that {@link Supervised.stop} sends first. Default SIGTERM. */
  killSignal?: SignalLike;
  /**
   * At the grace deadline, send `signal` first (e.g. SIGQUIT for a thread
   * dump), wait `seconds` (default 2), then SIGKILL. Default: SIGKILL at once.
   */
  dump?: { signal: SignalLike; seconds?: number };
}

/** States of a supervised child. */
export type SupervisedState = 'running' | 'stopping' | 'dumping' | 'killing' | 'exited';

/** Error of a child that could not be started; `code` is the errno name (ENOENT, EACCES, ...). */
export class SpawnError extends Error {
  constructor(
    message: string,
    /** errno name: ENOENT when not found, EACCES when not executable, ... */
    readonly code: string,
    /** The program as given. */
    readonly path: string,
    readonly errno?: number,
    readonly syscall = 'posix_spawnp',
  ) {
    super(message);
    this.name = 'SpawnError';
  }
}

/** Options of the init's own spawn: {@link SpawnOptions} plus what only the CLI needs. @internal */
export interface InitSpawnOptions extends SpawnOptions {
  /** Soft RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_AS for the child (-1: inherited). */
  limits?: [number, number, number];
}

/** Normalised spawn request (the native layer's input). */
interface NativeSpawn {
  file: string;
  argv: string[];
  envp: string[];
  cwd: string | null;
  group: boolean;
  foreground: boolean;
  stdio: [number, number, number];
  limits?: [number, number, number];
}

/** The first executable regular file named `file` in PATH, as execvp would find it. */
export function resolveInPath(file: string, searchPath = process.env['PATH'] ?? '/usr/local/bin:/bin:/usr/bin'): string | undefined {
  if (file.includes('/')) return file;
  for (const dir of searchPath.split(':')) {
    const candidate = path.join(dir === '' ? '.' : dir, file);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

function describeSpawnError(file: string, code: string): string {
  switch (code) {
    case 'ENOENT': return `cannot run '${file}': not found`;
    case 'ENOTDIR': return `cannot run '${file}': a path component is not a directory`;
    case 'EACCES': return `cannot run '${file}': permission denied (not executable, or a directory)`;
    case 'ENOEXEC': return `cannot run '${file}': not an executable format`;
    case 'ETXTBSY': return `cannot run '${file}': the file is open for writing`;
    case 'E2BIG': return `cannot run '${file}': argument list too long`;
    case 'ELOOP': return `cannot run '${file}': too many symbolic links`;
    default: return `cannot run '${file}': ${code}`;
  }
}

/** Calls the native spawn, turning a failure into a SpawnError; ENOEXEC retries through /bin/sh as execvp does. */
function nativeSpawn(req: NativeSpawn): number {
  const core = native();
  const attempt = (file: string, argv: string[]): number =>
    core.spawn(file, argv, req.envp, req.cwd, req.group, req.foreground, req.stdio, req.limits);
  try {
    try {
      return attempt(req.file, req.argv);
    } catch (err) {
      if (errnoCode(err) !== 'ENOEXEC') throw err;
      const script = resolveInPath(req.file);
      if (script === undefined) throw err;
      return attempt('/bin/sh', ['/bin/sh', script, ...req.argv.slice(1)]);
    }
  } catch (err) {
    const code = errnoCode(err);
    throw new SpawnError(describeSpawnError(req.file, code), code, req.file, (err as { errno?: number }).errno);
  }
}

function normaliseRewrite(r: SpawnOptions['rewrite']): Map<number, number> {
  const out = new Map<number, number>();
  if (r === undefined) return out;
  if (r instanceof Map) {
    for (const [from, to] of r) out.set(toSignalNumber(from), toSignalNumber(to, true));
    return out;
  }
  for (const [from, to] of Object.entries(r as Record<string, SignalLike>)) {
    out.set(toSignalNumber(/^\d+$/.test(from) ? Number(from) : from), toSignalNumber(to, true));
  }
  return out;
}

function envToArray(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}

let devNull = -1;
function devNullFd(): number {
  if (devNull < 0) devNull = openSync('/dev/null', 'r+');
  return devNull;
}

/** Events of {@link Supervised}. */
export interface SupervisedEvents {
  /** The child was reaped. */
  exit: [status: ExitStatus];
  /** A stop began: the stop signal was sent and the grace deadline armed. */
  stopping: [info: { signal: string; deadline: number }];
  /**
   * The grace deadline passed and the `dump` signal is about to go to the
   * group (emitted just before it is sent); SIGKILL follows after `seconds`.
   */
  dump: [info: { signal: string; seconds: number; after: number }];
  /** SIGKILL is about to go to the group (emitted just before it is sent: the survivors are still there to look at). */
  escalating: [info: { signal: 'SIGKILL'; after: number }];
  /** The grace deadline passed: SIGKILL went to the group. */
  escalated: [info: { signal: 'SIGKILL'; after: number }];
  /** The child was stopped (job control) by this signal. */
  stopped: [signal: string];
  /** The child was continued. */
  continued: [];
}

/**
 * After the child is reaped, how long its `exit` waits at most for stdout and
 * stderr pipes that are still open: another process (a grandchild) may hold
 * their write ends. The streams themselves stay open and keep delivering.
 */
export const PIPE_LINGER_MS = 1000;

/**
 * A child process started by {@link spawn} and supervised until it is reaped.
 *
 * Order of events at the end: the child is reaped (`state` becomes
 * 'exited'), then its stdout and stderr pipes end (every byte it wrote has
 * been delivered to their consumers), then `exit` is emitted and `exited`
 * resolves. A pipe nobody ever read from is not waited for, and one held
 * open by another process delays `exit` by at most {@link PIPE_LINGER_MS}.
 */
export class Supervised extends EventEmitter<SupervisedEvents> {
  /** The child's pid; 0 when the program could not be started (then `exited` rejects). */
  readonly pid: number;
  /** The process group signals go to (the child's own when `group`, else this process's); 0 when not started. */
  readonly pgid: number;
  /**
   * Resolves with the exit status once the child is reaped and its output
   * pipes have ended. Rejects with a {@link SpawnError} (`code` ENOENT,
   * EACCES, ...) when the program could not be started.
   */
  readonly exited: Promise<ExitStatus>;
  /**
   * The child's stdin when `stdio[0]` is 'pipe', else null. As with
   * child_process, a write after the child closed its end fails with EPIPE
   * (an 'error' event: listen for it if that can happen).
   */
  readonly stdin: Writable | null;
  /** The child's stdout when `stdio[1]` is 'pipe', else null. */
  readonly stdout: Readable | null;
  /** The child's stderr when `stdio[2]` is 'pipe', else null. */
  readonly stderr: Readable | null;
  /** Whether signals go to the whole group. */
  readonly group: boolean;
  /** Seconds from stop signal to SIGKILL. */
  readonly grace: number;

  private stateName: SupervisedState = 'running';
  private status: ExitStatus | undefined;
  private resolveExit!: (s: ExitStatus) => void;
  private timer: NodeJS.Timeout | undefined;
  private stopStartedAt: number | undefined;
  private stopDeadline: number | undefined;
  private readonly rewrite: Map<number, number>;
  private readonly killSignal: number;
  private readonly dump: { signal: number; seconds: number } | undefined;

  /** @internal Use {@link spawn}. */
  constructor(pid: number, opts: {
    group: boolean; grace: number; rewrite: Map<number, number>; killSignal: number;
    /** Signal to send at the grace deadline, and seconds to wait before SIGKILL. */
    dump?: { signal: number; seconds: number };
    streams?: readonly [Writable | null, Readable | null, Readable | null];
    /** The program could not be started: `exited` rejects with this. */
    failure?: Error;
  }) {
    super();
    this.pid = pid;
    this.group = opts.group;
    this.grace = opts.grace;
    this.rewrite = opts.rewrite;
    this.killSignal = opts.killSignal;
    this.dump = opts.dump;
    [this.stdin, this.stdout, this.stderr] = opts.streams ?? [null, null, null];
    if (opts.failure !== undefined) {
      this.pgid = 0;
      this.stateName = 'exited';
      this.exited = Promise.reject(opts.failure);
      return;
    }
    this.pgid = opts.group ? pid : native().getpgid(0);
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
    own(pid, (ev) => this.onWait(ev));
  }

  /** Current state. */
  get state(): SupervisedState {
    return this.stateName;
  }

  /** The exit status once reaped. */
  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** When the current stop began (ms since the epoch), if one did. */
  get stopStarted(): number | undefined {
    return this.stopStartedAt;
  }

  /** The grace deadline (ms since the epoch) of the current stop, if one is armed. */
  get deadline(): number | undefined {
    return this.stopDeadline;
  }

  /**
   * Sends `sig` as is (no rewrite) to the child's group, or to the child alone
   * when `group` is false. Returns false when nothing received it.
   */
  signal(sig: SignalLike): boolean {
    return this.send(toSignalNumber(sig)) === 0;
  }

  /** Sends to the group or child; returns 0 or the errno. */
  private send(signum: number): number {
    if (this.pid <= 0) return 3; // never started: nothing to signal (and never kill(0))
    if (this.stateName === 'exited' && !this.group) return 3; // ESRCH: never signal a recycled pid
    if (!this.group) return native().kill(this.pid, signum);
    const rc = native().kill(-this.pgid, signum);
    // The child left its group (setsid/setpgid) and took the group's last
    // member with it: it must still get the signal.
    if (rc === 3 && this.stateName !== 'exited') return native().kill(this.pid, signum);
    return rc;
  }

  /**
   * Forwards a signal this process received, with the init's rules: the
   * rewrite table applies (a target of 0 drops it), and a SIGTERM or SIGINT
   * begins a stop (deadline armed, SIGCONT sent after it). Returns the
   * number actually sent, or 0 when dropped.
   */
  forward(signum: number): number {
    const to = this.rewrite.has(signum) ? this.rewrite.get(signum)! : signum;
    if (to === 0) return 0;
    if (signum === SIGTERM || signum === SIGINT) this.beginStop(to, this.grace);
    else this.send(to);
    return to;
  }

  /**
   * Stops the child: sends the kill signal (default SIGTERM) and SIGCONT, and
   * SIGKILLs the group if it is still alive when the grace deadline passes.
   * Idempotent; resolves when the child is reaped.
   */
  stop(options: { signal?: SignalLike; grace?: number } = {}): Promise<ExitStatus> {
    if (this.stateName === 'running') {
      const signum = options.signal === undefined ? this.killSignal : toSignalNumber(options.signal);
      const grace = options.grace ?? this.grace;
      if (!(grace >= 0)) throw new TypeError(`grace must be a number of seconds >= 0, got ${String(options.grace)}`);
      this.beginStop(signum, grace);
    }
    return this.exited;
  }

  /** Transition running → stopping: send `signum` and SIGCONT, arm the deadline. */
  private beginStop(signum: number, grace: number): void {
    this.send(signum);
    // A stopped process cannot act on the stop signal until it is continued.
    if (signum !== SIGKILL && signum !== SIGCONT) this.send(SIGCONT);
    if (this.stateName !== 'running') return; // the deadline of the first stop stands
    this.stateName = 'stopping';
    this.stopStartedAt = Date.now();
    this.stopDeadline = this.stopStartedAt + grace * 1000;
    this.timer = setTimeout(() => this.onDeadline(), grace * 1000);
    this.emit('stopping', { signal: signalName(signum), deadline: this.stopDeadline });
  }

  /** The grace deadline passed: transition stopping → dumping when a dump signal is set, else escalate. */
  private onDeadline(): void {
    this.timer = undefined;
    if (this.dump === undefined || this.stateName !== 'stopping') { this.escalate(); return; }
    this.stateName = 'dumping';
    const after = Date.now() - (this.stopStartedAt ?? Date.now());
    this.emit('dump', { signal: signalName(this.dump.signal), seconds: this.dump.seconds, after });
    if (this.stateName !== 'dumping') return; // a listener escalated, or the child was reaped meanwhile
    this.send(this.dump.signal);
    this.timer = setTimeout(() => this.escalate(), this.dump.seconds * 1000);
  }

  /** Transition stopping (or dumping) → killing: SIGKILL to the group. */
  escalate(): void {
    if (this.stateName === 'exited' || this.stateName === 'killing') return;
    this.stateName = 'killing';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.emit('escalating', { signal: 'SIGKILL', after: Date.now() - (this.stopStartedAt ?? Date.now()) });
    this.send(SIGKILL);
    if (this.group) native().kill(this.pid, SIGKILL); // also when it left its group
    this.emit('escalated', { signal: 'SIGKILL', after: Date.now() - (this.stopStartedAt ?? Date.now()) });
  }

  /** Transition any → exited, or a job-control notification. */
  private onWait(ev: WaitEvent): void {
    if (ev.kind === 'stopped') { this.emit('stopped', signalName(ev.value)); return; }
    if (ev.kind === 'continued') { this.emit('continued'); return; }
    const status = ev.kind === 'exited' ? exitedWith(ev.value) : ev.kind === 'killed' ? killedBy(ev.value) : lostStatus();
    this.status = status;
    this.stateName = 'exited';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.afterOutput(() => {
      this.resolveExit(status);
      this.emit('exit', status);
    });
  }

  /**
   * Runs `fn` once stdout and stderr have ended (synchronously when there is
   * no pipe to wait for). Pipes never read from are not waited for; pipes
   * still open {@link PIPE_LINGER_MS} after the reap no longer hold `fn` back.
   */
  private afterOutput(fn: () => void): void {
    const waiting = [this.stdout, this.stderr].filter((s): s is Readable =>
      s !== null && !s.readableEnded && !s.destroyed && s.readableFlowing !== null);
    if (waiting.length === 0) { fn(); return; }
    let left = waiting.length;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(linger);
      fn();
    };
    const linger = setTimeout(finish, PIPE_LINGER_MS);
    const { finished } = lazyStream();
    for (const s of waiting) {
      finished(s, { writable: false }, () => { if (--left === 0) finish(); });
    }
  }
}

// node:net and node:stream serve the library's pipes only. The CLI never makes
// one, and loading them (with what they load) is a measurable part of start-up,
// so they are required on first use.
/* eslint-disable @typescript-eslint/no-require-imports */
const lazyNet = (): typeof import('node:net') => require('node:net') as typeof import('node:net');
const lazyStream = (): typeof import('node:stream') => require('node:stream') as typeof import('node:stream');
/* eslint-enable @typescript-eslint/no-require-imports */

/** Normalised request for {@link spawnSupervised}. */
export function normaliseSpawn(command: string, args: readonly string[], options: InitSpawnOptions): {
  req: NativeSpawn; grace: number; rewrite: Map<number, number>; killSignal: number;
  /** The three stdio modes; 'pipe' entries have fd -1 in `req.stdio` until the pipes exist. */
  modes: readonly [StdioOption, StdioOption, StdioOption];
} {
  if (typeof command !== 'string' || command === '') throw new TypeError('command must be a non-empty string');
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new TypeError('args must be an array of strings');
  const grace = options.grace ?? 30;
  if (typeof grace !== 'number' || !(grace >= 0) || !Number.isFinite(grace)) {
    throw new TypeError(`grace must be a number of seconds >= 0, got ${String(options.grace)}`);
  }
  const stdio = typeof options.stdio === 'string' || options.stdio === undefined
    ? [options.stdio ?? 'inherit', options.stdio ?? 'inherit', options.stdio ?? 'inherit'] as const
    : options.stdio;
  if (!Array.isArray(stdio) || stdio.length !== 3) throw new TypeError("stdio must be 'inherit', 'ignore', 'pipe' or an array of three of them");
  const fds = stdio.map((s, i) => {
    if (s === 'inherit') return i;
    if (s === 'ignore') return devNullFd();
    if (s === 'pipe') return -1;
    throw new TypeError(`stdio[${i}] must be 'inherit', 'ignore' or 'pipe', got ${JSON.stringify(s)}`);
  }) as [number, number, number];
  const group = options.group ?? true;
  for (const s of [command, ...args]) if (s.includes('\0')) throw new TypeError('command and args must not contain NUL bytes');
  return {
    req: {
      file: command,
      argv: [command, ...args],
      envp: envToArray(options.env ?? process.env),
      cwd: options.cwd ?? null,
      group,
      foreground: group && (options.foreground ?? false) && stdio[0] === 'inherit',
      stdio: fds,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    },
    grace,
    rewrite: normaliseRewrite(options.rewrite),
    killSignal: toSignalNumber(options.killSignal ?? SIGTERM),
    modes: [stdio[0], stdio[1], stdio[2]],
  };
}

/** Validates {@link SpawnOptions.dump}. */
function normaliseDump(d: SpawnOptions['dump']): { signal: number; seconds: number } | undefined {
  if (d === undefined) return undefined;
  const seconds = d.seconds ?? 2;
  if (typeof seconds !== 'number' || !(seconds >= 0) || !Number.isFinite(seconds)) {
    throw new TypeError(`dump.seconds must be a number of seconds >= 0, got ${String(d.seconds)}`);
  }
  return { signal: toSignalNumber(d.signal), seconds };
}

/**
 * Starts `command` (resolved through PATH like execvp) as a supervised child.
 * @throws {SpawnError} when the program cannot be started (code ENOENT, EACCES, ...).
 * @throws {TypeError} on invalid options.
 */
export function spawnSupervised(command: string, args: readonly string[] = [], options: InitSpawnOptions = {}): Supervised {
  const { req, grace, rewrite, killSignal, modes } = normaliseSpawn(command, args, options);
  const dump = normaliseDump(options.dump);
  const parentEnds: [number, number, number] = [-1, -1, -1];
  const childEnds: number[] = [];
  let pid: number;
  try {
    openPipes(modes, req.stdio, parentEnds, childEnds);
    watchChildren(); // before the child exists, so its SIGCHLD cannot be missed
    pid = nativeSpawn(req);
  } catch (err) {
    for (const fd of parentEnds) if (fd >= 0) closeSync(fd);
    throw err;
  } finally {
    for (const fd of childEnds) closeSync(fd); // the child has its copies now
  }
  const Socket = parentEnds.some((fd) => fd >= 0) ? lazyNet().Socket : undefined!;
  const streams = [
    parentEnds[0] < 0 ? null : new Socket({ fd: parentEnds[0], readable: false, writable: true }),
    parentEnds[1] < 0 ? null : new Socket({ fd: parentEnds[1], readable: true, writable: false }),
    parentEnds[2] < 0 ? null : new Socket({ fd: parentEnds[2], readable: true, writable: false }),
  ] as const;
  return new Supervised(pid, { group: req.group, grace, rewrite, killSignal, streams, dump });
}

/** Makes a pipe for each 'pipe' stream: the child's end goes into `childFds`, this process's into `parentEnds`. */
function openPipes(modes: readonly StdioOption[], childFds: [number, number, number], parentEnds: [number, number, number],
  childEnds: number[]): void {
  const core = native();
  for (let i = 0; i < 3; i++) {
    if (modes[i] !== 'pipe') continue;
    let ends: [number, number];
    try {
      ends = core.pipe();
    } catch (err) {
      const code = errnoCode(err);
      throw new SpawnError(`cannot create a pipe for the child's ${['stdin', 'stdout', 'stderr'][i]}: ${code}`,
        code, '', (err as { errno?: number }).errno, 'pipe2');
    }
    const [r, w] = ends;
    childFds[i] = i === 0 ? r : w;
    parentEnds[i] = i === 0 ? w : r;
    childEnds.push(childFds[i]);
  }
}

/**
 * Starts `command` (resolved through PATH like execvp) as a supervised child
 * with the init's child semantics: its own process group (unless `group` is
 * false), every signal disposition default and an empty signal mask, the
 * terminal's foreground when `foreground` is set.
 *
 * Unlike {@link spawnSupervised} it never throws for a program that cannot
 * be started: the returned object's `exited` rejects with a
 * {@link SpawnError} whose `code` is 'ENOENT' (not found) or 'EACCES' (not
 * executable), and its `pid` is 0.
 * @throws {TypeError} on invalid arguments or options (a programming error).
 */
export function spawn(command: string, args?: readonly string[], options?: SpawnOptions): Supervised;
export function spawn(command: string, options?: SpawnOptions): Supervised;
export function spawn(command: string, argsOrOptions?: readonly string[] | SpawnOptions, maybeOptions?: SpawnOptions): Supervised {
  if (argsOrOptions !== undefined && typeof argsOrOptions !== 'object') throw new TypeError('args must be an array of strings');
  const args = Array.isArray(argsOrOptions) ? argsOrOptions as readonly string[] : [];
  const options = (Array.isArray(argsOrOptions) ? maybeOptions : argsOrOptions as SpawnOptions | undefined) ?? {};
  try {
    return spawnSupervised(command, args, options);
  } catch (err) {
    if (!(err instanceof SpawnError)) throw err;
    return new Supervised(0, {
      group: options.group ?? true, grace: options.grace ?? 30, rewrite: new Map(), killSignal: SIGTERM, failure: err,
    });
  }
}

/** Closes the shared /dev/null descriptor (tests and clean shutdown). @internal */
export function closeDevNull(): void {
  if (devNull >= 0) { closeSync(devNull); devNull = -1; }
}
