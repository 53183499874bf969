/**
 * Tight resource limits: tsinit runs (raising its own soft limit to the hard
 * one, the child getting the original soft limit back) or says in one line
 * which limit to raise and exits 1; never hangs, never a native trace.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, NOBODY, run, whyNobodyCannotRun } from '../support/helpers';
import { MODES } from '../support/modes';

afterEach(killAll);

// Every case runs as user nobody: RLIMIT_NPROC is not enforced for root.
const nobodyWhy = whyNobodyCannotRun();
if (nobodyWhy !== undefined) console.log(`skipped: ${nobodyWhy}`);
/** The child prints its own limits, without forking (it may have only its original NPROC). */
const SHOW_LIMITS = ['--', 'sh', '-c', 'exec cat /proc/self/limits; exit 9'];
const LIMIT_MS = 5000;

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d || '.', cmd)));
}

/** [soft, hard] of one line of /proc/PID/limits ("Max processes", "Max open files", "Max address space"). */
function limitOf(text: string, what: string): [string, string] | undefined {
  const m = new RegExp(`^Max ${what}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(text);
  return m === null ? undefined : [m[1]!, m[2]!];
}

const SHELLS: Array<{ how: string; wrap: string[] }> = [
  { how: 'through /bin/sh', wrap: [] },
  ...(onPath('busybox') ? [{ how: 'through BusyBox sh', wrap: ['busybox', 'sh'] }] : []),
  ...(onPath('bash') ? [{ how: 'through bash', wrap: ['bash'] }] : []),
];

describe('a soft limit too low for Node, the hard limit high enough: tsinit runs, the child gets the original soft limit', () => {
  const cases: Array<{ name: string; prlimit: string; what: string; soft: string; hard: string }> = [
    { name: 'RLIMIT_NPROC 3 (hard 64)', prlimit: '--nproc=3:64', what: 'processes', soft: '3', hard: '64' },
    { name: 'RLIMIT_NPROC 5 (hard 64)', prlimit: '--nproc=5:64', what: 'processes', soft: '5', hard: '64' },
    { name: 'RLIMIT_NOFILE 12 (hard 4096)', prlimit: '--nofile=12:4096', what: 'open files', soft: '12', hard: '4096' },
    { name: 'RLIMIT_NOFILE 16 (hard 4096)', prlimit: '--nofile=16:4096', what: 'open files', soft: '16', hard: '4096' },
    { name: 'RLIMIT_AS 256 MiB (hard unlimited)', prlimit: '--as=268435456:unlimited', what: 'address space', soft: '268435456', hard: 'unlimited' },
  ];
  for (const c of cases) {
    it.skipIf(nobodyWhy !== undefined).each(MODES)(`${c.name}, %s: the child runs with soft ${c.soft} and its status propagates, within 5 s`, async ({ pid1 }) => {
      const r = await run(SHOW_LIMITS, { pid1, wrap: [...NOBODY, 'prlimit', c.prlimit, '--'], timeoutMs: LIMIT_MS });
      expect(r.timedOut, r.stderr).toBe(false);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(limitOf(r.stdout, c.what)).toEqual([c.soft, c.hard]);
    });
  }
  for (const sh of SHELLS.slice(1)) {
    it.skipIf(nobodyWhy !== undefined)(`RLIMIT_NPROC 3 (hard 64) ${sh.how} (ulimit -u or -p, whichever the shell has)`, async () => {
      const r = await run(SHOW_LIMITS, { pid1: false, wrap: [...NOBODY, 'prlimit', '--nproc=3:64', '--', ...sh.wrap], timeoutMs: LIMIT_MS });
      expect(r.timedOut, r.stderr).toBe(false);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(limitOf(r.stdout, 'processes')).toEqual(['3', '64']);
    });
  }
  it('limits that are not raised are not touched: the child gets exactly what tsinit got', async () => {
    const r = await run(SHOW_LIMITS, { pid1: false, wrap: ['prlimit', '--nofile=777:777', '--as=4294967296:4294967296', '--'], timeoutMs: LIMIT_MS });
    expect(r.code).toBe(0);
    expect(limitOf(r.stdout, 'open files')).toEqual(['777', '777']);
    expect(limitOf(r.stdout, 'address space')).toEqual(['4294967296', '4294967296']);
  });
});

describe('a hard limit too low for Node: one line naming the limit and what to raise, exit 1, no child', () => {
  const cases: Array<{ name: string; prlimit: string; line: RegExp }> = [
    { name: 'RLIMIT_NPROC 3', prlimit: '--nproc=3:3', line: /^tsinit: RLIMIT_NPROC is 3 \(hard 3\): .*raise it \(ulimit -u, docker run --ulimit nproc=\.\.\.\)\n$/ },
    { name: 'RLIMIT_NPROC 5', prlimit: '--nproc=5:5', line: /^tsinit: RLIMIT_NPROC is 5 \(hard 5\): .*raise it/ },
    { name: 'RLIMIT_NOFILE 12', prlimit: '--nofile=12:12', line: /^tsinit: RLIMIT_NOFILE is 12 \(hard 12\): .*raise it \(ulimit -n, docker run --ulimit nofile=\.\.\.\)\n$/ },
    { name: 'RLIMIT_NOFILE 16', prlimit: '--nofile=16:16', line: /^tsinit: RLIMIT_NOFILE is 16 \(hard 16\): .*raise it/ },
    { name: 'RLIMIT_AS 256 MiB', prlimit: '--as=268435456:268435456', line: /^tsinit: RLIMIT_AS is 268435456 bytes \(hard 268435456\): .*raise it \(ulimit -v, docker run --ulimit as=\.\.\.\)\n$/ },
  ];
  for (const c of cases) {
    for (const sh of SHELLS) {
      it.skipIf(nobodyWhy !== undefined)(`${c.name} ${sh.how}: "${c.line.source.slice(1, 30)}...", exit 1 within 5 s`, async () => {
        const r = await run(['--', 'sh', '-c', 'echo child ran; exit 9'], {
          pid1: false, wrap: [...NOBODY, 'prlimit', c.prlimit, '--', ...sh.wrap], timeoutMs: LIMIT_MS,
        });
        expect(r.timedOut, r.stderr).toBe(false);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(c.line);
        expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
        expect(r.stdout).toBe('');
      });
    }
  }
});
