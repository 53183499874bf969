/**
 * The incremental look at survivors (src/diagnosis/survey.ts) and its fast path
 * (quickCause: the cause from /proc/PID/stat alone), on real processes this
 * test starts in a process group of their own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { classify, quickCause, readSample, type StopContext } from '../../src/diagnosis/diagnose';
import { LISTED, Survey, type Look } from '../../src/diagnosis/survey';
import { killAll, sleep, startBounded } from '../support/helpers';

afterEach(killAll);

/** Every process whose process group is `pgid`, read from /proc. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) out.push(Number(name));
    } catch { /* gone */ }
  }
  return out;
}

/** Runs a look to its end. */
function look(ctx: StopContext, pgid: number): Promise<Look> {
  return new Promise((resolve) => { new Survey(ctx, { self: process.pid, pid1: false, pgid }, resolve); });
}

describe('quickCause', () => {
  it('decides from the stat line exactly as classify does from the full sample, and defers what it cannot tell', async () => {
    // One process of each kind, each marked by its sleep's length; "ready" once all are set up.
    const b = startBounded('sh', ['-c', `
(trap '' TERM; exec sleep 3001) &
perl -e '$SIG{TERM} = sub {}; sleep 3002 while 1' &
perl -MPOSIX -e 'sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGTERM)); kill "TERM", $$; exec "sleep", "3003"' &
sleep 3004 & kill -STOP $!
perl -e 'fork or exit 0; sleep 3005' &
setsid sleep 3006 &
sleep 3007 &
sleep 0.5; echo ready; wait`]);
    await b.waitFor(/^ready$/m, 10_000);
    const pgid = b.proc.pid!;
    const members = groupMembers(pgid);
    const contexts: StopContext[] = [
      { signal: 15, target: { kind: 'group', pgid }, self: process.pid },
      { signal: 15, target: { kind: 'all' }, self: process.pid },
    ];
    const seen = new Set<string>();
    let deferred = 0;
    for (const ctx of contexts) {
      for (const pid of [...members, ...members.flatMap((p) => childrenOf(p))]) {
        const sample = readSample(pid);
        if (sample === undefined) continue;
        const full = classify(sample, ctx);
        const quick = quickCause(sample.stat, ctx);
        if (quick === undefined) { deferred++; continue; }
        expect(quick === null ? undefined : quick.cause, `pid ${pid}: ${sample.stat}`).toBe(full?.cause);
        if (quick !== null) seen.add(quick.cause);
      }
    }
    // Every kind the stat line can decide was met; the blocked one and the plain sleeper were left to the full read.
    expect([...seen].sort()).toEqual(['handling', 'ignores', 'outside-group', 'stopped', 'zombie']);
    expect(deferred).toBeGreaterThanOrEqual(2);
  });
});

/** The children of `pid` as the kernel lists them. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

describe('a look', () => {
  it(`lists the first ${LISTED} survivors in full and counts the rest by cause`, async () => {
    const b = startBounded('sh', ['-c', "trap '' TERM; for i in $(seq 30); do sleep 1000 & done; echo ready; wait"]);
    await b.waitFor(/^ready$/m, 10_000);
    const pgid = b.proc.pid!;
    await sleep(100);
    const l = await look({ signal: 15, target: { kind: 'group', pgid } }, pgid);
    expect(l.complete).toBe(true);
    expect(l.unexamined).toBe(0);
    expect(l.count).toBe(31); // the shell and its 30 sleeps
    expect(l.live).toBe(31);
    expect(l.listed).toHaveLength(LISTED);
    expect(l.listed.map((s) => s.pid)).toEqual([...l.listed.map((s) => s.pid)].sort((x, y) => x - y));
    expect(l.listed.every((s) => s.cause === 'ignores' && /^(sh -c|sleep 1000$)/.test(s.cmd))).toBe(true);
    expect([...l.more]).toEqual([['ignores', 31 - LISTED]]);
    expect(l.outsiders).toEqual([]);
  });

  it('names the processes the signal did not reach, for the init to signal one by one', async () => {
    const b = startBounded('sh', ['-c', "trap '' TERM; setsid sleep 1001 & sleep 1002 & echo ready; wait"]);
    await b.waitFor(/^ready$/m, 10_000);
    const pgid = b.proc.pid!;
    await sleep(100);
    const l = await look({ signal: 15, target: { kind: 'group', pgid } }, pgid);
    const escaped = l.listed.find((s) => s.cmd === 'sleep 1001')!;
    expect(escaped.cause).toBe('outside-group');
    expect(l.outsiders).toEqual([{ pid: escaped.pid, starttime: escaped.starttime }]);
  });

  it('cut short, it says how much it did not examine and never calls back', async () => {
    let called = false;
    const survey = new Survey({ signal: 15, target: { kind: 'all' } }, { self: process.pid, pid1: false }, () => { called = true; });
    const l = survey.cancel();
    expect(l.complete).toBe(false);
    expect(l.unexamined).toBe(-1);
    expect(l.endedAt).toBeTypeOf('number');
    await sleep(50);
    expect(called).toBe(false);
  });
});
