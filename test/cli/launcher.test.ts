/**
 * The launcher between the bin's sh lines and Node (native/launch.c,
 * build/Release/tsinit-launch) is invisible to the child: it gets the
 * caller's LD_PRELOAD exactly (a value, set-but-empty, unset) and none of
 * the launcher's variables. Without a usable launcher beside the local build
 * (missing, not executable, a package path LD_PRELOAD cannot carry), tsinit
 * starts Node directly, as before; through node_modules/.bin's symlink the
 * launcher is found.
 *
 * Whether the launcher ran is read from PID 1's environment at exec
 * (/proc/PID/environ keeps __TSINIT_BLOCKED, which the addon's constructor
 * removes from the live environment).
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inNamespace, killAll, ROOT, run, startBounded } from '../support/helpers';
import { MODES } from '../support/modes';
import { fixture } from '../support/fixtures/util';
import { SIGHUP } from '../../src/signals';

afterEach(killAll);

/**
 * The child prints its environment, a separator, then whether its parent
 * (tsinit) was started by the launcher.
 */
const SHOW = ['sh', '-c', 'env; echo ---; if tr "\\0" "\\n" < /proc/$PPID/environ | grep -q "^__TSINIT_BLOCKED="; then echo launched; else echo direct; fi'];

interface Shown { preload: string | undefined; privates: string[]; launched: boolean }

function parse(stdout: string): Shown {
  const [env = '', how = ''] = stdout.split('---\n');
  const lines = env.split('\n');
  const preload = lines.filter((l) => l.startsWith('LD_PRELOAD='));
  expect(preload.length, 'one LD_PRELOAD at most').toBeLessThanOrEqual(1);
  return {
    preload: preload[0]?.slice('LD_PRELOAD='.length),
    privates: lines.filter((l) => l.startsWith('__TSINIT_')),
    launched: how.trim() === 'launched',
  };
}

/** A shared library every process here already maps (harmless to preload): this Node's C library. */
const LIBC = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5] ?? '').find((f) => /\/libc[.-][^/]*so/.test(f))!;

describe('the child sees nothing of the launcher', () => {
  const cases: Array<{ how: string; preload: string | undefined }> = [
    { how: 'unset', preload: undefined },
    { how: 'set but empty', preload: '' },
    { how: 'a library', preload: LIBC },
  ];
  for (const c of cases) {
    it.each(MODES)(`the caller's LD_PRELOAD (${c.how}) reaches the child exactly, with no __TSINIT_ variable, %s`, async ({ pid1 }) => {
      const r = await run(['--', ...SHOW], { pid1, env: { LD_PRELOAD: c.preload } });
      expect(r.code, r.stderr).toBe(0);
      const shown = parse(r.stdout);
      expect(shown.launched, 'tsinit was started by the launcher').toBe(true);
      expect(shown.preload).toBe(c.preload);
      expect(shown.privates).toEqual([]);
    });
  }
});

describe('the sh lines under each shell a base image may have as /bin/sh', () => {
  const shells: Array<[string, string[]]> = [['bash', ['bash']],
    ...(existsSync('/bin/busybox') || existsSync('/usr/bin/busybox') ? [['BusyBox sh', ['busybox', 'sh']] as [string, string[]]] : [])];
  it.each(shells)('%s finds the launcher too, and the child sees nothing of it', async (_name, wrap) => {
    const r = await run(['--', ...SHOW], { wrap, env: { LD_PRELOAD: '' } });
    expect(r.code, r.stderr).toBe(0);
    const shown = parse(r.stdout);
    expect(shown.launched).toBe(true);
    expect(shown.preload).toBe('');
    expect(shown.privates).toEqual([]);
  });
});

