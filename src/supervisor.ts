/**
 * Supervised children: the one supervisor behind both the CLI and the library.
 *
 * A {@link Supervised} child moves through named states:
 *
 *   running ──stop signal──▶ stopping (deadline armed) ──deadline──▶ killing ──▶ exited
 *      └──────────────────────────── exits on its own ──────────────────────────▶ exited
 *
 * `beginStop` is the transition into `stopping`, `escalate` the one into
 * `killing`, `onExit` the one into `exited`.
 * @module
 */
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants, statSync, openSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { native } from './native';
import { own, watchChildren, type WaitEvent } from './children';
import { exitedWith, killedBy, type ExitStatus } from './exit-status';
import { signalName, toSignalNumber, type SignalLike } from './signals';

const SIGINT = 2;
const SIGKILL = 9;
const SIGTERM = 15;
const SIGCONT = 18;

/** How one of the child's standard streams is connected. */
export type StdioOption = 'inherit' | 'ignore';

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
}

/** States of a supervised child. */
export type SupervisedState = 'running' | 'stopping' | 'killing' | 'exited';

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

/** Normalised spawn request (the native layer's input). */
interface NativeSpawn {
  file: string;
  argv: string[];
  envp: string[];
  cwd: string | null;
  group: boolean;
  foreground: boolean;
  stdio: [number, number, number];
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
    core.spawn(file, argv, req.envp, req.cwd, req.group, req.foreground, req.stdio);
  try {
    try {
      return attempt(req.file, req.argv);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOEXEC') throw err;
      const script = resolveInPath(req.file);
      if (script === undefined) throw err;
      return attempt('/bin/sh', ['/bin/sh', script, ...req.argv.slice(1)]);
    }
  } catch (err) {
    const e = err as { code?: string; errno?: number };
    const code = e.code ?? 'EUNKNOWN';
    throw new SpawnError(describeSpawnError(req.file, code), code, req.file, e.errno);
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
  /** The grace deadline passed: SIGKILL went to the group. */
  escalated: [info: { signal: 'SIGKILL'; after: number }];
  /** The child was stopped (job control) by this signal. */
  stopped: [signal: string];
  /** The child was continued. */
  continued: [];
}

/** A child process started by {@link spawn} and supervised until it is reaped. */
export class Supervised extends EventEmitter<SupervisedEvents> {
  /** The child's pid. */
  readonly pid: number;
  /** The process group signals go to (the child's own when `group`, else this process's). */
  readonly pgid: number;
  /** Resolves when the child is reaped. */
  readonly exited: Promise<ExitStatus>;
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

  /** @internal Use {@link spawn}. */
  constructor(pid: number, opts: { group: boolean; grace: number; rewrite: Map<number, number>; killSignal: number }) {
    super();
    this.pid = pid;
    this.group = opts.group;
    this.grace = opts.grace;
    this.rewrite = opts.rewrite;
    this.killSignal = opts.killSignal;
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
    if (this.stateName === 'exited' && !this.group) return 3; // ESRCH: never signal a recycled pid
    return native().kill(this.group ? -this.pgid : this.pid, signum);
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
    this.timer = setTimeout(() => this.escalate(), grace * 1000);
    this.emit('stopping', { signal: signalName(signum), deadline: this.stopDeadline });
  }

  /** Transition stopping → killing: the grace deadline passed. */
  escalate(): void {
    if (this.stateName === 'exited' || this.stateName === 'killing') return;
    this.stateName = 'killing';
    clearTimeout(this.timer);
    this.timer = undefined;
    native().kill(this.group ? -this.pgid : this.pid, SIGKILL);
    this.emit('escalated', { signal: 'SIGKILL', after: Date.now() - (this.stopStartedAt ?? Date.now()) });
  }

  /** Transition any → exited, or a job-control notification. */
  private onWait(ev: WaitEvent): void {
    if (ev.kind === 'stopped') { this.emit('stopped', signalName(ev.value)); return; }
    if (ev.kind === 'continued') { this.emit('continued'); return; }
    const status = ev.kind === 'exited' ? exitedWith(ev.value) : killedBy(ev.value);
    this.status = status;
    this.stateName = 'exited';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.resolveExit(status);
    this.emit('exit', status);
  }
}

/** Normalised request for {@link spawnSupervised}. */
export function normaliseSpawn(command: string, args: readonly string[], options: SpawnOptions): {
  req: NativeSpawn; grace: number; rewrite: Map<number, number>; killSignal: number;
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
  const fds = stdio.map((s, i) => {
    if (s === 'inherit') return i;
    if (s === 'ignore') return devNullFd();
    throw new TypeError(`stdio[${i}] must be 'inherit' or 'ignore', got ${JSON.stringify(s)}`);
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
    },
    grace,
    rewrite: normaliseRewrite(options.rewrite),
    killSignal: toSignalNumber(options.killSignal ?? SIGTERM),
  };
}

/**
 * Starts `command` (resolved through PATH like execvp) as a supervised child.
 * @throws {SpawnError} when the program cannot be started (code ENOENT, EACCES, ...).
 * @throws {TypeError} on invalid options.
 */
export function spawnSupervised(command: string, args: readonly string[] = [], options: SpawnOptions = {}): Supervised {
  const { req, grace, rewrite, killSignal } = normaliseSpawn(command, args, options);
  watchChildren(); // before the child exists, so its SIGCHLD cannot be missed
  const pid = nativeSpawn(req);
  return new Supervised(pid, { group: req.group, grace, rewrite, killSignal });
}

/** Closes the shared /dev/null descriptor (tests and clean shutdown). @internal */
export function closeDevNull(): void {
  if (devNull >= 0) { closeSync(devNull); devNull = -1; }
}
