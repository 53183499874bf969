/**
 * Signal forwarding, observed by test/support/fixtures/sigrec.c (a child that records
 * every signal it takes, real-time ones included, in every member of its
 * process group): what is forwarded, to whom, rewritten how, and what is not.
 */
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { forwardableSignals, signalName } from '../../src/signals';
import { killAll, sleep, start, type Running } from '../support/helpers';
import { fixture, matches, recorded, tempDir } from '../support/fixtures/util';
import { MODES, MODES_BY_FORWARDING } from '../support/modes';

afterEach(killAll);

let sigrec: string;
let subreap: string;
let dir: string;
beforeAll(() => {
  sigrec = fixture('sigrec');
  subreap = fixture('subreap');
  dir = tempDir();
});

/** Waits until sigrec copy `index` has recorded `signum` `times` times. */
async function waitRecorded(h: Running, signum: number, index = 0, times = 1, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (recorded(h.stdout(), index).filter((s) => s === signum).length < times) {
    if (Date.now() > end) {
      throw new Error(`copy ${index} did not record ${signalName(signum)} ${times}x; stdout:\n${h.stdout()}\nstderr:\n${h.stderr()}`);
    }
    await sleep(5);
  }
}

/** Starts tsinit ARGS -- sigrec SIGREC_ARGS and waits until all `copies` are ready. */
async function startRecorder(args: string[], sigrecArgs: string[], copies: number, opts: Parameters<typeof start>[1] = {}): Promise<{ h: Running; pid: number }> {
  const h = start([...args, '--', sigrec, '-f', String(copies), '-T', '30', ...sigrecArgs], opts);
  for (let i = 0; i < copies; i++) await h.waitFor(new RegExp(`^ready ${i} `, 'm'));
  return { h, pid: await h.tsinitPid() };
}

const TERM = 15;
const INT = 2;
const JOB_CONTROL = [20, 21, 22];

describe('every forwardable signal reaches the child\'s whole process group', () => {
  it.each(MODES)('1..64 minus KILL STOP CHLD SEGV BUS FPE ILL TRAP SYS ABRT 32 33, real-time included (job-control signals aside when not PID 1), %s', async ({ pid1 }) => {
    const copies = 3;
    const { h, pid } = await startRecorder([], ['-s', '-x', '15', '-e', '0'], copies, { pid1, timeoutMs: 40_000 });
    // Job-control signals stop a non-PID-1 tsinit itself (they are the job-control suite's business).
    const signals = forwardableSignals().filter((s) => s !== TERM && s !== INT && (pid1 || !JOB_CONTROL.includes(s)));
    for (const s of [...signals, INT]) {
      process.kill(pid, s);
      for (let i = 0; i < copies; i++) await waitRecorded(h, s, i);
    }
    process.kill(pid, TERM);
    const r = await h.result;
    for (let i = 0; i < copies; i++) {
      const got = new Set(recorded(r.stdout, i));
      const missing = [...signals, INT, TERM].filter((s) => !got.has(s)).map(signalName);
      expect(missing, `copy ${i}`).toEqual([]);
    }
    expect(r.code).toBe(0);
  });

  it('real-time signals and HUP/INT are forwarded even when tsinit was started with them ignored', async () => {
    const runwith = fixture('runwith');
    const { h, pid } = await startRecorder([], ['-x', '15', '-e', '0'], 2,
      { wrap: [runwith, '-i', '1,2,34,35,50,63,64', '--'] });
    for (const s of [1, 34, 35, 50, 63, 64, 2]) {
      process.kill(pid, s);
      await waitRecorded(h, s, 0);
      await waitRecorded(h, s, 1);
    }
    process.kill(pid, TERM);
    expect((await h.result).code).toBe(0);
  });

  it('SIGCHLD sent to tsinit is not forwarded', async () => {
    const { h, pid } = await startRecorder([], ['-x', '15', '-e', '0'], 1);
    process.kill(pid, 'SIGCHLD');
    await sleep(100);
    process.kill(pid, 'SIGUSR2'); // a later signal that is forwarded: by then CHLD would have arrived
    await waitRecorded(h, 12);
    await sleep(200);
    process.kill(pid, TERM);
    const r = await h.result;
    expect(recorded(r.stdout)).not.toContain(17);
    expect(r.code).toBe(0);
  });
});

describe('-c, --single-child', () => {
  for (const [label, args, env] of [
    ['-c', ['-c'], {}],
    ['DUMB_INIT_SETSID=0', [], { DUMB_INIT_SETSID: '0' }],
    ['TSINIT_SINGLE_CHILD=1', [], { TSINIT_SINGLE_CHILD: '1' }],
  ] as const) {
    it(`${label} forwards to the direct child only`, async () => {
      const { h, pid } = await startRecorder([...args], ['-s', '-x', '15', '-e', '0'], 2, { env: { ...env } });
      process.kill(pid, 'SIGUSR2');
      await waitRecorded(h, 12, 0);
      process.kill(pid, 40);
      await waitRecorded(h, 40, 0);
      await sleep(300);
      expect(recorded(h.stdout(), 1)).toEqual([]);
      process.kill(pid, TERM);
      const r = await h.result;
      expect(r.code).toBe(0);
    });
  }

  it.each(MODES_BY_FORWARDING)('%s, forwarding %s: SIGUSR2 and a real-time signal reach the grandchild in the child\'s group exactly when forwarding goes to the group', async (mode, forwarding) => {
    const { h, pid } = await startRecorder([...forwarding.args], ['-s', '-x', '15', '-e', '0'], 2, { pid1: mode.pid1 });
    for (const s of [12, 40]) {
      process.kill(pid, s);
      await waitRecorded(h, s, 0);
      if (forwarding.group) await waitRecorded(h, s, 1);
    }
    if (!forwarding.group) {
      await sleep(300);
      expect(recorded(h.stdout(), 1)).toEqual([]);
    }
    process.kill(pid, TERM);
    expect((await h.result).code).toBe(0);
  });
});

