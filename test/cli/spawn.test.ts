/**
 * How tsinit starts PROGRAM: PATH lookup like execvp, its own process group,
 * a clean signal state and no stray file descriptors whatever state tsinit
 * inherited, the environment passed on exactly (NODE_OPTIONS included, which
 * must not touch tsinit itself), and no child at all on bad usage.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchedNodeBin, hasDisableSigusr1, killAll, run, start, STDIO_ONLY } from '../support/helpers';
import { fixture, listeningPorts, tempDir } from '../support/fixtures/util';
import { MODES } from '../support/modes';

afterEach(killAll);

/** A Node with process.execve and --disable-sigusr1, for the newer re-exec path. */
const NODE22_VERSION = '22.23.5';
const NODE22 = fetchedNodeBin(NODE22_VERSION);

/** Is `cmd` an executable on PATH? (BusyBox is optional here: apt-get install busybox.) */
function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d || '.', cmd)));
}

let dir: string;
let runwith: string;
beforeAll(() => {
  dir = tempDir();
  runwith = fixture('runwith');
});

/**
 * A child that prints its own SigBlk, SigIgn and SigCgt lines, read by the
 * shell itself with builtins before it ever forks: a reader run as the
 * shell's child (`grep ... /proc/$$/status`) can see the mask dash sets
 * around its own fork and wait, not the one the child started with.
 */
const SHOW_SIGNALS = ['sh', '-c', 'while read -r k v; do case $k in SigBlk:|SigIgn:|SigCgt:) echo "$k $v";; esac; done < /proc/$$/status'];

