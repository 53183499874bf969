/**
 * Starting a supervised child: options validated and normalised (stdio,
 * environment, rewrite, limits), the program found in PATH as execvp finds
 * it, pipes made, the native spawn called (a script without `#!` run again
 * through /bin/sh, as execvp does), a failure turned into a SpawnError. What
 * happens once the child runs is supervised.ts's.
 * @module
 */
import { accessSync, constants as fsConstants, statSync, openSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { errnoCode, native } from '../native';
import { watchChildren } from '../core/children';
import { searchPath } from '../core/raw-invocation';
import { checkSeconds, DEFAULT_DUMP_SECONDS, DEFAULT_GRACE_SECONDS } from '../durations';
import { toSignalNumber, SIGTERM, type SignalLike } from '../signals';
import {
  abortError, checkOptionNames, checkStdioOrder, normaliseAbortSignal, normaliseTimeout, stdioDescriptor,
  type StdioAt, type StdioMode, type StdioOption, type StdioSpec, type StdioStream,
} from './spawn-options';
import { Supervised } from './supervised';

export type { StdioMode, StdioOption, StdioSpec, StdioStream, StdioAt };

/**
 * The stream types of a child whose `stdio` option is `S`, as spawn returns
 * it (`Supervised & StdioStreams<S>`): with 'pipe' at a position that stream
 * is typed non-null, with 'inherit', 'ignore' or a descriptor it is null, and
 * when `S` is not known precisely (a `SpawnOptions` built apart) it is the
 * stream or null, as on {@link Supervised}.
 */
export interface StdioStreams<S extends StdioSpec> {
  readonly stdin: StdioStream<StdioAt<S, 0>, Writable>;
  readonly stdout: StdioStream<StdioAt<S, 1>, Readable>;
  readonly stderr: StdioStream<StdioAt<S, 2>, Readable>;
}

/**
 * Options of {@link spawn}. `S` is the type of `stdio`, which decides the
 * types of {@link Supervised.stdin}, `stdout` and `stderr`. Any other option
 * (child_process's `shell`, `uid`, `detached`, ... or a typo) is a TypeError
 * naming it.
 */
export interface SpawnOptions<S extends StdioSpec = StdioSpec> {
  /**
   * The child's environment; default `process.env`. Values may be Buffers
   * (exact bytes). An array is the environment block itself, `NAME=value`
   * entries passed on one by one as execve takes them.
   */
  env?: Readonly<Record<string, string | Buffer | undefined>> | ReadonlyArray<string | Buffer>;
  /** The child's working directory; default this process's. */
  cwd?: string | Buffer;
  /**
   * All three streams alike ('inherit', 'ignore', 'pipe'), or one entry each
   * for stdin, stdout, stderr, where an entry may also be a file descriptor
   * of this process (`['ignore', 1, fd]`). Default 'inherit'.
   */
  stdio?: S;
  /**
   * Seconds from the stop signal to SIGKILL of the whole group. Default 30.
   * Infinity: never SIGKILL; any finite value is waited for in full.
   */
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
   * dump), wait `seconds` (default 2; Infinity: never), then SIGKILL. Default: SIGKILL at once.
   */
  dump?: { signal: SignalLike; seconds?: number };
  /**
   * Descriptors above 2 the child inherits at the same numbers (a listening
   * socket, say); every other descriptor above 2 is closed in the child.
   * This process keeps its own copies. Default: none.
   */
  inheritFds?: readonly number[];
  /**
   * An environment variable the child finds set to its own pid, whatever
   * `env` holds (for socket activation: `'LISTEN_PID'`). The pid exists only
   * once the child does, so this starts it with fork (costlier than
   * posix_spawn in a large process). Default: none.
   */
  pidVariable?: string;
  /**
   * Milliseconds after which the child is stopped as by {@link Supervised.stop}:
   * `killSignal`, then SIGKILL to the group when the grace period ends (as
   * child_process's `timeout` sends killSignal). 0 or undefined: no timeout.
   */
  timeout?: number;
  /**
   * Aborting it stops the child as {@link Supervised.stop} does; `exited`
   * then resolves with the child's status. Already aborted: the child is not
   * started, `pid` is 0 and `exited` rejects with an AbortError (`code`
   * 'ABORT_ERR', `cause` the signal's reason).
   */
  signal?: AbortSignal;
}

