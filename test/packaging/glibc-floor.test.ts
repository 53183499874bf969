/**
 * The glibc floor: the addon loads on every glibc Node 20 itself runs on
 * (2.28 and later), not only on the one it was built with, and keeps its spawn
 * guarantees where libc lacks the newer posix_spawn extensions (`*_np`). The
 * fallbacks are proven twice: here, with the internal switch
 * TSINIT_NATIVE_NO_NP=1 that hides the extensions, and for real under Debian
 * 11's glibc 2.31, which scripts/test/fetch-glibc.sh downloads (those tests skip,
 * and say so, until it has run).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inNamespace, killAll, ROOT, run, start, startBounded, TSINIT } from '../support/helpers';
import { fixture, tempDir } from '../support/fixtures/util';
import { findOnPath } from '../support/pack-helpers';
import { session } from '../support/pty-helpers';

afterEach(killAll);

/** Node 20's own floor: what the addon may need at most. */
const MAX_GLIBC = '2.28';
const MAX_GLIBCXX = '3.4.25';
const NO_NP = { TSINIT_NATIVE_NO_NP: '1', NODE_OPTIONS: undefined };

/** Compares dotted versions numerically: <0, 0, >0. */
function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The symbols an `objdump -T` listing binds to a glibc or libstdc++ version above the floor. */
function aboveFloor(listing: string): string[] {
  const out: string[] = [];
  for (const m of listing.matchAll(/\b(GLIBCXX|GLIBC)_([0-9.]+)\)?\s+(\S+)\s*$/gm)) {
    const max = m[1] === 'GLIBC' ? MAX_GLIBC : MAX_GLIBCXX;
    if (compareVersions(m[2]!, max) > 0) out.push(`${m[3]} (${m[1]}_${m[2]})`);
  }
  return out;
}

/**
 * A child that prints its signal mask and ignored set, pid and process group,
 * directory and open fds (listed by ls, its own child, so nothing of the
 * shell's own is open), then exits 7. The masks are read first, by the shell
 * itself with builtins: read by a child of the shell they can show what dash
 * blocks around its own fork and wait (fffffffe7ffbfeff), not the child's state.
 */
const SHOW_STATE = 'while read -r k v; do case $k in SigBlk:|SigIgn:) echo "$k $v";; esac; done < /proc/$$/status; ' +
  'echo "pid=$$ pgid=$(cut -d" " -f5 /proc/$$/stat)"; ' +
  'echo "cwd=$(pwd)"; echo fds:; ls /proc/$$/fd; echo end; exit 7';

interface ChildState { blk?: string; ign?: string; pid?: string; pgid?: string; cwd?: string; fds?: string[] }

function childState(stdout: string): ChildState {
  const s: ChildState = {};
  s.blk = /^SigBlk:\s+(\w+)$/m.exec(stdout)?.[1];
  s.ign = /^SigIgn:\s+(\w+)$/m.exec(stdout)?.[1];
  const ids = /^pid=(\d+) pgid=(\d+)$/m.exec(stdout);
  s.pid = ids?.[1];
  s.pgid = ids?.[2];
  s.cwd = /^cwd=(.*)$/m.exec(stdout)?.[1];
  s.fds = /^fds:\n([\s\S]*?)^end$/m.exec(stdout)?.[1]!.trim().split('\n').sort();
  return s;
}

/**
 * What every child gets, whatever libc offers: a clean signal state, its own
 * group, 0..2 and `inherited` (what tsinit itself inherited, at the same
 * numbers; a library child gets only what it is given).
 */
function expectCleanChild(stdout: string, inherited: string[] = []): ChildState {
  const s = childState(stdout);
  expect(s.blk, stdout).toBe('0000000000000000');
  expect(s.ign, stdout).toBe('0000000000000000');
  expect(s.pgid, stdout).toBe(s.pid);
  expect(s.fds, stdout).toEqual(['0', '1', '2', ...inherited].sort());
  return s;
}

/**
 * Runs what follows with fd 100 open and NOT close-on-exec (above the fds
 * Node marks close-on-exec at start-up) and no other beyond 0..2, and with
 * signals ignored and blocked: the state a careless parent hands to tsinit.
 * tsinit's child gets fd 100 (an inherited descriptor) and none of the
 * signal state; a library child started from such a Node gets neither.
 */
