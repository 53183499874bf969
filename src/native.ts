/**
 * Loads the native core and describes it. This module validates nothing:
 * the modules that call the core (spawn's normalisation, spawn-options,
 * the signal hub, ...) validate and normalise first, so the native side
 * stays dumb. The addon's encodings (wait kinds, errno numbers) are decoded
 * here once: {@link waitAny}, {@link waitPid}, {@link ESRCH}.
 * @internal
 * @module
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';

/** One wait status as the addon encodes it: kind 0 exited (value = code), 1 killed, 2 stopped, 3 continued (value = signal). */
type RawWait = [kind: 0 | 1 | 2 | 3, value: number];

/** A decoded wait status. */
export interface WaitEvent {
  /** 'lost': another waitpid in this process reaped it first; its status is unknown. */
  kind: 'exited' | 'killed' | 'stopped' | 'continued' | 'lost';
  /** Exit code for 'exited', signal number for 'killed'/'stopped'/'continued', 0 for 'lost'. */
  value: number;
}

/** No such process: what {@link NativeCore.kill} returns when nothing received the signal. */
export const ESRCH = osConstants.errno.ESRCH;

/** The addon's functions, exactly as native/tsinit.cc exports them. */
export interface NativeCore {
  /**
   * Buffers are passed as their bytes, strings as UTF-8. `keep`: descriptors > 2
   * the child inherits at the same number (every other one > 2 is closed).
   * `pidEnv`: a variable (absent from envp) the child finds set to its own pid; forces a fork.
   * `limits`: soft RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_AS for the child (-1: inherited); any set takes the fork path.
   * Throws an Error with `errno`, `code` (see errnoCode) and `syscall`, the call that failed: 'posix_spawnp' (or a
   * posix_spawn* set-up call, or 'fcntl') on the posix_spawn path; on the fork path 'execvpe', 'chdir', 'setrlimit', 'getrlimit',
   * 'setpgid', 'dup2', 'fcntl', 'tcsetpgrp' (in the child), 'fork' or 'pipe2'.
   */
  spawn(file: string | Buffer, argv: Array<string | Buffer>, envp: Array<string | Buffer>, cwd: string | Buffer | null, pgroup: boolean,
    foreground: boolean, stdio: [number, number, number], keep: number[], pidEnv: string | null, limits?: [number, number, number]): number;
  setSignalHandler(fn: (signum: number) => void): void;
  watchSignal(signum: number, keepAlive: boolean): void;
  unwatchSignal(signum: number): void;
  reapAny(): { events: number[]; more: boolean };
  reapPid(pid: number, withStops: boolean): RawWait | null | undefined;
  libuvChildPids(): number[];
  setSubreaper(on: boolean): void;
  isSubreaper(): boolean;
  setPdeathsig(signum: number, expectedParent: number): boolean;
  getpgid(pid: number): number;
  tcgetpgrp(fd: number): number;
  tcsetpgrp(fd: number, pgid: number): boolean;
  kill(pid: number, signum: number): number;
  /** Replaces this process (same pid); 0..2 and `keep` lose close-on-exec first. */
  execve(file: string | Buffer, argv: Array<string | Buffer>, envp: Array<string | Buffer>, keep?: number[]): never;
  exitNow(status: number): never;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /**
   * Writes what fits now, never blocking and never setting O_NONBLOCK on `fd`
   * (sockets: send with MSG_DONTWAIT; FIFOs: splice from a private pipe;
   * others: poll, then write). Returns the bytes written (at most PIPE_BUF
   * except to a socket) or -errno (-EAGAIN: it would have blocked).
   */
  tryWrite(fd: number, data: Buffer): number;
  /**
   * Puts a handler that only records arrivals on each signal; returns what
   * each had before: 0 default, 1 ignored, 2 a handler, 3 a one-shot
   * (SA_RESETHAND) handler, -1 refused by the C library.
   */
  claimSignals(signums: number[]): number[];
  /** Signals the recording handler caught since the last call, ascending. */
  takeRecordedSignals(): number[];
}

let core: NativeCore | undefined;

/** What to run to build the addon from source. */
const REBUILD = 'install a C++ compiler, make and python3 (Debian/Ubuntu: apt-get install -y g++ make python3; ' +
  'Alpine: apk add build-base python3), then run npm rebuild node-tsinit';

/**
 * Error thrown when the native addon is missing or cannot be loaded. Its
 * message is one line that says what to do; `code` is 'ERR_TSINIT_NATIVE',
 * `cause` the loader's own error.
 */