/** Error of a child that could not be started; `code` is the errno name (ENOENT, EACCES, ...). */
export class SpawnError extends Error {
  constructor(
    message: string,
    /** errno name: ENOENT when not found, EACCES when not executable, ... */
    readonly code: string,
    /** The program as given. */
    readonly path: string,
    readonly errno?: number,
    /**
     * The call that failed: 'posix_spawnp' (whichever of its steps failed),
     * or on the fork path (`pidVariable`, limits) 'execvpe', 'chdir', 'dup2', ... .
     */
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
  file: Bytes;
  argv: Bytes[];
  envp: Bytes[];
  cwd: Bytes | null;
  group: boolean;
  foreground: boolean;
  stdio: [number, number, number];
  /** Descriptors > 2 inherited at the same number. */
  keep: number[];
  /** Variable set to the child's own pid (absent from envp). */
  pidVariable: string | null;
  limits?: [number, number, number];
}

/** A string (UTF-8) or exact bytes, as the native spawn takes them. */
type Bytes = string | Buffer;

const SLASH = 0x2f;
const COLON = 0x3a;

/**
 * The first executable regular file named `file` in PATH, as execvp would
 * find it; byte for byte (a Buffer) when `file` or the search path is one.
 */
function resolveInPath(file: Bytes, search: Bytes = searchPath()): Bytes | undefined {
  if (typeof file === 'string' ? file.includes('/') : file.includes(SLASH)) return file;
  const dirs = typeof search === 'string' && typeof file === 'string' ? search.split(':') : splitBytes(Buffer.from(search), COLON);
  for (const dir of dirs) {
    const candidate = typeof dir === 'string' && typeof file === 'string'
      ? path.join(dir === '' ? '.' : dir, file)
      : Buffer.concat([dir.length === 0 ? Buffer.from('.') : Buffer.from(dir), Buffer.from('/'), Buffer.from(file)]);
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

function splitBytes(b: Buffer, sep: number): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = b.indexOf(sep); i !== -1; i = b.indexOf(sep, start)) { out.push(b.subarray(start, i)); start = i + 1; }
  out.push(b.subarray(start));
  return out;
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
  const attempt = (file: Bytes, argv: Bytes[]): number =>
    core.spawn(file, argv, req.envp, req.cwd, req.group, req.foreground, req.stdio, req.keep, req.pidVariable, req.limits);
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
    const shown = req.file.toString();
    const { errno, syscall } = err as { errno?: number; syscall?: unknown };
    throw new SpawnError(describeSpawnError(shown, code), code, shown, errno, typeof syscall === 'string' ? syscall : undefined);
  }
}

