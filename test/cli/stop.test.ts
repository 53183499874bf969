/**
 * Stopping: the grace period after a forwarded SIGTERM/SIGINT (a deadline,
 * then SIGKILL to the child's whole group), and the end-of-life cleanup when
 * the main child exits and other processes remain, as PID 1 and as a
 * subreaper. Time is asserted only as behaviour (not before the grace, well
 * before a long grace), with wide margins.
 */
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SIGCONT, SIGTERM } from '../../src/signals';
import { firstChildOf, killAll, sleep, start, type Running } from '../support/helpers';
import { alive, fixture, matches, recorded, tempDir } from '../support/fixtures/util';
import { MODES } from '../support/modes';

afterEach(killAll);

let sigrec: string;
let dir: string;
let seq = 0;
beforeAll(() => {
  sigrec = fixture('sigrec');
  dir = tempDir();
});

async function ready(h: Running, copies = 1): Promise<void> {
  for (let i = 0; i < copies; i++) await h.waitFor(new RegExp(`^ready ${i} `, 'm'));
}

/** Host pids from sigrec's ready lines (meaningful when tsinit is not PID 1). */
function readyPids(stdout: string): number[] {
  return matches(stdout, /^ready \d+ (\d+) \d+$/m).map((m) => Number(m[1]));
}

const TERM = SIGTERM;

/** Polls `fn` every 20 ms until it is true or `ms` pass; returns its last answer. */
async function until(fn: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!fn() && Date.now() < end) await sleep(20);
  return fn();
}