let dirty: string[];
beforeAll(() => {
  dirty = [fixture('runwith'), '-i', '1,3,13,15,34,64', '-b', '2,10,15,35,64', '--',
    'bash', '-c', 'for f in /proc/self/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && eval "exec $f>&-"; done; exec 100</dev/null; exec "$@"', 'bash'];
});

/** Loads the addon in a fresh Node (run through `wrap`) and reports the glibc and a native error. */
function probeAddon(env: NodeJS.ProcessEnv, wrap: readonly string[] = [process.execPath]): { glibc: string; code: string | null; errno: number } {
  const script = 'const core = require("node-gyp-build")(process.argv[1]);' +
    'let e = {}; try { core.getpgid(2147483647); } catch (err) { e = err; }' +
    'console.log(JSON.stringify({ glibc: process.report.getReport().header.glibcVersionRuntime, code: e.code ?? null, errno: e.errno }))';
  const out = execFileSync(wrap[0]!, [...wrap.slice(1), '-e', script, ROOT], { env, encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(out) as { glibc: string; code: string | null; errno: number };
}

function envWith(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/**
 * Runs `COMMAND... -- sh ...` in an interactive shell on a pty: the child must be
 * the terminal's foreground group and able to read it (a background read
 * would stop it with SIGTTIN); the length of the line it reads is its exit status.
 */
function expectForegroundOnPty(...command: string[]): void {
  const { ok, transcript } = session([
    { expect: 'PROMPT> ' },
    { send: `${command.join(' ')} -- sh -c 'echo FG $(cut -d" " -f8 /proc/$$/stat) $(cut -d" " -f5 /proc/$$/stat); read line; exit \${#line}'\n` },
    { expect: 'FG (\\d+) \\1\\b' },
    { send: 'seven!!\n', delay: 0.5 },
    { expect: 'PROMPT> ' },
    { send: 'echo EXIT=$?\n' },
    { expect: 'EXIT=7' },
  ]);
  expect(ok, transcript).toBe(true);
}

const OBJDUMP = findOnPath('objdump');

describe('the addon\'s symbol versions', () => {
  it.skipIf(OBJDUMP === undefined)(
    `the addon needs no glibc above ${MAX_GLIBC} and no libstdc++ above GLIBCXX_${MAX_GLIBCXX}` +
      (OBJDUMP === undefined ? ' (SKIPPED: objdump not installed: apt-get install binutils)' : ''),
    () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const addon = (require('node-gyp-build') as { resolve(dir: string): string }).resolve(ROOT);
      const listing = execFileSync(OBJDUMP!, ['-T', addon], { encoding: 'utf8', timeout: 30_000 });
      expect(listing).toMatch(/GLIBC_2\./); // really a glibc build: the check below cannot pass vacuously
      expect(aboveFloor(listing), addon).toEqual([]);
    });
});

describe('without the _np extensions (TSINIT_NATIVE_NO_NP=1)', () => {
  it('the state reader shows the shell\'s own mask: empty in 30 runs of 30 outside tsinit', () => {
    const masks = Array.from({ length: 30 }, () => childState(execFileSync('sh', ['-c', SHOW_STATE.replace(/exit 7$/, 'exit 0')], { encoding: 'utf8' })).blk);
    expect(new Set(masks)).toEqual(new Set(['0000000000000000']));
  });

  it('the switch hides them: a native error then carries no errno name of its own', () => {
    const hidden = probeAddon(envWith(NO_NP));
    expect(hidden).toMatchObject({ code: null, errno: 3 });
    // strerrorname_np exists from glibc 2.32: there the addon names errors itself.
    if (compareVersions(hidden.glibc, '2.32') >= 0) expect(probeAddon(envWith({ NODE_OPTIONS: undefined })).code).toBe('ESRCH');
  });

  it('child of PID 1 starts clean: default dispositions, empty mask, own group, no fd beyond 0..2 but the inherited 100; exit 7 propagates', async () => {
    const r = await run(['--', 'sh', '-c', SHOW_STATE], { env: NO_NP, wrap: dirty });
    expectCleanChild(r.stdout, ['100']);
    expect(r.code).toBe(7);
  });

  it('a library child started with a cwd (the fork path) gets that directory and starts just as clean', async () => {
    const dir = tempDir();
    const script = `const { spawn } = require(${JSON.stringify(ROOT)});
      const s = spawn('sh', ['-c', ${JSON.stringify(SHOW_STATE)}], { cwd: ${JSON.stringify(dir)} });
      s.exited.then((st) => { console.log('status=' + st.code); process.exit(0); });`;
    const b = startBounded(...inNamespace([...dirty, process.execPath, '-e', script]),
      { env: envWith(NO_NP), timeoutMs: 30_000 });
    const r = await b.result;
    const s = expectCleanChild(r.stdout);
    expect(s.cwd).toBe(dir);
    expect(r.stdout).toMatch(/^status=7$/m);
  });

  it('on a terminal the child is the foreground group and reads it (the fork path)', () => {
    expectForegroundOnPty('env -u NODE_OPTIONS TSINIT_NATIVE_NO_NP=1', TSINIT);
  });
});

/** Debian 11's glibc 2.31 and libstdc++, unpacked by scripts/test/fetch-glibc.sh. */
const BULLSEYE = path.join(ROOT, 'node_modules', '.cache', 'tsinit-glibc', 'bullseye');
const LIBC_DIR = path.join(BULLSEYE, 'lib', 'x86_64-linux-gnu');
const LOADER = path.join(LIBC_DIR, 'ld-linux-x86-64.so.2');
/** This machine's Node, run by bullseye's dynamic loader on bullseye's libraries. */
const OLD_NODE = [LOADER, '--library-path', `${LIBC_DIR}:${path.join(BULLSEYE, 'usr', 'lib', 'x86_64-linux-gnu')}`, process.execPath];

function bullseyeMissing(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs a linux-x64 host, this is ${process.platform}-${process.arch}`;
  if (!existsSync(LOADER) || !existsSync(path.join(LIBC_DIR, 'libc.so.6'))) return 'no Debian 11 glibc: run scripts/test/fetch-glibc.sh';
  return undefined;
}
const missing = bullseyeMissing();
if (missing !== undefined) console.warn(`glibc 2.31 tests skipped: ${missing}`);
const title = (t: string): string => (missing === undefined ? t : `${t} (SKIPPED: ${missing})`);

describe.skipIf(missing !== undefined)(title('under Debian 11\'s glibc 2.31'), () => {
  // NODE_OPTIONS stays unset: bin/tsinit would otherwise re-exec itself through process.execPath, the loader here.
  const env = { NODE_OPTIONS: undefined, TSINIT_NATIVE_NO_NP: undefined };

  it('Node runs on glibc 2.31, the addon loads, and libc offers none of the newer extensions', () => {
    const probe = probeAddon(envWith(env), OLD_NODE);
    expect(probe.glibc).toBe('2.31');
    // The lookup of strerrorname_np (2.32) failed: the error has no name from the addon.
    expect(probe).toMatchObject({ code: null, errno: 3 });
    const libc = readFileSync(path.join(LIBC_DIR, 'libc.so.6')).toString('latin1');
    expect(libc).toContain('posix_spawn_file_actions_addchdir_np'); // 2.29: present, so the scan below means something
    for (const name of ['posix_spawn_file_actions_addclosefrom_np', 'posix_spawn_file_actions_addtcsetpgrp_np', 'strerrorname_np']) {
      expect(libc, name).not.toContain(name);
    }
  });

  it('tsinit as PID 1 starts its child clean and propagates exit 7', async () => {
    const r = await run(['--', 'sh', '-c', SHOW_STATE], { env, wrap: [...dirty, ...OLD_NODE], timeoutMs: 30_000 });
    expectCleanChild(r.stdout, ['100']);
    expect(r.code, r.stderr).toBe(7);
  });

  it('a SIGTERM sent to tsinit as PID 1 reaches the child', async () => {
    const h = start(['--', 'sh', '-c', 'trap "echo got-TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done'],
      { env, wrap: OLD_NODE, timeoutMs: 30_000 });
    await h.waitFor(/ready/, 20_000);
    h.kill('SIGTERM');
    const r = await h.result;
    expect(r.stdout).toContain('got-TERM');
    expect(r.code).toBe(3);
  });

  it('on a terminal the child is the foreground group and reads it (the fork path, for real)', () => {
    expectForegroundOnPty('env -u NODE_OPTIONS -u TSINIT_NATIVE_NO_NP', ...OLD_NODE, TSINIT);
  });
});