function sigLines(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stdout.matchAll(/^(Sig\w+):\s+([0-9a-f]+)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

const ZERO = '0000000000000000';

describe('the child\'s signal state', () => {
  it('the reader shows the shell\'s own state: an empty mask in 30 runs of 30 outside tsinit', () => {
    // Started clean by this test, the shell's mask is empty; a reader that ran
    // as the shell's child saw dash's fork-time mask in about half the runs.
    const masks = Array.from({ length: 30 }, () => sigLines(execFileSync(SHOW_SIGNALS[0]!, SHOW_SIGNALS.slice(1), { encoding: 'utf8' }))['SigBlk']);
    expect(new Set(masks)).toEqual(new Set([ZERO]));
  });

  it('child starts with an empty signal mask and every disposition default', async () => {
    const r = await run(['--', ...SHOW_SIGNALS]);
    expect(r.code).toBe(0);
    const s = sigLines(r.stdout);
    expect(s['SigBlk']).toBe(ZERO);
    expect(s['SigIgn']).toBe(ZERO);
  });

  it('child starts clean even when tsinit was started with signals ignored (sh trap "" HUP INT and RT signals)', async () => {
    // A wrapper shell ignores HUP, INT, QUIT, PIPE, TERM and three real-time signals, then execs tsinit.
    const r = await run(['--', ...SHOW_SIGNALS], {
      wrap: ['sh', '-c', 'trap "" HUP INT QUIT PIPE TERM 34 40 64; exec "$@"', 'sh'],
    });
    expect(r.code).toBe(0);
    const s = sigLines(r.stdout);
    expect(s['SigIgn']).toBe(ZERO);
    expect(s['SigBlk']).toBe(ZERO);
  });

  it.each(MODES)('child starts clean even when tsinit was started with signals ignored and blocked, %s', async ({ pid1 }) => {
    const r = await run(['--', ...SHOW_SIGNALS], {
      pid1,
      wrap: [runwith, '-i', '1,2,3,13,15,20,21,22,28,34,50,64', '-b', '1,2,10,12,14,15,17,18,20,35,49,64', '--'],
    });
    expect(r.code).toBe(0);
    const s = sigLines(r.stdout);
    expect(s['SigIgn']).toBe(ZERO);
    expect(s['SigBlk']).toBe(ZERO);
  });
});

describe('the child\'s file descriptors', () => {
  // The shell lists its own fds without opening anything itself (ls runs as its child,
  // `; true` keeps the shell from exec'ing ls in its place).
  const SHOW_FDS = ['sh', '-c', 'ls /proc/$$/fd; true'];

  // Inherited descriptors are passed on (test/cli/inherited-fds.test.ts): none here, so none of Node's may show.
  it.each(MODES)('child has no fds beyond 0, 1, 2 when tsinit inherited none, %s', async ({ pid1 }) => {
    const r = await run(['--', ...SHOW_FDS], { pid1, wrap: STDIO_ONLY });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['0', '1', '2']);
  });

  it('child inherits tsinit\'s stdin, stdout and stderr', async () => {
    const r = await run(['--', 'sh', '-c', 'cat; echo to-stderr >&2'], { input: 'through-stdin\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('through-stdin\n');
    expect(r.stderr).toBe('to-stderr\n');
  });
});

describe('the child\'s process group and parent', () => {
  /** pid, pgid, ppid of the child shell, and the children of PID 1 in the namespace. */
  const SHOW_IDS = ['sh', '-c', 'set -- $(cut -d" " -f4,5 /proc/$$/stat); echo "pid=$$ ppid=$1 pgid=$2"'];

  it.each(MODES)('child is in its own process group (pgid == pid), not tsinit\'s, and tsinit is its parent, %s', async ({ pid1 }) => {
    const h = start(['--', ...SHOW_IDS], { pid1 });
    const r = await h.result;
    const m = /pid=(\d+) ppid=(\d+) pgid=(\d+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(m![3]).toBe(m![1]);
    // tsinit as the child sees it: 1 in the namespace, else its host pid (a group leader of its own: the harness made it one).
    const tsinit = pid1 ? 1 : h.proc.pid;
    expect(Number(m![2])).toBe(tsinit);
    expect(Number(m![3])).not.toBe(tsinit);
  });

  it('PROGRAM is tsinit\'s only direct child', async () => {
    const r = await run(['--', 'sh', '-c', 'echo "self=$$ children=$(cat /proc/1/task/1/children)"']);
    const m = /self=(\d+) children=(.*)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(m![2]!.trim()).toBe(m![1]);
  });
});

describe('PROGRAM and its arguments', () => {
  it('PROGRAM is resolved through PATH like execvp, skipping a non-executable match', async () => {
    const a = path.join(dir, 'path-a');
    const b = path.join(dir, 'path-b');
    mkdirSync(a, { recursive: true });
    mkdirSync(b, { recursive: true });
    writeFileSync(path.join(a, 'mytool'), '#!/bin/sh\necho from-a\n');
    chmodSync(path.join(a, 'mytool'), 0o644); // found first, but not executable
    writeFileSync(path.join(b, 'mytool'), '#!/bin/sh\necho "from-b $*"\n');
    chmodSync(path.join(b, 'mytool'), 0o755);
    const r = await run(['--', 'mytool', 'x'], { env: { PATH: `${a}:${b}:/usr/bin:/bin` } });
    expect(r.stdout).toBe('from-b x\n');
    expect(r.code).toBe(0);
  });

  it('a PROGRAM with a slash is not looked up in PATH', async () => {
    const r = await run(['--', 'bin/sh', '-c', 'exit 0'], { env: { PATH: '/usr/bin:/bin' } });
    expect(r.code).toBe(127);
  });

  it('arguments reach PROGRAM verbatim: spaces, empty ones, ones that look like options', async () => {
    const r = await run(['--', 'printf', '[%s]', 'a b', '', '-v', '--', '--grace=1', '*']);
    expect(r.stdout).toBe('[a b][][-v][--][--grace=1][*]');
  });

  it('options stop at the first non-option: `tsinit sh -c ...` needs no --', async () => {
    const r = await run(['sh', '-c', 'echo "$0 $1"', '-v', '--help']);
    expect(r.stdout).toBe('-v --help\n');
    expect(r.code).toBe(0);
  });

  it('the environment reaches the child, without tsinit\'s private variables', async () => {
    const r = await run(['--', 'sh', '-c', 'echo "FOO=$FOO"; env | grep -c "^__TSINIT" || true'], {
      env: { FOO: 'bar baz' },
    });
    expect(r.stdout).toBe('FOO=bar baz\n0\n');
  });
});

describe('NODE_OPTIONS is for the child, not for tsinit', () => {
  /** A child shell that says whether NODE_OPTIONS is set and what it holds. */
  const SHOW_NODE_OPTIONS = ['sh', '-c', 'if [ -n "${NODE_OPTIONS+x}" ]; then echo "set:[$NODE_OPTIONS]"; else echo unset; fi'];
  const ways: { how: string; wrap: string[] | undefined }[] = [
    { how: 'through /bin/sh', wrap: undefined },
    { how: 'as `node bin/tsinit` (no /bin/sh)', wrap: ['node'] },
    // bin/tsinit's shell lines under the other shells a base image may have as
    // /bin/sh: bash (e.g. UBI) and BusyBox's ash (Alpine).
    { how: 'through bash', wrap: ['bash'] },
    ...(onPath('busybox') ? [{ how: 'through BusyBox sh (as on Alpine)', wrap: ['busybox', 'sh'] }] : []),
    // Node >= 22.15 re-executes with process.execve (the addon's execve before).
    ...(NODE22.bin ? [{ how: `as \`node bin/tsinit\` on Node ${NODE22_VERSION} (process.execve)`, wrap: [path.join(NODE22.bin, 'node')] }] : []),
  ];

  for (const { how, wrap } of ways) {
    it(`NODE_OPTIONS unset stays unset in the child, ${how}`, async () => {
      const r = await run(['--', ...SHOW_NODE_OPTIONS], { wrap, env: { NODE_OPTIONS: undefined } });
      expect(r.stdout).toBe('unset\n');
      expect(r.code).toBe(0);
    });

    it(`NODE_OPTIONS='' stays set-but-empty in the child, ${how}`, async () => {
      const r = await run(['--', ...SHOW_NODE_OPTIONS], { wrap, env: { NODE_OPTIONS: '' } });
      expect(r.stdout).toBe('set:[]\n');
    });

    it(`NODE_OPTIONS reaches the child byte for byte, ${how}`, async () => {
      const value = ' --max-old-space-size=200   --no-warnings ';
      const r = await run(['--', ...SHOW_NODE_OPTIONS], { wrap, env: { NODE_OPTIONS: value } });
      expect(r.stdout).toBe(`set:[${value}]\n`);
    });

    it(`NODE_OPTIONS='--require preload.js' runs the preload in the child, not in tsinit, ${how}`, async () => {
      const log = path.join(dir, `preload-${wrap ? 'node' : 'sh'}.log`);
      const preload = path.join(dir, 'preload.js');
      writeFileSync(preload, `
        const tsinit = /bin\\/tsinit$/.test(process.argv[1] || '');
        const stashed = process.env.__TSINIT_NODE_OPTIONS !== undefined;
        require('fs').appendFileSync(${JSON.stringify(log)},
          (tsinit ? 'tsinit' : 'other') + (stashed ? ' re-executed' : ' first') + '\\n');
      `);
      const nodeOptions = `--require ${preload}`;
      const r = await run(['--', 'node', '-e', 'console.log("NODE_OPTIONS=" + process.env.NODE_OPTIONS)'], {
        wrap, env: { NODE_OPTIONS: nodeOptions },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`NODE_OPTIONS=${nodeOptions}\n`);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      // The child (a Node program) ran the preload, with NODE_OPTIONS restored and nothing stashed.
      expect(lines).toContain('other first');
      // The tsinit process that supervises the child never ran it. (As `node bin/tsinit`,
      // Node itself has already run it once before tsinit re-executes in place.)
      expect(lines).not.toContain('tsinit re-executed');
      if (wrap === undefined) expect(lines.filter((l) => l.startsWith('tsinit'))).toEqual([]);
    });

    it(`NODE_OPTIONS='--inspect' opens no inspector in tsinit and reaches the child, ${how}`, async () => {
      const script = 'const u = require("inspector").url(); console.log("child-inspector=" + (u ? "on" : "off")); setTimeout(() => {}, 20000)';
      const h = start(['-t', '5', '--', 'node', '-e', script], {
        wrap, env: { NODE_OPTIONS: '--inspect=127.0.0.1:0' },
      });
      await h.waitFor(/child-inspector=(on|off)/);
      expect(h.stdout()).toContain('child-inspector=on');
      const pid = await h.tsinitPid();
      expect(listeningPorts(pid)).toEqual([]);
      h.kill('SIGTERM');
      const r = await h.result;
      expect(r.code).toBe(143);
    });
  }
});

describe('bad usage', () => {
  it.each([
    [['--bogus'], /--bogus/],
    [['-r', '15:99'], /99/],
  ])('%j: a message and a hint on stderr, exit 2, no child started', async (bad, re) => {
    const marker = path.join(dir, `usage-${bad.join('')}`.replace(/[^\w-]/g, '_'));
    const r = await run([...bad, 'touch', marker]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).toMatch(/--help/);
    expect(r.stdout).toBe('');
    expect(existsSync(marker)).toBe(false);
  });

  it('a malformed value in the environment: usage error, no child started', async () => {
    const marker = path.join(dir, 'usage-env');
    const r = await run(['touch', marker], { env: { TSINIT_GRACE: 'soon' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/TSINIT_GRACE/);
    expect(r.stderr).toMatch(/--help/);
    expect(existsSync(marker)).toBe(false);
  });

  it('missing PROGRAM: a message and a hint, nonzero exit', async () => {
    const r = await run(['-v', '--']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PROGRAM/);
    expect(r.stderr).toMatch(/--help/);
  });

  it('--help prints the usage on stdout and exits 0 without running anything', async () => {
    const r = await run(['--help'], { pid1: false });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: tsinit/);
  });

  it('--version prints the version and exits 0', async () => {
    const r = await run(['-V'], { pid1: false });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tsinit \d+\.\d+\.\d+/);
  });
});

describe('started as `node bin/tsinit` with NODE_OPTIONS, tsinit restarts itself in place', () => {
  // it.for, not it.each: only it.for hands the test its context (for skip).
  it.for<[string, string | undefined]>([
    ['the Node on PATH', undefined],
    [`Node ${NODE22_VERSION}`, NODE22.bin],
  ])('under %s: same pid (PID 1), NODE_OPTIONS stashed for the child, --disable-sigusr1 where Node has it', async ([_name, bin], ctx) => {
    if (_name !== 'the Node on PATH' && bin === undefined) ctx.skip(NODE22.why);
    const node = bin === undefined ? 'node' : path.join(bin, 'node');
    const t = start(['--', 'sh', '-c', 'echo "child=$NODE_OPTIONS"; exec sleep 5'], { wrap: [node], env: { NODE_OPTIONS: '--no-warnings' } });
    await t.waitFor(/child=/);
    const pid = await t.tsinitPid();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(/^NSpid:.*\s1$/m.test(status)).toBe(true); // still the namespace's PID 1: restarted in place
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv.includes('--disable-sigusr1')).toBe(hasDisableSigusr1(node));
    expect(argv.includes('--max-semi-space-size=1')).toBe(true); // the young generation's cap, as the sh lines give it
    expect(t.stdout()).toContain('child=--no-warnings');
    t.kill('SIGTERM');
    expect((await t.result).code).toBe(143);
  });
});
