/**
 * Loads the native core and describes it. Only this module touches the
 * addon's raw functions; everything it is given has been validated by the
 * TypeScript layer, so the native side stays dumb.
 * @internal
 * @module
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { getSystemErrorName } from 'node:util';

/** One wait status: kind 0 exited (value = code), 1 killed, 2 stopped, 3 continued (value = signal). */
export type RawWait = [kind: 0 | 1 | 2 | 3, value: number];

/** The addon's functions, exactly as native/tsinit.cc exports them. */
export interface NativeCore {
  /** `limits`: soft RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_AS for the child (-1: inherited); any set takes the fork path. */
  spawn(file: string, argv: string[], envp: string[], cwd: string | null, pgroup: boolean,
    foreground: boolean, stdio: [number, number, number], limits?: [number, number, number]): number;
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
  execve(file: string, argv: string[], envp: string[]): never;
  exitNow(status: number): never;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
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

/** Error thrown when no native binary fits this platform; says what to do. */
export class NativeLoadError extends Error {
  readonly code = 'ERR_TSINIT_NATIVE';
  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    super(
      `cannot load tsinit's native core for ${process.platform}-${process.arch} on Node ${process.versions.node}: ${why}. ` +
      'No prebuilt binary fits this platform: install a compiler and rebuild it (Debian/Ubuntu: apt-get install -y g++ make python3; ' +
      'Alpine: apk add build-base python3; then npm rebuild node-tsinit).',
      { cause },
    );
    this.name = 'NativeLoadError';
  }
}

/**
 * Where the addon is, tried first without a directory search: the local build
 * (unless PREBUILDS_ONLY is set, as node-gyp-build has it), then the prebuild
 * for this platform, architecture and C library, named as scripts/prebuild.sh
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
    /* eslint-disable @typescript-eslint/no-require-imports */
    for (const file of exactAddonPaths(root)) {
      if (!existsSync(file)) continue;
      try {
        core = require(file) as NativeCore;
        return core;
      } catch {
        break; // present but unloadable: node-gyp-build's search says why
      }
    }
    try {
      const load = require('node-gyp-build') as (dir: string) => NativeCore;
      core = load(root);
    } catch (err) {
      throw new NativeLoadError(err);
    }
    /* eslint-enable @typescript-eslint/no-require-imports */
  }
  return core;
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
