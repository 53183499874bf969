/**
 * Reaping: as PID 1 no zombie stays in the namespace (10,000 orphans
 * included); when not PID 1, tsinit registers as a child subreaper by itself
 * (or with -s) and reaps what is reparented to it. Zombies are counted from
 * inside, in /proc, by test/support/fixtures/orphans.c or a shell.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, run } from '../support/helpers';
import { fixture, matches } from '../support/fixtures/util';
import { MODES } from '../support/modes';

afterEach(killAll);

let orphans: string;
beforeAll(() => {
  orphans = fixture('orphans');
});

/** Counts zombies in the namespace's /proc, as a shell sees them. */
const COUNT_ZOMBIES = 'grep -l "^State:.Z" /proc/[0-9]*/status 2>/dev/null | wc -l';

describe('orphans the child leaves are reaped', () => {
  // -a: orphans counts every zombie, as PID 1 of its own namespace; else those reparented to tsinit.
  it.each(MODES)('500 orphans are all reaped, none is left a zombie, %s', async ({ pid1 }) => {
    const r = await run(['--', orphans, '500', ...(pid1 ? ['-a'] : [])], { pid1, timeoutMs: 40_000 });
    expect(r.stdout).toBe('created=500 zombies=0\n');
    expect(r.code).toBe(0);
  });
});

describe('as PID 1', () => {
  it('orphans are reaped: no zombie remains in the namespace', async () => {
    // Twenty orphans: each subshell starts a sleep and exits, leaving it to PID 1.
    const script = `i=0; while [ $i -lt 20 ]; do (sleep 0.1 &); i=$((i+1)); done; sleep 1; echo "zombies=$(${COUNT_ZOMBIES})"`;
    const r = await run(['--', 'sh', '-c', script]);
    expect(r.stdout).toBe('zombies=0\n');
    expect(r.code).toBe(0);
  });

  it('-w warns once per reaped orphan; without it, reaping is silent', async () => {
    const loud = await run(['-w', '--', orphans, '30', '-a']);
    expect(loud.stdout).toBe('created=30 zombies=0\n');
    expect(matches(loud.stderr, /^tsinit: warning: .*reaped.*$/m)).toHaveLength(30);
    const quiet = await run(['--', orphans, '30', '-a']);
    expect(quiet.stdout).toBe('created=30 zombies=0\n');
    expect(quiet.stderr).toBe('');
  });

  it('10,000 orphans are all reaped', async () => {
    const r = await run(['--', orphans, '10000', '-a'], { timeoutMs: 60_000 });
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toBe('created=10000 zombies=0\n');
    expect(r.code).toBe(0);
  }, 90_000);
});

describe('not PID 1', () => {
  /**
   * The child makes an orphan (a sleep whose parent shell exits), prints the
   * orphan's new parent and tsinit's pid, then whether the orphan is still
   * there (as a zombie) after it exited.
   */
  const ADOPTION = [
    'o=$(sh -c "sleep 0.3 >/dev/null 2>&1 & echo \\$!")',
    'p=$(cut -d" " -f4 /proc/$o/stat)',
    'echo "parent=$p tsinit=$PPID"',
    'sleep 1',
    'if [ -e /proc/$o ]; then echo "orphan-left $(cut -d" " -f3 /proc/$o/stat)"; else echo orphan-gone; fi',
  ].join('; ');

  function adopted(stdout: string): void {
    const m = /parent=(\d+) tsinit=(\d+)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    expect(stdout).toContain('orphan-gone');
  }

  it('registers as a subreaper automatically: orphans are reparented to tsinit and reaped', async () => {
    const r = await run(['--', 'sh', '-c', ADOPTION], { pid1: false });
    adopted(r.stdout);
    expect(r.code).toBe(0);
  });

  it('-s registers as a subreaper too', async () => {
    const r = await run(['-s', '--', 'sh', '-c', ADOPTION], { pid1: false });
    adopted(r.stdout);
  });

  it('TINI_SUBREAPER registers as a subreaper too, without a warning', async () => {
    const r = await run(['--', 'sh', '-c', ADOPTION], { pid1: false, env: { TINI_SUBREAPER: '1' } });
    adopted(r.stdout);
    expect(r.stderr).toBe('');
  });
});
