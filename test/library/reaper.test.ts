/**
 * The reaper of the library (startReaper): it reaps orphans and never takes a
 * child that child_process, worker_threads or a Supervised waits for. Each
 * case runs a fixture in its own process, as PID 1 of a fresh PID namespace
 * or as a subreaper, with the event loop busy in blocking chunks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killNodes, runJson } from '../support/library-helpers';
import { MODES } from '../support/modes';

afterEach(killNodes);

interface LoadResult {
  pid: number;
  exits: number;
  right: number;
  wrong: unknown[];
  ms: number;
  reaped: number;
  /** Statuses of child_process children a reaper took (their codes are 1..50; orphans exit 0). */
  stolen: number;
  zombies: number;
  left: number;
  syncRuns: number;
  syncBad: unknown[];
}

const N = 50;

function expectAllKept(r: LoadResult): void {
  expect(r.wrong).toEqual([]);
  // One orphan per child, each reaped once; none of the children's own statuses taken; nothing left.
  expect({ exits: r.exits, right: r.right, reaped: r.reaped, stolen: r.stolen, zombies: r.zombies, left: r.left })
    .toEqual({ exits: N, right: N, reaped: N, stolen: 0, zombies: 0, left: 0 });
}

/** A load run: long on a loaded machine (the children alone take seconds), bounded all the same. */
const LOAD = { timeoutMs: 100_000 };
const LOAD_TEST_MS = 120_000;

describe('the exit-event guarantee under load', () => {
  /** load.cjs's last argument: make the fixture a subreaper (when it is not PID 1). */
  const subreaper = (pid1: boolean): string => (pid1 ? '0' : '1');

  it.each(MODES)('50/50 child_process exit events with the right codes, every orphan reaped, no zombie left, %s', async ({ pid1 }) => {
    const r = await runJson<LoadResult>('load.cjs', ['tsinit', 'main', '0', subreaper(pid1)], { pid1, ...LOAD });
    if (pid1) expect(r.pid).toBe(1);
    else expect(r.pid).not.toBe(1);
    expectAllKept(r);
  }, LOAD_TEST_MS);

  it.each(MODES)('children spawned from a worker thread keep 50/50 exit events, %s', async ({ pid1 }) => {
    const r = await runJson<LoadResult>('load.cjs', ['tsinit', 'worker', '0', subreaper(pid1)], { pid1, ...LOAD });
    expectAllKept(r);
  }, LOAD_TEST_MS);

  it.each(MODES)('with spawnSync and execSync in the mix, their statuses stay exact too, %s', async ({ pid1 }) => {
    const r = await runJson<LoadResult>('load.cjs', ['tsinit', 'main', '1', subreaper(pid1)], { pid1, ...LOAD });
    expectAllKept(r);
    expect(r.syncRuns).toBeGreaterThan(0);
    expect(r.syncBad).toEqual([]);
  }, LOAD_TEST_MS);

  it('control: a naive waitpid(-1) reaper under the same load steals exit events (the harness sees theft)', async () => {
    const r = await runJson<LoadResult>('load.cjs', ['naive', 'main', '0', '0'], { pid1: true, ...LOAD });
    expect(r.stolen).toBeGreaterThan(0);
    expect(r.exits).toBe(N - r.stolen); // each stolen status is an exit event that never fired
  }, LOAD_TEST_MS);
});

describe('what the reaper leaves alone', () => {
  it('never reaps a Supervised child: 20/20 exact statuses beside a running reaper under load', async () => {
    const r = await runJson<{ right: number; total: number }>('reaper-cases.cjs', ['supervised'], { pid1: false, ...LOAD });
    expect(r).toMatchObject({ right: 20, total: 20 });
  }, LOAD_TEST_MS);

  it('never reaps an excluded pid, and still reaps the others', async () => {
    const r = await runJson<{ kept: number; other: number; keptState: string; keptStatus: [number, number]; reaps: Array<{ pid: number; status: { code: number } }> }>(
      'reaper-cases.cjs', ['exclude'], { pid1: false });
    expect(r.keptState).toBe('Z'); // still there for its owner
    expect(r.keptStatus).toEqual([0, 9]); // and its owner gets the real status
    expect(r.reaps).toEqual([{ pid: r.other, status: { code: 4, signal: null, status: 4 } }]);
  });

  it('leaves a zombie alone for minZombieAgeMs before reaping it', async () => {
    const r = await runJson<{ pid: number; reapedPid: number; afterMs: number; stateAt700: string }>('reaper-cases.cjs', ['age'], { pid1: false });
    expect(r.reapedPid).toBe(r.pid);
    expect(r.stateAt700).toBe('Z');
    expect(r.afterMs).toBeGreaterThanOrEqual(1400); // minZombieAgeMs is 1500; not before (10 ms polling margin and more)
  });

  it('refuses to run in a worker thread (it would read the wrong thread\'s children)', async () => {
    const r = await runJson<{ threw: string | null }>('reaper-cases.cjs', ['worker'], { pid1: false });
    expect(r.threw).toMatch(/main thread/);
  });

  it('without a /proc of its own PID namespace, warns and reaps nothing rather than guess', async () => {
    const r = await runJson<{ code: number; reaped: number }>('reaper-cases.cjs', ['noproc'], { pid1: true, mountProc: false });
    expect(r.code).toBe(3);
    expect(r.reaped).toBe(0);
    expect(r.stderr).toMatch(/\/proc does not belong to this PID namespace/);
  });
});

describe('cost', () => {
  it('costs nothing once no child exits: the retry timer stops and the loop is not kept alive', async () => {
    const r = await runJson<{ code: number; reaped: number; switches: number }>('reaper-cases.cjs', ['idle'], { pid1: false, timeoutMs: 15_000 });
    expect(r.code).toBe(3);
    expect(r.reaped).toBe(1);
    // One wake-up for the test's own 1.5 s timer; a timer left running every 100 ms would give ~15.
    expect(r.switches).toBeLessThanOrEqual(5);
    expect(r.exit).toEqual({ code: 0, signal: null, timedOut: false }); // ended by itself: nothing kept the loop alive
  });
});