/** Validates a rewrite table into numbers. @internal */
export function normaliseRewrite(r: SpawnOptions['rewrite']): Map<number, number> {
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

function envToArray(env: NonNullable<SpawnOptions['env']>): Bytes[] {
  if (Array.isArray(env)) {
    const entries = env as ReadonlyArray<unknown>;
    if (!entries.every(isBytes)) throw new TypeError('env entries must be strings or Buffers');
    return entries.slice() as Bytes[];
  }
  const out: Bytes[] = [];
  for (const [k, v] of Object.entries(env as Readonly<Record<string, unknown>>)) {
    if (v === undefined) continue;
    if (!isBytes(v)) throw new TypeError(`env.${k} must be a string or a Buffer`);
    out.push(typeof v === 'string' ? `${k}=${v}` : Buffer.concat([Buffer.from(`${k}=`), v]));
  }
  return out;
}

function isBytes(v: unknown): v is Bytes {
  return typeof v === 'string' || Buffer.isBuffer(v);
}

function hasNul(v: Bytes): boolean {
  return typeof v === 'string' ? v.includes('\0') : v.includes(0);
}

let devNull = -1;
function devNullFd(): number {
  if (devNull < 0) devNull = openSync('/dev/null', 'r+');
  return devNull;
}

// node:net serves the library's pipes only (see supervised.ts's lazyStream).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lazyNet = (): typeof import('node:net') => require('node:net') as typeof import('node:net');

/** Normalised request for {@link spawnSupervised}. */
function normaliseSpawn(command: Bytes, args: readonly Bytes[], options: InitSpawnOptions): {
  req: NativeSpawn; grace: number; rewrite: Map<number, number>; killSignal: number;
  /** The three stdio modes; 'pipe' entries have fd -1 in `req.stdio` until the pipes exist. */
  modes: readonly [StdioOption, StdioOption, StdioOption];
  /** Milliseconds until a stop begins (0: none). */
  timeout: number;
  abort: AbortSignal | undefined;
} {
  if (!isBytes(command) || command.length === 0) throw new TypeError('command must be a non-empty string');
  if (!Array.isArray(args) || !args.every(isBytes)) throw new TypeError('args must be an array of strings');
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('options must be an object');
  const { limits: _limits, ...publicOptions } = options; // limits: the init's own, never a library caller's
  checkOptionNames(publicOptions);
  const grace = checkSeconds(options.grace, 'grace', DEFAULT_GRACE_SECONDS);
  const one: unknown = options.stdio ?? 'inherit';
  const stdio = (typeof one === 'string' ? [one, one, one] : one) as readonly unknown[];
  if (!Array.isArray(stdio) || stdio.length !== 3) {
    throw new TypeError("stdio must be 'inherit', 'ignore', 'pipe' or an array of three entries (those, or file descriptors)");
  }
  const given: (number | undefined)[] = [];
  const fds = stdio.map((s, i) => {
    if (typeof s === 'number') return (given[i] = stdioDescriptor(s, i));
    if (s === 'inherit') return i;
    if (s === 'ignore') return devNullFd();
    if (s === 'pipe') return -1;
    throw new TypeError(`stdio[${i}] must be 'inherit', 'ignore', 'pipe' or a file descriptor, got ${JSON.stringify(s)}`);
  }) as [number, number, number];
  checkStdioOrder(given, fds);
  const modes = stdio as readonly StdioOption[];
  const group = options.group ?? true;
  for (const s of [command, ...args]) if (hasNul(s)) throw new TypeError('command and args must not contain NUL bytes');
  const keep = options.inheritFds ?? [];
  if (!Array.isArray(keep) || keep.some((fd) => !Number.isInteger(fd) || fd < 3 || fd > 0x7fffffff)) {
    throw new TypeError('inheritFds must be an array of descriptor numbers above 2');
  }
  const pidVariable = options.pidVariable ?? null;
  if (pidVariable !== null && (typeof pidVariable !== 'string' || !/^[^=\0]+$/.test(pidVariable))) {
    throw new TypeError('pidVariable must be a non-empty variable name without = or NUL');
  }
  let envp = envToArray(options.env ?? process.env);
  if (envp.some(hasNul)) throw new TypeError('env must not contain NUL bytes');
  // The native spawn adds the pid variable itself: no other value may stand beside it.
  if (pidVariable !== null) envp = envp.filter((e) => !Buffer.from(e).subarray(0, pidVariable.length + 1).equals(Buffer.from(`${pidVariable}=`)));
  return {
    req: {
      file: command,
      argv: [command, ...args],
      envp,
      keep: [...new Set(keep)],
      pidVariable,
      cwd: options.cwd ?? null,
      group,
      foreground: group && (options.foreground ?? false) && fds[0] === 0,
      stdio: fds,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    },
    grace,
    rewrite: normaliseRewrite(options.rewrite),
    killSignal: toSignalNumber(options.killSignal ?? SIGTERM),
    modes: [modes[0]!, modes[1]!, modes[2]!],
    timeout: normaliseTimeout(options.timeout),
    abort: normaliseAbortSignal(options.signal),
  };
}

/** Validates {@link SpawnOptions.dump}. */
function normaliseDump(d: SpawnOptions['dump']): { signal: number; seconds: number } | undefined {
  if (d === undefined) return undefined;
  return { signal: toSignalNumber(d.signal), seconds: checkSeconds(d.seconds, 'dump.seconds', DEFAULT_DUMP_SECONDS) };
}

/**
 * Starts `command` (resolved through PATH like execvp) as a supervised child.
 * @throws {SpawnError} when the program cannot be started (code ENOENT, EACCES, ...).
 * @throws {Error} an AbortError (code ABORT_ERR) when `signal` is already aborted.
 * @throws {TypeError} on invalid options.
 */
export function spawnSupervised(command: Bytes, args: readonly Bytes[] = [], options: InitSpawnOptions = {}): Supervised {
  const { req, grace, rewrite, killSignal, modes, timeout, abort } = normaliseSpawn(command, args, options);
  const dump = normaliseDump(options.dump);
  if (abort?.aborted === true) throw abortError(abort);
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
  return new Supervised(pid, { group: req.group, grace, rewrite, killSignal, streams, dump, timeout, abort });
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
 * executable), and its `pid` is 0. The same for a `signal` that is already
 * aborted: the child is not started and `exited` rejects with an AbortError.
 *
 * `command` and `args` may be Buffers, passed on byte for byte (a path or an
 * argument that is not UTF-8); strings are passed as UTF-8.
 *
 * The types of `stdin`, `stdout` and `stderr` follow `stdio`: with
 * `stdio: 'pipe'` (or 'pipe' at that position) the stream is typed
 * non-null, with 'inherit', 'ignore' or a descriptor it is `null`.
 * @throws {TypeError} on invalid arguments or options, and on any option
 * spawn does not know (child_process's `shell`, `uid`, `detached`, ..., or a
 * typo), naming it (a programming error).
 */
export function spawn<S extends StdioSpec = 'inherit'>(command: string | Buffer, args?: ReadonlyArray<string | Buffer>, options?: SpawnOptions<S>): Supervised & StdioStreams<S>;
export function spawn<S extends StdioSpec = 'inherit'>(command: string | Buffer, options?: SpawnOptions<S>): Supervised & StdioStreams<S>;
export function spawn(command: string | Buffer, argsOrOptions?: ReadonlyArray<string | Buffer> | SpawnOptions, maybeOptions?: SpawnOptions): Supervised {
  if (argsOrOptions !== undefined && (argsOrOptions === null || typeof argsOrOptions !== 'object')) {
    throw new TypeError('args must be an array of strings');
  }
  const args = Array.isArray(argsOrOptions) ? argsOrOptions as ReadonlyArray<string | Buffer> : [];
  const given = Array.isArray(argsOrOptions) ? maybeOptions : argsOrOptions as SpawnOptions | undefined;
  const options = given === undefined ? {} : given;
  // The init's own options (resource limits) are not the library's: checked here, before the init's path.
  if (options !== null && typeof options === 'object') checkOptionNames(options);
  try {
    return spawnSupervised(command, args, options);
  } catch (err) {
    if (!(err instanceof SpawnError) && (err as { code?: unknown }).code !== 'ABORT_ERR') throw err;
    return new Supervised(0, {
      group: options.group ?? true, grace: checkSeconds(options.grace, 'grace', DEFAULT_GRACE_SECONDS), rewrite: new Map(), killSignal: SIGTERM, failure: err as Error,
    });
  }
}
