/**
 * Without a /proc of its own PID namespace (none mounted, or the host's, as
 * with `unshare --pid --fork` without --mount-proc) tsinit still runs,
 * forwards, escalates and reaps, says once at start-up, at the default
 * verbosity, what it cannot do, and never claims later that nothing is left.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, run, start } from '../support/helpers';

afterEach(killAll);

const WARNING = /^tsinit: warning: \/proc is missing or belongs to another PID namespace: processes left running at a stop or after the child exits cannot be listed or diagnosed/;

/** Inside the harness's namespace (own mount namespace), before tsinit starts. */
const cases = [
  { what: 'no /proc at all (an empty tmpfs over it)', prepare: 'mount -t tmpfs none /proc' },
  { what: "the host's /proc (another PID namespace's)", prepare: 'umount -l /proc' },
];

/** A wrap that prepares /proc, then execs tsinit with its args and, last, `extra` made by printf. */
function wrap(prepare: string, extra?: string): string[] {
  const tail = extra === undefined ? '' : ` "$(printf '${extra}')"`;
  return ['sh', '-c', `${prepare} && exec "$0" "$@"${tail}`];
}

describe('without a /proc of its own', () => {
  for (const { what, prepare } of cases) {
    it(`warns once at start-up at the default verbosity, and runs the child: ${what}`, async () => {
      const r = await run(['--', 'sh', '-c', 'echo ran; exit 3'], { wrap: wrap(prepare) });
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('ran\n');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(WARNING);
    });

    it(`a stop with survivors never says "nothing left" at -vv, and SIGKILL still comes: ${what}`, async () => {
      const h = start(['-vv', '-t', '2', '--', 'sh', '-c', 'trap "" TERM; echo ready; sleep 30; echo survived'], { wrap: wrap(prepare), timeoutMs: 20_000 });
      await h.waitFor(/ready/); // the trap is set
      h.kill('SIGTERM');
      const r = await h.result;
      expect(r.code).toBe(137);
      expect(r.stdout).toBe('ready\n');
      expect(r.stderr.split('\n').filter((l) => WARNING.test(l))).toHaveLength(1);
      expect(r.stderr).not.toMatch(/nothing left|cannot diagnose|killed 0/);
      expect(r.stderr).toMatch(/grace of 2 s over at \+[\d.]+ s: SIGKILL sent \(who was left is unknown without \/proc\)/);
    });
  }

  it('without /proc, bytes that are not UTF-8 fall back to U+FFFD, and -v says so', async () => {
    const child = ['--', 'sh', '-c', 'printf %s "$1" | od -An -tx1 | tr -d " \\n"; echo', 'sh'];
    const r = await run(['-v', ...child], { wrap: wrap(cases[0]!.prepare, 'a\\377b') });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('61efbfbd62\n');
    expect(r.stderr).toMatch(/bytes that are not UTF-8 in the arguments or environment reach the child as U\+FFFD/);
    // No such note when every byte was UTF-8.
    const clean = await run(['-v', ...child], { wrap: wrap(cases[0]!.prepare, 'ab') });
    expect(clean.stdout).toBe('6162\n');
    expect(clean.stderr).not.toMatch(/U\+FFFD/);
  });

  it("with the host's /proc, bytes still reach the child exactly (/proc/self is still this process)", async () => {
    const r = await run(['--', 'sh', '-c', 'printf %s "$1" | od -An -tx1 | tr -d " \\n"; echo', 'sh'], { wrap: wrap(cases[1]!.prepare, 'a\\377b') });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('61ff62\n');
  });
});
