/**
 * PID 1 must not fall over: a burst of 2,000 signals, SIGUSR1 (the Node
 * inspector's trigger, during bootstrap too), closed stdout/stderr; tsinit
 * never writes to stdout; and idle means idle (no wakeups).
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, run, sleep, start, type Running } from '../support/helpers';
import { contextSwitches, fixture, listeningPorts, recorded } from '../support/fixtures/util';
import { MODES } from '../support/modes';

afterEach(killAll);

let sigrec: string;
beforeAll(() => {
  sigrec = fixture('sigrec');
});

async function startRecorder(args: string[], sigrecArgs: string[], opts: Parameters<typeof start>[1] = {}): Promise<{ h: Running; pid: number }> {
  const h = start([...args, '--', sigrec, '-T', '40', ...sigrecArgs], opts);
  await h.waitFor(/^ready 0 /m);
  return { h, pid: await h.tsinitPid() };
}

async function waitRecorded(h: Running, signum: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!recorded(h.stdout()).includes(signum)) {
    if (Date.now() > end) throw new Error(`signal ${signum} not recorded; stdout:\n${h.stdout()}\nstderr:\n${h.stderr()}`);
    await sleep(5);
  }
}

describe('a burst of 2,000 signals', () => {
  it.each(MODES)('tsinit survives, the child gets them, the exit status is right, %s', async ({ pid1 }) => {
    const { h, pid } = await startRecorder([], ['-s', '-x', '15', '-e', '7'], { pid1, timeoutMs: 40_000 });
    const standard = [1, 10, 12, 28];
    const realtime = Array.from({ length: 31 }, (_, i) => 34 + i);
    const kinds = [...standard, ...realtime];
    const sent = new Map<number, number>();
    for (let i = 0; i < 2000; i++) {
      const s = kinds[i % kinds.length]!;
      process.kill(pid, s);
      sent.set(s, (sent.get(s) ?? 0) + 1);
    }
    // Every kind arrives (standard signals may merge, real-time ones queue).
    for (const s of kinds) await waitRecorded(h, s, 20_000);
    // Real-time signals queue, each one must arrive. Wait until they all did, or until
    // none has arrived for 3 s, before SIGTERM (delivered ahead of queued real-time
    // signals, it would end the child with some still on their way).
    const rtSent = realtime.reduce((n, s) => n + sent.get(s)!, 0);
    const rtCount = (): number => recorded(h.stdout()).filter((s) => s >= 34).length;
    for (let last = -1, since = Date.now(); rtCount() < rtSent && Date.now() - since < 3000; await sleep(20)) {
      const n = rtCount();
      if (n !== last) { last = n; since = Date.now(); }
    }
    process.kill(pid, 'SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(7);
    const rtGot = recorded(r.stdout).filter((s) => s >= 34).length;
    expect(rtGot, `${rtGot} of ${rtSent} real-time signals arrived`).toBe(rtSent);
  }, 60_000);
});

describe('SIGUSR1 and the Node inspector', () => {
  it('SIGUSR1 to tsinit opens no inspector and reaches the child', async () => {
    const { h, pid } = await startRecorder([], ['-s', '-x', '15', '-e', '0']);
    for (let i = 0; i < 3; i++) {
      process.kill(pid, 'SIGUSR1');
      await sleep(100);
    }
    await waitRecorded(h, 10);
    await sleep(300); // the inspector, if started, listens within milliseconds
    expect(listeningPorts(pid)).toEqual([]);
    process.kill(pid, 'SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/debugger|inspector/i);
  });

  it('SIGUSR1 during bootstrap (a signal every millisecond from the first instant) leaves no inspector open', async () => {
    // -r USR1:0: tsinit handles every SIGUSR1 but forwards none, so the child (whose state is
    // default until it blocks signals) cannot die of one and end the test early.
    const h = start(['-r', 'USR1:0', '--', sigrec, '-s', '-x', '15', '-e', '0', '-T', '40']);
    // Find tsinit's pid as early as possible (the unshare's first child).
    const unshare = h.proc.pid!;
    let pid = 0;
    for (const end = Date.now() + 10_000; pid === 0 && Date.now() < end;) {
      try {
        pid = Number(readFileSync(`/proc/${unshare}/task/${unshare}/children`, 'utf8').trim().split(' ')[0]) || 0;
      } catch { /* not yet */ }
      if (pid === 0) await new Promise((r) => setImmediate(r));
    }
    expect(pid).toBeGreaterThan(0);
    const isReady = (): boolean => /^ready 0 /m.test(h.stdout());
    // Keep firing through the shell wrapper, Node's bootstrap and tsinit's start-up,
    // until well after the child is running.
    let after = 0;
    for (const end = Date.now() + 15_000; Date.now() < end;) {
      try { process.kill(pid, 'SIGUSR1'); } catch { break; }
      if (isReady() && ++after > 200) break;
      await sleep(1);
    }
    expect(isReady()).toBe(true);
    await sleep(300);
    expect(listeningPorts(pid)).toEqual([]);
    process.kill(pid, 'SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(0); // tsinit survived the storm and the child's status came through
  });
});