describe('which Node start the sh lines choose', () => {
  let dir: string;
  /** A copy of the package (bin, dist, package.json, the local build) under `where`, with or without the launcher. */
  function copyPackage(where: string, launcher: boolean): string {
    const pkg = path.join(dir, where);
    for (const p of ['bin', 'dist', 'package.json']) cpSync(path.join(ROOT, p), path.join(pkg, p), { recursive: true });
    mkdirSync(path.join(pkg, 'build', 'Release'), { recursive: true });
    const files = launcher ? ['tsinit.node', 'tsinit-launch'] : ['tsinit.node'];
    for (const f of files) cpSync(path.join(ROOT, 'build', 'Release', f), path.join(pkg, 'build', 'Release', f));
    return pkg;
  }
  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'tsinit-launcher-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function runBin(bin: string, pid1: boolean, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string; shown: Shown }> {
    const inner = [bin, '--', ...SHOW];
    const [cmd, argv] = pid1 ? inNamespace(inner) : [inner[0]!, inner.slice(1)];
    const r = await startBounded(cmd, argv, { env, timeoutMs: 10_000 }).result;
    return { code: r.code, stderr: r.stderr, shown: parse(r.stdout) };
  }

  it.each(MODES)('a package without build/Release/tsinit-launch starts Node directly, as before, and runs the child, %s', async ({ pid1 }) => {
    const pkg = copyPackage(`no-launcher-${pid1}`, false);
    const r = await runBin(path.join(pkg, 'bin', 'tsinit'), pid1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.shown.launched).toBe(false);
    expect(r.shown.privates).toEqual([]);
  });

  it('a launcher that is not executable is not used', async () => {
    const pkg = copyPackage('not-executable', true);
    chmodSync(path.join(pkg, 'build', 'Release', 'tsinit-launch'), 0o644);
    const r = await runBin(path.join(pkg, 'bin', 'tsinit'), true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.shown.launched).toBe(false);
  });

  it.skipIf(process.arch !== 'x64')('the launcher beside the addon tsinit will load: the local build\'s, with PREBUILDS_ONLY the prebuild\'s, on musl (LIBC=musl) none', async () => {
    const pkg = copyPackage('with-prebuild', true);
    const pre = path.join(pkg, 'prebuilds', 'linux-x64');
    mkdirSync(pre, { recursive: true });
    // This machine's build stands in for the shipped ones (the pack test runs those).
    cpSync(path.join(ROOT, 'build', 'Release', 'tsinit.node'), path.join(pre, 'tsinit.glibc.node'));
    cpSync(path.join(ROOT, 'build', 'Release', 'tsinit.node'), path.join(pre, 'tsinit.musl.node')); // what LIBC=musl loads
    cpSync(path.join(ROOT, 'build', 'Release', 'tsinit-launch'), path.join(pre, 'tsinit-launch'));
    const pid1Preload = ['sh', '-c', 'tr "\\0" "\\n" < /proc/$PPID/environ | grep "^LD_PRELOAD=" || echo none'];
    const preloadOf = async (env: NodeJS.ProcessEnv): Promise<string> => {
      const r = await startBounded(...inNamespace([path.join(pkg, 'bin', 'tsinit'), '--', ...pid1Preload]), { env, timeoutMs: 10_000 }).result;
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const base = { ...process.env, LIBC: undefined, PREBUILDS_ONLY: undefined };
    expect(await preloadOf(base)).toBe(`LD_PRELOAD=${pkg}/bin/../build/Release/tsinit.node`);
    expect(await preloadOf({ ...base, PREBUILDS_ONLY: '1' })).toBe(`LD_PRELOAD=${pkg}/bin/../prebuilds/linux-x64/tsinit.glibc.node`);
    expect(await preloadOf({ ...base, PREBUILDS_ONLY: '1', LIBC: 'musl' })).toBe('none');
    // No launcher beside the prebuild: Node directly.
    rmSync(path.join(pre, 'tsinit-launch'));
    expect(await preloadOf({ ...base, PREBUILDS_ONLY: '1' })).toBe('none');
  });

  it('a package path LD_PRELOAD cannot carry (a space in it) starts Node directly', async () => {
    const pkg = copyPackage('with space', true);
    const r = await runBin(path.join(pkg, 'bin', 'tsinit'), true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.shown.launched).toBe(false);
  });

  it('started through node_modules/.bin\'s symlink, and by a relative path, the package\'s launcher is used', async () => {
    copyPackage(path.join('app', 'node_modules', 'node-tsinit'), true);
    const binDir = path.join(dir, 'app', 'node_modules', '.bin');
    mkdirSync(binDir, { recursive: true });
    symlinkSync('../node-tsinit/bin/tsinit', path.join(binDir, 'tsinit'));
    const viaLink = await runBin(path.join(binDir, 'tsinit'), true);
    expect(viaLink.code, viaLink.stderr).toBe(0);
    expect(viaLink.shown.launched).toBe(true);
    const relative = await startBounded('node_modules/.bin/tsinit', ['--', ...SHOW], { cwd: path.join(dir, 'app'), timeoutMs: 10_000 }).result;
    expect(relative.code, relative.stderr).toBe(0);
    expect(parse(relative.stdout).launched).toBe(true);
  });
});

describe('the launcher on its own', () => {
  const LAUNCHER = path.join(ROOT, 'build', 'Release', 'tsinit-launch');
  const ADDON = path.join(ROOT, 'build', 'Release', 'tsinit.node');

  it('a NODE it cannot execute: one line naming it and why, status 127', async () => {
    const missing = path.join(os.tmpdir(), 'tsinit-no-such-node');
    const r = await startBounded(LAUNCHER, [ADDON, missing, '-e', '0'], { timeoutMs: 10_000 }).result;
    expect(r.stderr).toBe(`tsinit: cannot run ${missing}: No such file or directory\n`);
    expect(r.code).toBe(127);
  });

  it('execs NODE with ARGS (argv[0] the path given); a signal pending across the exec reaches the addon\'s recorder', async () => {
    // SIGHUP blocked by runwith, raised by the shell: pending when the launcher runs.
    const js = 'const a = require(process.argv[1]); console.log(JSON.stringify({ argv0: process.argv0, rec: a.takeRecordedSignals() }))';
    const r = await startBounded(fixture('runwith'), ['-b', String(SIGHUP), '--', 'sh', '-c', 'kill -HUP $$; exec "$@"', 'sh',
      LAUNCHER, ADDON, process.execPath, '-e', js, ADDON], { timeoutMs: 10_000 }).result;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ argv0: process.execPath, rec: [SIGHUP] });
  });
});
