/**
 * Restart policies (--restart, TSINIT_RESTART, the library's supervise()):
 * Docker's syntax, its delays (100 ms doubling, reset after a 10 s run),
 * MAX and the exit status, and how a stop ends the policy. End-to-end cases
 * run tsinit as PID 1 of a fresh PID namespace; delays are measured from the
 * children's own start timestamps.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, run, start } from '../support/helpers';
import { runJson } from '../support/library-helpers';
import { tempDir } from '../support/fixtures/util';
import {
  DEFAULT_RESTART_TIMING, isFailure, nextRestartDelay, parseRestartPolicy, RestartTracker,
} from '../../src/supervise/restart';
import { exitedWith, killedBy } from '../../src/exit-status';
import { parseCommandLine, UsageError } from '../../src/init/options';

afterEach(killAll);

let dir: string;
beforeAll(() => { dir = tempDir(); });

/** A child that prints `start <ns since epoch>` and exits with `code`. */
const startsAndExits = (code: number): string[] => ['sh', '-c', `echo "start $(date +%s%N)"; exit ${code}`];

/** The ms between consecutive `start` lines. */
function gaps(stdout: string): number[] {
  const t = [...stdout.matchAll(/^start (\d+)$/gm)].map((m) => Number(BigInt(m[1]!) / 1_000_000n));
  return t.slice(1).map((v, i) => v - t[i]!);
}

describe('policy syntax and schedule (pure)', () => {
  it('parses Docker\'s forms; MAX 0 means no limit', () => {
    expect(parseRestartPolicy('no')).toEqual({ mode: 'no', max: null });
    expect(parseRestartPolicy('on-failure')).toEqual({ mode: 'on-failure', max: null });
    expect(parseRestartPolicy('on-failure:3')).toEqual({ mode: 'on-failure', max: 3 });
    expect(parseRestartPolicy('ALWAYS:5')).toEqual({ mode: 'always', max: 5 });
    expect(parseRestartPolicy('always:0')).toEqual({ mode: 'always', max: null });
    for (const bad of ['', 'yes', 'no:3', 'on-failure:', 'on-failure:-1', 'always:x', 'unless-stopped', 'always:1:2']) {
      expect(() => parseRestartPolicy(bad), bad).toThrow(/on-failure\[:MAX\]/);
    }
  });

  it('bad --restart and TSINIT_RESTART values are usage errors', () => {
    expect(() => parseCommandLine(['--restart', 'sometimes', 'x'])).toThrow(UsageError);
    expect(() => parseCommandLine(['x'], { TSINIT_RESTART: 'on-failure:a' })).toThrow(/TSINIT_RESTART/);
    expect(parseCommandLine(['--restart=always:2', 'x']).restart).toEqual({ mode: 'always', max: 2 });
    expect(parseCommandLine(['x'], { TSINIT_RESTART: 'on-failure' }).restart).toEqual({ mode: 'on-failure', max: null });
    expect(parseCommandLine(['x']).restart).toEqual({ mode: 'no', max: null });
  });

  it('delays: 100 ms, doubling, capped at 30 s, back to 100 ms after a run of 10 s', () => {
    const seq: number[] = [];
    let d = 0;
    for (let i = 0; i < 12; i++) { d = nextRestartDelay(d, 5); seq.push(d); }
    expect(seq).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
    expect(nextRestartDelay(30_000, 10_000)).toBe(100);
    expect(nextRestartDelay(30_000, 9_999)).toBe(30_000);
    expect(DEFAULT_RESTART_TIMING).toEqual({ baseMs: 100, capMs: 30_000, resetAfterMs: 10_000 });
  });

  it('on-failure: non-zero exits and deaths by signals tsinit did not send are failures', () => {
    expect(isFailure(exitedWith(0), new Set())).toBe(false);
    expect(isFailure(exitedWith(1), new Set())).toBe(true);
    expect(isFailure(killedBy(9), new Set())).toBe(true);
    expect(isFailure(killedBy(1), new Set([1]))).toBe(false);
  });

  it('MAX counts consecutive restarts; a long run resets the count', () => {
    const t = new RestartTracker(parseRestartPolicy('on-failure:2'));
    expect(t.decide(exitedWith(1), 5)).toMatchObject({ restart: true, run: 2, delayMs: 100, count: 1 });
    expect(t.decide(exitedWith(1), 5)).toMatchObject({ restart: true, run: 3, delayMs: 200, count: 2 });
    expect(t.decide(exitedWith(1), 5)).toEqual({ restart: false, reason: 'exhausted' });
    const u = new RestartTracker(parseRestartPolicy('always:2'));
    u.decide(exitedWith(0), 5);
    u.decide(exitedWith(0), 5);
    expect(u.decide(exitedWith(0), 10_000)).toMatchObject({ restart: true, delayMs: 100, count: 1 });
    u.stop();
    expect(u.decide(exitedWith(1), 5)).toEqual({ restart: false, reason: 'stopped' });
  });
});