describe('grace period after a forwarded SIGTERM or SIGINT', () => {
  it.each(MODES)('a child that ignores SIGTERM gets SIGKILL after the grace, with its whole group, grandchildren too; tsinit exits 137, %s', async ({ pid1 }) => {
    const h = start(['-t', '1', '--', sigrec, '-f', '3', '-s', '-T', '30'], { pid1 });
    await ready(h, 3);
    const pids = readyPids(h.stdout());
    expect(pids).toHaveLength(3);
    const t0 = Date.now();
    h.kill('SIGTERM');
    const r = await h.result;
    const elapsed = Date.now() - t0;
    expect(r.code).toBe(137);
    // Every member of the group got SIGTERM first (and no SIGCONT: none was stopped)...
    for (const i of [0, 1, 2]) {
      expect(recorded(r.stdout, i), `copy ${i}`).toContain(TERM);
      expect(recorded(r.stdout, i), `copy ${i}`).not.toContain(SIGCONT);
    }
    // ...and SIGKILL went to the group, not before the grace and long before the 30 s default.
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/SIGKILL to process group/);
    // Not PID 1, nothing else kills them: the group's SIGKILL did (as PID 1 the pids are the namespace's).
    if (!pid1) for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });

  it.each(MODES)('a stopped child group gets SIGCONT after the forwarded SIGTERM, and acts on it, %s', async ({ pid1 }) => {
    const h = start(['-t', '20', '--', sigrec, '-f', '2', '-s', '-x', '15', '-e', '0', '-T', '30'], { pid1 });
    await ready(h, 2);
    const inner = await h.tsinitPid();
    const child = await firstChildOf(inner, 'the child'); // host pid of the group leader
    process.kill(-child, 'SIGSTOP');
    await until(() => matches(readFileSync('/proc/' + child + '/stat', 'latin1'), /\) T /).length > 0, 5000);
    h.kill('SIGTERM');
    const r = await h.result;
    // Both copies woke (a stopped process acts on nothing until continued),
    // took SIGTERM and exited 0, long before the 20 s grace's SIGKILL.
    expect(r.code).toBe(0);
    expect(recorded(r.stdout, 0)).toContain(TERM);
    expect(recorded(r.stdout, 1)).toContain(TERM);
    expect(r.stderr).not.toMatch(/SIGKILL/);
  });

  it('SIGINT starts the grace too; -t takes fractions', async () => {
    const h = start(['-t', '0.5', '--', sigrec, '-s', '-T', '30']);
    await ready(h);
    const t0 = Date.now();
    h.kill('SIGINT');
    const r = await h.result;
    const elapsed = Date.now() - t0;
    expect(recorded(r.stdout)).toContain(2);
    expect(r.code).toBe(137);
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(8_000);
  });

  it('TSINIT_GRACE sets the grace from the environment', async () => {
    const h = start(['--', sigrec, '-s', '-T', '30'], { env: { TSINIT_GRACE: '0.5' } });
    await ready(h);
    const t0 = Date.now();
    h.kill('SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(137);
    expect(Date.now() - t0).toBeLessThan(8_000);
  });

  it('-t 0 sends SIGKILL right after SIGTERM', async () => {
    const h = start(['-t', '0', '--', sigrec, '-s', '-T', '30']);
    await ready(h);
    h.kill('SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(137);
  });

  it('the grace is a deadline, not a sleep: a child that exits on SIGTERM ends tsinit at once', async () => {
    const h = start(['-t', '20', '--', 'sh', '-c', 'trap "sleep 0.2; exit 0" TERM; echo ready; while :; do sleep 0.05; done']);
    await h.waitFor(/^ready$/m);
    const t0 = Date.now();
    h.kill('SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000); // far from the 20 s grace
  });

  it('the default grace (30 s) does not SIGKILL a draining child after 2 s', async () => {
    const h = start(['--', sigrec, '-s', '-T', '30'], { pid1: false });
    await ready(h);
    const [childPid] = readyPids(h.stdout());
    h.kill('SIGTERM');
    await h.waitFor(/^sig 0 15 /m);
    await sleep(2000);
    expect(alive(childPid!)).toBe(true);
    expect(h.stderr()).not.toMatch(/SIGKILL/);
    process.kill(childPid!, 'SIGKILL'); // end it by hand
    const r = await h.result;
    expect(r.code).toBe(137);
  });
});

describe('end of life: the main child exits, others remain', () => {
  /**
   * The main child starts a leftover in its own process group and a daemon
   * (double fork + setsid), waits until both are ready, and exits 3.
   */
  function mainWithLeftovers(leftover: string, daemon: string): string[] {
    const a = path.join(dir, `left-${++seq}`);
    const b = path.join(dir, `daemon-${seq}`);
    return ['sh', '-c',
      `${leftover.replace('READY', a)} & (setsid ${daemon.replace('READY', b)} &); ` +
      `while [ ! -e ${a} ] || [ ! -e ${b} ]; do sleep 0.02; done; exit 3`];
  }
  const ignoresTerm = (): string => `${sigrec} -s -T 30 -r READY`;
  const SLOW_ON_TERM = `sh -c 'trap "sleep 0.5; echo cleaned-up; exit 0" TERM; : > READY; while :; do sleep 0.05; done'`;

  it.each(MODES)('leftovers that ignore SIGTERM get it once, then SIGKILL at the grace; tsinit exits with the main child\'s status, %s', async ({ pid1 }) => {
    const h = start(['-t', '1', '--', ...mainWithLeftovers(ignoresTerm(), ignoresTerm())], { pid1 });
    await h.waitFor(/^ready 0 .*\n(.|\n)*^ready 0 /m);
    const t0 = Date.now();
    const pids = readyPids(h.stdout());
    const r = await h.result;
    const elapsed = Date.now() - t0;
    expect(r.code).toBe(3);
    // Both got SIGTERM first, once each...
    expect(matches(r.stdout, /^sig 0 15 /m)).toHaveLength(2);
    // ...and no SIGCONT, since neither was stopped (dumb-init's own suite checks this)...
    expect(matches(r.stdout, /^sig 0 18 /m)).toHaveLength(0);
    // ...and were killed at the grace deadline, not before.
    expect(elapsed).toBeGreaterThanOrEqual(700);
    expect(elapsed).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/outlived the grace period/);
    if (!pid1) for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });

  it.each(MODES)('leftovers that handle SIGTERM get the time they need and tsinit exits as soon as they are gone, %s', async ({ pid1 }) => {
    const h = start(['-t', '20', '--', ...mainWithLeftovers(SLOW_ON_TERM, SLOW_ON_TERM)], { pid1 });
    const t0 = Date.now();
    const r = await h.result;
    expect(r.code).toBe(3);
    // Both finished their 0.5 s cleanup: tsinit waited for them (as PID 1, its exit would have killed them).
    expect(matches(r.stdout, /^cleaned-up$/m)).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(15_000); // far from the 20 s grace
    expect(r.stderr).not.toMatch(/outlived/);
  });

  it.each(MODES)('nothing left: tsinit exits at once with the child\'s status, %s', async ({ pid1 }) => {
    const t0 = Date.now();
    const r = await start(['-t', '20', '--', 'sh', '-c', 'exit 5'], { pid1 }).result;
    expect(r.code).toBe(5);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a leftover that was stopped (SIGSTOP) still gets to handle SIGTERM (SIGCONT follows it)', async () => {
    const a = path.join(dir, `stopped-${++seq}`);
    const h = start(['-t', '20', '--', 'sh', '-c',
      `sh -c 'trap "echo cleaned-up; exit 0" TERM; : > ${a}; while :; do sleep 0.05; done' & ` +
      `while [ ! -e ${a} ]; do sleep 0.02; done; kill -STOP $!; exit 4`]);
    const r = await h.result;
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('cleaned-up');
  });
});