describe('PID 1 never dies of its own errors', () => {
  it('stderr closed (2>&-) with -vvv: the child runs, signals are forwarded, its status propagates', async () => {
    const { h, pid } = await startRecorder(['-vvv'], ['-x', '12', '-e', '9'], { wrap: ['sh', '-c', 'exec "$@" 2>&-', 'sh'] });
    process.kill(pid, 'SIGHUP');
    await waitRecorded(h, 1);
    process.kill(pid, 'SIGUSR2');
    const r = await h.result;
    expect(r.code).toBe(9);
  });

  it('stdout closed (>&-): the child runs and its status propagates', async () => {
    const r = await run(['-vvv', '--', 'sh', '-c', 'echo lost 2>/dev/null; exit 6'], { wrap: ['sh', '-c', 'exec "$@" >&-', 'sh'] });
    expect(r.code).toBe(6);
  });

  it.each(MODES)('stdin, stdout and stderr all closed: the status still propagates, %s', async ({ pid1 }) => {
    const r = await run(['-vvv', '--', 'sh', '-c', 'exit 5'], { pid1, wrap: ['sh', '-c', 'exec "$@" <&- >&- 2>&-', 'sh'] });
    expect(r.code).toBe(5);
  });
});

describe('stdout belongs to the child', () => {
  it('tsinit writes nothing to stdout, even at -vvv through forwarding, escalation, drain and errors', async () => {
    const quiet = await run(['-vvv', '-w', '--', 'sh', '-c', '(sleep 0.1 &); sleep 0.3; exit 0']);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).not.toBe(''); // -vvv did say things, on stderr

    const { h, pid } = await startRecorder(['-vvv', '-t', '0.3'], ['-s']);
    process.kill(pid, 'SIGUSR2');
    await waitRecorded(h, 12);
    process.kill(pid, 'SIGTERM');
    const r = await h.result;
    expect(r.code).toBe(137);
    expect(r.stdout.split('\n').filter((l) => l !== '' && !/^(ready|sig) /.test(l))).toEqual([]);

    const missing = await run(['-vvv', '--', 'no-such-program-4711']);
    expect(missing.code).toBe(127);
    expect(missing.stdout).toBe('');
  });
});

describe('idle means idle', () => {
  it('over 2 s of a sleeping child, tsinit is not woken (context switches of all its threads stay ~0)', async () => {
    const h = start(['--', 'sh', '-c', 'echo started; exec sleep 30']);
    await h.waitFor(/started/);
    const pid = await h.tsinitPid();
    await sleep(1500); // let start-up settle (one-shot start-up checks run in the first second)
    const before = contextSwitches(pid);
    await sleep(2000);
    const after = contextSwitches(pid);
    // A once-a-second timer (tini's) would show at least 2 here.
    expect(after - before).toBeLessThanOrEqual(1);
    h.kill('SIGTERM');
    expect((await h.result).code).toBe(143);
  });
});