describe('--restart as PID 1', () => {
  it('on-failure:3 restarts three times after 100, 200, 400 ms, then exits with the last status', async () => {
    const r = await run(['-v', '--restart', 'on-failure:3', '--', ...startsAndExits(3)]);
    expect(r.code).toBe(3);
    const g = gaps(r.stdout);
    expect(g).toHaveLength(3);
    // Each gap is the delay plus one shell's start-up: never shorter than the delay, and at most
    // 600 ms longer (a wide margin for a loaded 2-core machine).
    [100, 200, 400].forEach((delay, i) => {
      expect(g[i], `gap ${i}`).toBeGreaterThanOrEqual(delay - 5);
      expect(g[i], `gap ${i}`).toBeLessThan(delay + 600);
    });
    expect(r.stderr).toMatch(/run 2 starts in 100 ms \(restart 1 of 3, on-failure:3\)/);
    expect(r.stderr).toMatch(/restart policy on-failure:3 used up after 3 restart\(s\)/);
    expect(r.stderr).toMatch(/timeline: 3 restart\(s\): run 1 \(pid \d+\) exit 3/);
  });

  it('each restart is a JSON event with the run, the status and the delay; the termination message lists them', async () => {
    const log = path.join(dir, 'termination-log');
    writeFileSync(log, '');
    const r = await run(['--log-format', 'json', '-v', '--restart', 'always:2', '--', ...startsAndExits(4)],
      { env: { TSINIT_TERMINATION_LOG: log } });
    expect(r.code).toBe(4);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['event'] === 'restart' && e['level'] === 'info');
    expect(events.map((e) => [e['run'], e['status'], e['delayMs'], e['next']])).toEqual([[1, 4, 100, 2], [2, 4, 200, 3]]);
    const msg = readFileSync(log, 'utf8');
    expect(msg).toMatch(/ended: exit 4 after 2 restart\(s\); tsinit exits 4/);
    expect(msg).toMatch(/2 restart\(s\): run 1 \(pid \d+\) exit 4/);
  });

  it('on-failure does not restart a child that exits 0; no (the default) restarts nothing', async () => {
    const a = await run(['--restart', 'on-failure', '--', ...startsAndExits(0)]);
    expect(a.code).toBe(0);
    expect(gaps(a.stdout)).toHaveLength(0);
    const b = await run(['--', ...startsAndExits(5)]);
    expect(b.code).toBe(5);
    expect(gaps(b.stdout)).toHaveLength(0);
  });

  it('TSINIT_RESTART sets the policy from the environment', async () => {
    const r = await run(['--', ...startsAndExits(1)], { env: { TSINIT_RESTART: 'on-failure:1' } });
    expect(r.code).toBe(1);
    expect(gaps(r.stdout)).toHaveLength(1);
  });

  it('no restart after a stop: a child that exits 1 on SIGTERM is not started again', async () => {
    const h = start(['-v', '--restart', 'always', '--', 'sh', '-c', 'trap "exit 1" TERM; echo "start $(date +%s%N)"; while :; do sleep 0.05; done']);
    await h.waitFor(/^start \d+$/m);
    h.kill('SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(1);
    expect(gaps(r.stdout)).toHaveLength(0);
    expect(r.stderr).not.toMatch(/starts in/);
  });

  it('a signal rewritten into TERM is a stop too: no restart after it', async () => {
    const h = start(['-v', '-r', 'SIGQUIT:SIGTERM', '--restart', 'always', '--', 'sh', '-c', 'trap "exit 0" TERM; echo "start $(date +%s%N)"; while :; do sleep 0.05; done']);
    await h.waitFor(/^start \d+$/m);
    h.kill('SIGQUIT');
    const r = await h.result;
    expect(r.code).toBe(0);
    expect(gaps(r.stdout)).toHaveLength(0);
  });

  it('on-failure: a child killed by a signal tsinit forwarded is not a failure', async () => {
    const h = start(['--restart', 'on-failure', '--', 'sh', '-c', 'echo "start $(date +%s%N)"; exec sleep 30']);
    await h.waitFor(/^start \d+$/m);
    h.kill('SIGHUP'); // forwarded; sleep dies of it
    const r = await h.result;
    expect(r.code).toBe(129);
    expect(gaps(r.stdout)).toHaveLength(0);
  });

  it('what a run leaves behind keeps running across the restart and is drained when tsinit ends', async () => {
    const r = await run(['-v', '-t', '2', '--restart', 'on-failure:1', '--', 'sh', '-c', 'sleep 30 & echo "start $(date +%s%N)"; exit 1']);
    expect(r.code).toBe(1);
    expect(gaps(r.stdout)).toHaveLength(1);
    // Both runs' background sleeps were still there at the end: run 1's survived the restart.
    expect(r.stderr).toMatch(/child exited, 2 other process\(es\) left: sent SIGTERM/);
  });

  it('signals tsinit receives are forwarded to the current run\'s process group only, not to what an earlier run left behind', async () => {
    // Run 1 leaves a process in its own group (a background subshell that reports
    // USR1) and exits 1; run 2 reports USR1 too, and exits 0 a moment after it.
    const mark = path.join(tempDir(), 'ran-once');
    const script = `if [ -e "${mark}" ]; then trap 'echo "run 2 got USR1"; sleep 0.5; exit 0' USR1; echo "run 2 ready $$"; while :; do sleep 0.05; done; fi; ` +
      `: > "${mark}"; (trap 'echo "leftover got USR1"' USR1; echo "leftover ready"; while :; do sleep 0.05; done) & sleep 0.2; exit 1`;
    const h = start(['-v', '-t', '2', '--restart', 'on-failure', '--', 'sh', '-c', script]);
    await h.waitFor(/^leftover ready$/m);
    await h.waitFor(/^run 2 ready \d+$/m);
    h.kill('SIGUSR1');
    await h.waitFor(/^run 2 got USR1$/m);
    const r = await h.result;
    expect(r.code, r.stderr).toBe(0); // run 2's own status; on-failure does not restart it
    expect(r.stdout).not.toMatch(/leftover got USR1/);
    // The leftover was still there to receive it: the drain at the end found it.
    expect(r.stderr).toMatch(/child exited, \d+ other process\(es\) left: sent SIGTERM/);
  });

  it('a stop while waiting to restart exits at once with 128+N', async () => {
    const h = start(['-v', '--restart', 'on-failure', '--', ...startsAndExits(1)]);
    await h.waitFor(/run 6 starts in 1600 ms/);
    const t0 = Date.now();
    h.kill('SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(143);
    expect(Date.now() - t0).toBeLessThan(1200); // well before the 1.6 s delay ends... and no fifth run
    expect(gaps(r.stdout)).toHaveLength(4);
    expect(r.stderr).toMatch(/received SIGTERM while waiting to restart the child: not restarting/);
  });

  it('-e applies to the status after a stop while waiting', async () => {
    const h = start(['-v', '-e', '130', '--restart', 'on-failure', '--', ...startsAndExits(1)]);
    await h.waitFor(/run 2 starts in 100 ms/);
    await h.waitFor(/run 6 starts in 1600 ms/);
    h.kill('SIGINT');
    expect((await h.result).code).toBe(0);
  });

  it('a run of 10 s resets the delay to 100 ms (slow: one real 10 s run)', async () => {
    const counter = path.join(dir, 'runs');
    writeFileSync(counter, '0');
    // Runs 1 and 2 fail at once, run 3 fails after 10.3 s, run 4 fails at once, run 5 succeeds.
    const script = `n=$(($(cat ${counter}) + 1)); echo $n > ${counter}; echo "start $(date +%s%N)";` +
      'case $n in 3) sleep 10.3; exit 1;; 5) exit 0;; *) exit 1;; esac';
    const r = await run(['--log-format', 'json', '-v', '--restart', 'on-failure', '--', 'sh', '-c', script], { timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    const delays = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['event'] === 'restart').map((e) => e['delayMs']);
    expect(delays).toEqual([100, 200, 100, 200]);
    const g = gaps(r.stdout);
    expect(g[2]).toBeGreaterThanOrEqual(10_300 + 95);
    expect(g[3]).toBeLessThan(600);
  }, 40_000);
});

describe('library: supervise() with a restart policy', () => {
  it("emits 'restart' for each restart and resolves 'finished' with the last status", async () => {
    const r = await runJson<{ restarts: Array<{ run: number; status: number; delayMs: number }>; spawns: number[]; finished: number; state: string }>(
      'restart.cjs', ['supervise']);
    expect(r.restarts).toEqual([{ run: 1, status: 3, delayMs: 100 }, { run: 2, status: 3, delayMs: 200 }]);
    expect(r.spawns).toEqual([1, 2, 3]);
    expect(r.finished).toBe(3);
    expect(r.state).toBe('exited');
  });

  it('a program that cannot start: no throw, finished rejects with ENOENT and error is emitted', async () => {
    const r = await runJson<{ code: string; event: string; state: string }>('restart.cjs', ['missing'], { pid1: false });
    expect(r).toMatchObject({ code: 'ENOENT', event: 'ENOENT', state: 'exited' });
  });

  it('stop() during the wait ends the service at once with the last status, and no run follows', async () => {
    const r = await runJson<{ spawns: number[]; finished: number; ms: number }>('restart.cjs', ['stop-waiting']);
    expect(r.spawns).toEqual([1]);
    expect(r.finished).toBe(1);
    expect(r.ms).toBeLessThan(500);
  });
});

describe('library: superviseAll() — several services, one stop, per-service policies', () => {
  it('restarts a failing service by its own policy; a stop reaches all with one deadline; the first service decides', async () => {
    const counter = path.join(dir, 'group-runs');
    writeFileSync(counter, '0');
    const r = await runJson<{ name: string; status: number; stopped: boolean; restarts: Array<[string, number, number]>;
      exits: Record<string, { status: number; after: number }>; deadlineAfter: number }>('restart.cjs', ['group', counter]);
    expect(r.restarts).toEqual([['flaky', 1, 100], ['flaky', 2, 200]]);
    expect(r.stopped).toBe(true);
    expect(r.name).toBe('stubborn');
    expect(r.status).toBe(137);
    expect(r.exits['flaky']!.status).toBe(143);
    expect(r.exits['quick']!.status).toBe(143);
    expect(r.exits['stubborn']!.after).toBeGreaterThanOrEqual(450);
    expect(r.exits['stubborn']!.after).toBeLessThan(3000);
    expect(r.deadlineAfter).toBeLessThanOrEqual(510);
  });
});