describe('-r, --rewrite FROM:TO', () => {
  it('rewrites names, numbers and RTMIN+n; TO=0 drops the signal', async () => {
    const { h, pid } = await startRecorder(['-r', 'USR1:USR2', '-r', 'HUP:0', '-r', 'RTMIN+1:RTMAX', '-r', '28:29'],
      ['-x', '15', '-e', '0'], 1);
    process.kill(pid, 'SIGUSR1');
    await waitRecorded(h, 12);
    process.kill(pid, 35);
    await waitRecorded(h, 64);
    process.kill(pid, 'SIGHUP');
    process.kill(pid, 'SIGWINCH');
    await waitRecorded(h, 29);
    process.kill(pid, 'SIGALRM'); // not rewritten: passes as is
    await waitRecorded(h, 14);
    await sleep(200);
    process.kill(pid, TERM);
    const r = await h.result;
    const got = recorded(r.stdout);
    expect(got).not.toContain(10);
    expect(got).not.toContain(1);
    expect(got).not.toContain(35);
    expect(got).not.toContain(28);
    expect(r.code).toBe(0);
  });

  it('-r 15:3 sends SIGQUIT in place of SIGTERM', async () => {
    const { h, pid } = await startRecorder(['-r', '15:3'], ['-x', '3', '-e', '0'], 1);
    process.kill(pid, TERM);
    const r = await h.result;
    expect(recorded(r.stdout)).toContain(3);
    expect(recorded(r.stdout)).not.toContain(15);
    expect(r.code).toBe(0);
  });

  it('TSINIT_REWRITE=15:3,2:0 drops INT and turns TERM into QUIT', async () => {
    const { h, pid } = await startRecorder([], ['-x', '3', '-e', '0'], 1, { env: { TSINIT_REWRITE: '15:3,2:0' } });
    process.kill(pid, INT);
    process.kill(pid, 'SIGUSR2');
    await waitRecorded(h, 12);
    await sleep(200);
    process.kill(pid, TERM);
    const r = await h.result;
    expect(recorded(r.stdout)).not.toContain(INT);
    expect(recorded(r.stdout)).toContain(3);
    expect(r.code).toBe(0);
  });
});

describe('SIGPIPE', () => {
  it.each(MODES)('a SIGPIPE raised by tsinit\'s own write to a closed stderr is not forwarded, `kill -PIPE` is, %s', async ({ pid1 }) => {
    const { h, pid } = await startRecorder(['-vvv'], ['-x', '15', '-e', '0'], 1, { pid1 });
    // Close the only read end of tsinit's stderr: each log line now raises SIGPIPE in tsinit.
    h.proc.stderr!.destroy();
    for (const s of [12, 10, 28]) {
      process.kill(pid, s); // forwarded, and logged at -v: a write to the broken pipe
      await waitRecorded(h, s);
    }
    await sleep(300);
    expect(recorded(h.stdout())).not.toContain(13);
    process.kill(pid, 'SIGPIPE');
    await waitRecorded(h, 13);
    process.kill(pid, TERM);
    const r = await h.result;
    expect(recorded(r.stdout).filter((s) => s === 13)).toHaveLength(1);
    expect(r.code).toBe(0);
  });
});

describe('-p, --pdeathsig', () => {
  /**
   * Runs `subreap sh -c SCRIPT sh TSINIT -p USR2 -- sigrec ...`: the shell is
   * tsinit's parent; subreap reports tsinit's exit status after it was orphaned.
   */
  async function orphanedTsinit(script: string): Promise<{ stdout: string; status: number | undefined }> {
    const ready = path.join(dir, `ready-${Date.now()}-${Math.random()}`);
    const h = start(['-p', 'USR2', '--', sigrec, '-x', '12', '-r', ready, '-T', '10'], {
      pid1: false,
      wrap: [subreap, 'sh', '-c', script.replace(/READY/g, ready), 'sh'],
      timeoutMs: 30_000,
    });
    const r = await h.result;
    const tsinitPid = /^tsinit=(\d+)$/m.exec(r.stdout)?.[1];
    const status = matches(r.stdout, /^reaped (\d+) (\d+)$/m).find((m) => m[1] === tsinitPid)?.[2];
    return { stdout: r.stdout + r.stderr, status: status === undefined ? undefined : Number(status) };
  }

  it('parent dies: tsinit receives the signal, forwards it, and exits with the child\'s status', async () => {
    // The parent waits until the child is running, then exits.
    const { stdout, status } = await orphanedTsinit('"$@" & echo "tsinit=$!"; while [ ! -e READY ]; do sleep 0.05; done; exit 0');
    expect(recorded(stdout), stdout).toContain(12);
    expect(status, stdout).toBe(128 + 12);
  });

  it('parent already gone before tsinit set it up: handled as if the signal came', async () => {
    // The parent exits as soon as tsinit has become `node`, during Node's bootstrap,
    // before tsinit could ask the kernel for the parent-death signal.
    const { stdout, status } = await orphanedTsinit(
      '"$@" & p=$!; echo "tsinit=$p"; while [ "$(cat /proc/$p/comm)" != node ]; do :; done; exit 0');
    expect(status, stdout).toBe(128 + 12);
  });
});