export class NativeLoadError extends Error {
  readonly code = 'ERR_TSINIT_NATIVE';
  constructor(cause: unknown, missing: boolean, file?: string) {
    let why = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0]!.trim();
    if (file !== undefined && why.startsWith(`${file}: `)) why = why.slice(file.length + 2); // dlopen names it too
    const where = `${process.platform}-${process.arch}, Node ${process.versions.node}`;
    super(missing
      ? `node-tsinit's native addon is missing (no build and no prebuilt binary for ${where}): ${REBUILD}`
      : `node-tsinit's native addon${file === undefined ? '' : ` ${file}`} cannot be loaded (${where}: ${why}): ${REBUILD}`,
    { cause });
    this.name = 'NativeLoadError';
  }
}

/**
 * Where the addon is, tried first without a directory search: the local build
 * (unless PREBUILDS_ONLY is set, as node-gyp-build has it), then the prebuild
 * for this platform, architecture and C library, named as scripts/build/prebuild.sh
 * writes it. node-gyp-build's search, which reads several directories, costs
 * a few milliseconds of every start and remains the fallback.
 */
function exactAddonPaths(root: string): string[] {
  const out: string[] = [];
  if (!process.env.PREBUILDS_ONLY) out.push(path.join(root, 'build', 'Release', 'tsinit.node'));
  // node-gyp-build's test for musl, so both pick the same file.
  const libc = process.env.LIBC || (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  out.push(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, `tsinit.${libc}.node`));
  return out;
}

/** The native core, loaded once (a local build first, then a prebuild). */
export function native(): NativeCore {
  if (core === undefined) {
    const root = path.join(__dirname, '..');
    let unloadable: { file: string; err: unknown } | undefined;
    /* eslint-disable @typescript-eslint/no-require-imports */
    for (const file of exactAddonPaths(root)) {
      if (!existsSync(file)) continue;
      try {
        core = require(file) as NativeCore;
        return core;
      } catch (err) {
        unloadable = { file, err };
        break; // present but unloadable: node-gyp-build's search may find another
      }
    }
    try {
      const load = require('node-gyp-build') as (dir: string) => NativeCore;
      core = load(root);
    } catch (err) {
      if (unloadable !== undefined) throw new NativeLoadError(unloadable.err, false, unloadable.file);
      // node-gyp-build's message when it finds nothing to load.
      throw new NativeLoadError(err, err instanceof Error && /^No native build was found/.test(err.message));
    }
    /* eslint-enable @typescript-eslint/no-require-imports */
  }
  return core;
}

const KINDS = ['exited', 'killed', 'stopped', 'continued'] as const;

function decodeWait(kind: number, value: number): WaitEvent {
  return { kind: KINDS[kind] ?? 'exited', value };
}

/** One status `waitpid(-1)` collected. */
export interface Reaped {
  pid: number;
  event: WaitEvent;
}

/**
 * Every status ready now (`waitpid(-1, WNOHANG | WUNTRACED | WCONTINUED)`
 * until none); `more` is false once this process has no children at all.
 */
export function waitAny(): { reaped: Reaped[]; more: boolean } {
  const { events, more } = native().reapAny();
  const reaped: Reaped[] = [];
  for (let i = 0; i + 2 < events.length; i += 3) reaped.push({ pid: events[i]!, event: decodeWait(events[i + 1]!, events[i + 2]!) });
  return { reaped, more };
}

/**
 * The next status of `pid` (stops and continues too when `withStops`): null
 * when none is ready, undefined when `pid` is not a child of this process
 * (any more: somebody else reaped it).
 */
export function waitPid(pid: number, withStops: boolean): WaitEvent | null | undefined {
  const r = native().reapPid(pid, withStops);
  return r === null || r === undefined ? r : decodeWait(r[0], r[1]);
}

/** Whether a wait status is the end of the process (exited or killed), after which its pid is free. */
export function isFinal(ev: WaitEvent): boolean {
  return ev.kind === 'exited' || ev.kind === 'killed' || ev.kind === 'lost';
}

/**
 * The errno name (`ENOENT`, ...) of an error the native core threw. The core
 * names it itself where the C library can (glibc); elsewhere it is derived
 * from the number here.
 */
export function errnoCode(err: unknown): string {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.errno === 'number' && e.errno > 0) {
    try {
      return getSystemErrorName(-e.errno);
    } catch {
      // an errno Node does not know
    }
  }
  return 'EUNKNOWN';
}
