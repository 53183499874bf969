/**
 * Packaging harness: builds the package exactly as a release does (prebuilt
 * addon by scripts/build/prebuild.sh, then `npm pack`) in a temporary copy of the
 * project, so the project's own build/, dist/ and prebuilds/ stay untouched,
 * and runs commands bounded in time with nothing left behind.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findOnPath, killAll, startBounded } from './helpers';

export const ROOT = path.join(__dirname, '..', '..');

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The whole process group is SIGKILLed after this (default 60 s). */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A started command: its process, its output so far, and its end. */
export interface Started {
  proc: ChildProcess;
  result: Promise<ExecResult>;
  output(): string;
  /** Resolves with the first match of `re` in stdout+stderr; rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
}

/** SIGKILLs the process group of every command started here that has not ended (afterEach). */
export const killStarted = killAll;

/** Starts `cmd args` in its own process group, bounded by `timeoutMs` (default 60 s). */
export function startCommand(cmd: string, args: readonly string[], opts: ExecOptions = {}): Started {
  const b = startBounded(cmd, args, { cwd: opts.cwd, env: opts.env, timeoutMs: opts.timeoutMs ?? 60_000 });
  return {
    proc: b.proc,
    result: b.result,
    output: () => b.stdout() + b.stderr(),
    waitFor: (re, ms = 20_000) => b.waitFor(re, ms),
  };
}

/** Runs `cmd args` to completion (bounded). */
export function execCommand(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return startCommand(cmd, args, opts).result;
}

/** Like {@link execCommand}, but throws with the output when the command fails. */
export async function mustRun(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await execCommand(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (code ${r.code}, signal ${r.signal}${r.timedOut ? ', timed out' : ''}):\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

export { findOnPath } from './helpers';

/**
 * This environment without npm's run-script variables (npm_*), NODE_OPTIONS
 * and the like, so a nested npm behaves as it would in a fresh shell.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|NODE_OPTIONS$|NODE_PATH$|INIT_CWD$|PREBUILDS_ONLY$|VITEST|TSINIT_|TINI_|DUMB_INIT_)/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * A folder holding only `node`, `npm`, `npx` and `sh` (plus `extra` tools):
 * as PATH it leaves no compiler, make or python reachable, as in a slim image.
 * `node` is the Node running the tests, so the versions script covers this too.
 */
export function slimBin(dir: string, extra: readonly string[] = []): string {
  mkdirSync(dir, { recursive: true });
  const tools: Array<[string, string | undefined]> = [
    ['node', process.execPath],
    ['npm', findOnPath('npm')],
    ['npx', findOnPath('npx')],
    ['sh', '/bin/sh'],
    ...extra.map((t): [string, string | undefined] => [t, findOnPath(t)]),
  ];
  for (const [name, target] of tools) {
    if (target === undefined) throw new Error(`${name} is not on PATH`);
    symlinkSync(target, path.join(dir, name));
  }
  return dir;
}

/** What `npm pack --json` reports for one package. */
export interface PackInfo {
  filename: string;
  version: string;
  files: Array<{ path: string; size: number; mode: number }>;
}

/** A package packed as for a release. */
export interface Packed {
  /** Temporary folder holding everything (remove with {@link Packed.remove}). */
  tmp: string;
  /** The staged copy of the project the tarball was packed from. */
  stage: string;
  /** Path of the .tgz. */
  tarball: string;
  /** `npm pack --dry-run --json` of the staged copy: what the tarball holds. */
  info: PackInfo;
  remove(): void;
}

/**
 * Copies the files `npm pack` would ship (without any prebuilds/ already in
 * the project), builds the prebuilds for `arches` there with
 * scripts/build/prebuild.sh, and packs it. Scripts are ignored while packing: dist/
 * is the one the project already built (`npm ci` runs the prepare script).
 */
export async function packForRelease(arches: ReadonlyArray<'x64' | 'arm64'> = ['x64']): Promise<Packed> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsinit-pack-'));
  const remove = (): void => rmSync(tmp, { recursive: true, force: true });
  try {
    const env = cleanEnv();
    const listed = await mustRun('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, env });
    const files = (JSON.parse(listed.stdout) as PackInfo[])[0]!.files;
    const stage = path.join(tmp, 'stage');
    for (const f of files) {
      if (f.path.startsWith('prebuilds/')) continue;
      mkdirSync(path.dirname(path.join(stage, f.path)), { recursive: true });
      cpSync(path.join(ROOT, f.path), path.join(stage, f.path));
    }
    mkdirSync(path.join(stage, 'scripts', 'build'), { recursive: true });
    // prebuild.sh and the zig fetcher it builds the launcher with (zig's cache is under node_modules).
    for (const f of ['prebuild.sh', 'check-musl.mjs']) cpSync(path.join(ROOT, 'scripts', 'build', f), path.join(stage, 'scripts', 'build', f));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));
    await mustRun('bash', [path.join(stage, 'scripts', 'build', 'prebuild.sh'), ...arches], { cwd: stage, env, timeoutMs: 240_000 });
    const dry = await mustRun('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: stage, env });
    const info = (JSON.parse(dry.stdout) as PackInfo[])[0]!;
    const out = path.join(tmp, 'out');
    mkdirSync(out);
    const packed = await mustRun('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: stage, env });
    const real = (JSON.parse(packed.stdout) as PackInfo[])[0]!;
    return { tmp, stage, tarball: path.join(out, real.filename), info, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
